"""The `okta` section of a mendflow.tenant/v1 file: what the Okta connector needs to address objects.

Every vendor field is kept (`VendorObject`); only ids and the fields objects are found by are required.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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
