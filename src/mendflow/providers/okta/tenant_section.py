"""The `okta` section of a mendflow.tenant/v1 file: what the Okta connector needs to address objects.

Every vendor field is kept (`VendorObject`); only ids and the fields objects are found by are required.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mendflow.providers.model import JSON, dicts
from mendflow.tenant import VendorObject


class OktaObject(VendorObject):
    id: str


class OktaUser(OktaObject):
    status: str
    profile: dict[str, Any]


class OktaPolicyRule(OktaObject):
    name: str
    type: str


class OktaPolicy(OktaObject):
    name: str
    type: str
    rules: list[OktaPolicyRule] = Field(default_factory=list, alias="_rules")


class OktaApiToken(OktaObject):
    name: str


class OktaApp(OktaObject):
    label: str
    signOnMode: str


class OktaSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: list[OktaUser] = Field(default_factory=list)
    user_roles: dict[str, list[VendorObject]] = Field(default_factory=dict)
    """User id → role-assignment objects (`GET /api/v1/users/{id}/roles`)."""
    user_factors: dict[str, list[OktaObject]] = Field(default_factory=dict)
    """User id → factor objects (`GET /api/v1/users/{id}/factors`)."""
    groups: list[OktaObject] = Field(default_factory=list)
    policies: list[OktaPolicy] = Field(default_factory=list)
    api_tokens: list[OktaApiToken] = Field(default_factory=list)
    apps: list[OktaApp] = Field(default_factory=list)
    grants: list[OktaObject] = Field(default_factory=list)
    """OAuth 2.0 scope-consent grants (`/api/v1/users/{id}/grants`, `/api/v1/apps/{id}/grants`): a simulator
    extension of tenant format v1, optional."""
    group_members: dict[str, list[str]] = Field(default_factory=dict)
    """Group id → member user ids (`/api/v1/groups/{id}/users`, `/api/v1/users/{id}/groups`); optional."""
    sessions: dict[str, int] = Field(default_factory=dict)
    """User id → open sign-in sessions. Okta serves no read of them; the simulator counts them so tests can see
    `DELETE /api/v1/users/{id}/sessions` work. Optional."""
    refresh_tokens: list[OktaObject] = Field(default_factory=list)
    """OAuth 2.0 refresh tokens with `userId` and `clientId` (`/api/v1/users/{id}/clients/{clientId}/tokens`)."""
    log_events: list[VendorObject] = Field(default_factory=list)
    """System Log events (`GET /api/v1/logs`), oldest first; the simulator appends one per response write."""


def objects(section: JSON, resource_type: str) -> Iterator[tuple[str, JSON]]:
    """(resource id, vendor object) of every object of `resource_type` in the section, in file order, with the
    ids the collector gives them (`Provider.objects`)."""
    listed = {
        "okta.user": ("users", "/api/v1/users"),
        "okta.group": ("groups", "/api/v1/groups"),
        "okta.policy": ("policies", "/api/v1/policies"),
        "okta.api_token": ("api_tokens", "/api/v1/api-tokens"),
        "okta.app": ("apps", "/api/v1/apps"),
    }
    if resource_type in listed:
        key, base = listed[resource_type]
        for item in dicts(section.get(key)):
            if resource_type == "okta.user" and item.get("status") == "DEPROVISIONED":
                continue  # GET /api/v1/users leaves deprovisioned users out, so no scan ever sees them
            yield f"{base}/{item.get('id')}", item
    elif resource_type == "okta.policy_rule":
        for policy in dicts(section.get("policies")):
            for rule in dicts(policy.get("_rules")):
                yield f"/api/v1/policies/{policy.get('id')}/rules/{rule.get('id')}", rule
    elif resource_type == "okta.oauth_grant":
        oauth = {a.get("id") for a in dicts(section.get("apps")) if a.get("signOnMode") == "OPENID_CONNECT"}
        for grant in dicts(section.get("grants")):
            if grant.get("clientId") in oauth:  # what the connector reads: OAuth apps' grants
                yield f"/api/v1/apps/{grant.get('clientId')}/grants/{grant.get('id')}", grant
