"""An Okta tenant built from a test case's resources, so Okta playbooks are tested as data like GitHub ones.

Each resource is written as the condition sees it (`id`, `data`, `related`); the builder fills in the fields the
tenant format and the simulator need (a user's profile, a policy's name and type, a token's owner) and turns the
`related` facts back into what the connector derives them from: `related.roles` / `related.factors` of a user
into its role assignments and factors, `related.owner_roles` of an API token into role assignments of its
owner, `related.policy` of a policy rule into the policy that holds it, `related.app` of an OAuth grant into the
app it was granted to. The case then runs through simulator, connector and engine as a tenant file would.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mendflow.errors import MendflowError
from mendflow.playbooks.documents import merged
from mendflow.playbooks.model import FragmentResource

JSON = dict[str, Any]


class OktaTenant:
    """The `okta` section of a mendflow.tenant/v1 document, grown one case resource at a time."""

    def __init__(self, as_of: datetime) -> None:
        self.when = as_of.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        self.users: dict[str, JSON] = {}
        self.user_roles: dict[str, list[JSON]] = {}
        self.user_factors: dict[str, list[JSON]] = {}
        self.groups: list[JSON] = []
        self.policies: dict[str, JSON] = {}
        self.api_tokens: list[JSON] = []
        self.apps: list[JSON] = []
        self.grants: list[JSON] = []
        self._roles = 0

    def add(self, resource_type: str, resource: FragmentResource) -> None:
        adders: dict[str, Callable[[str, FragmentResource], None]] = {
            "okta.user": self._add_user,
            "okta.group": self._add_group,
            "okta.policy": self._add_policy,
            "okta.policy_rule": self._add_rule,
            "okta.api_token": self._add_token,
            "okta.app": self._add_app,
            "okta.oauth_grant": self._add_grant,
        }
        if resource_type not in adders:
            raise MendflowError(f"no tenant builder for {resource_type}; use 'tenant_file'")
        adders[resource_type](resource.id.rstrip("/").rsplit("/", 1)[-1], resource)

    def section(self) -> JSON:
        return {
            "users": list(self.users.values()),
            "user_roles": self.user_roles,
            "user_factors": self.user_factors,
            "groups": self.groups,
            "policies": list(self.policies.values()),
            "api_tokens": self.api_tokens,
            "apps": self.apps,
            "grants": self.grants,
        }

    # ---- people -------------------------------------------------------------------------------------------------
    def _user(self, user_id: str, data: JSON | None = None) -> JSON:
        user = self.users.get(user_id)
        if user is None:
            login = f"{user_id.lower()}@acme.example"
            user = self.users[user_id] = {
                "id": user_id,
                "status": "ACTIVE",
                "created": "2024-01-01T00:00:00.000Z",
                "activated": "2024-01-01T00:00:00.000Z",
                "statusChanged": "2024-01-01T00:00:00.000Z",
                "lastLogin": self.when,
                "lastUpdated": self.when,
                "passwordChanged": "2024-01-01T00:00:00.000Z",
                "type": {"id": "oty1simdefault000000"},
                "profile": {"firstName": user_id, "lastName": "Example", "login": login, "email": login},
                "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
            }
        if data:
            self.users[user_id] = merged(user, data)
        return self.users[user_id]

    def _add_user(self, user_id: str, resource: FragmentResource) -> None:
        self._user(user_id, resource.data)
        roles = resource.related.get("roles")
        if roles:
            self.user_roles[user_id] = [self._role(role) for role in roles]
        factors = resource.related.get("factors")
        if factors is not None:
            self.user_factors[user_id] = [_factor(user_id, index, f) for index, f in enumerate(factors, 1)]

    def _role(self, given: JSON | str) -> JSON:
        self._roles += 1
        role = {"type": given} if isinstance(given, str) else given
        return merged(
            {
                "id": f"ra{self._roles:017d}sim",
                "label": str(role.get("type", "")).replace("_", " ").title(),
                "status": "ACTIVE",
                "assignmentType": "USER",
                "created": "2024-06-01T09:00:00.000Z",
                "lastUpdated": "2024-06-01T09:00:00.000Z",
            },
            role,
        )

    def _add_group(self, group_id: str, resource: FragmentResource) -> None:
        group = {
            "id": group_id,
            "created": "2024-01-05T08:00:00.000Z",
            "lastUpdated": "2024-01-05T08:00:00.000Z",
            "lastMembershipUpdated": "2024-01-05T08:00:00.000Z",
            "objectClass": ["okta:user_group"],
            "type": "OKTA_GROUP",
            "profile": {"name": group_id, "description": ""},
        }
        self.groups.append(merged(group, resource.data))

    # ---- policies -----------------------------------------------------------------------------------------------
    def _policy(self, policy_id: str, data: JSON) -> JSON:
        base = self.policies.get(policy_id) or {
            "id": policy_id,
            "type": "OKTA_SIGN_ON",
            "name": f"Policy {policy_id}",
            "status": "ACTIVE",
            "priority": 1,
            "system": False,
            "created": "2024-01-02T00:00:00.000Z",
            "lastUpdated": "2024-01-02T00:00:00.000Z",
            "_rules": [],
        }
        self.policies[policy_id] = merged(base, data)
        return self.policies[policy_id]

    def _add_policy(self, policy_id: str, resource: FragmentResource) -> None:
        self._policy(policy_id, resource.data)

    def _add_rule(self, rule_id: str, resource: FragmentResource) -> None:
        policy_id = resource.id.strip("/").split("/")[3]
        summary = {k: v for k, v in resource.related.get("policy", {}).items() if k != "id"}
        policy = self._policy(policy_id, summary)
        rule = {
            "id": rule_id,
            "name": f"Rule {rule_id}",
            "type": "SIGN_ON" if policy["type"] == "OKTA_SIGN_ON" else policy["type"],
            "status": "ACTIVE",
            "priority": len(policy["_rules"]) + 1,
            "system": False,
            "created": "2024-01-02T00:00:00.000Z",
            "lastUpdated": "2024-01-02T00:00:00.000Z",
        }
        policy["_rules"].append(merged(rule, resource.data))

    # ---- tokens and apps ----------------------------------------------------------------------------------------
    def _add_token(self, token_id: str, resource: FragmentResource) -> None:
        token = merged(
            {
                "id": token_id,
                "name": f"token-{token_id}",
                "clientName": "Okta API",
                "userId": f"00u{token_id}owner",
                "created": "2026-01-01T00:00:00.000Z",
                "lastUpdated": "2026-01-01T00:00:00.000Z",
                "expiresAt": "2027-06-01T00:00:00.000Z",
                "network": {"connection": "ANYWHERE"},
            },
            resource.data,
        )
        self.api_tokens.append(token)
        owner = str(token["userId"])
        self._user(owner)
        owner_roles = resource.related.get("owner_roles")
        if owner_roles:
            self.user_roles[owner] = [self._role(kind) for kind in owner_roles]

    def _add_grant(self, grant_id: str, resource: FragmentResource) -> None:
        """A grant of the app its id names (`/api/v1/apps/{appId}/grants/{id}`); `related.app` describes the app,
        an OAuth client unless it says otherwise."""
        app_id = resource.id.strip("/").split("/")[3]
        if not any(app.get("id") == app_id for app in self.apps):
            summary = {k: v for k, v in (resource.related.get("app") or {}).items() if k != "id"}
            self._add_app(
                app_id, FragmentResource(id=f"/api/v1/apps/{app_id}", data={"signOnMode": "OPENID_CONNECT", **summary})
            )
        grant = {
            "id": grant_id,
            "status": "ACTIVE",
            "issuer": "https://acme.okta.com",
            "scopeId": "okta.users.read",
            "clientId": app_id,
            "source": "ADMIN",
            "created": "2026-01-01T00:00:00.000Z",
            "lastUpdated": "2026-01-01T00:00:00.000Z",
            "createdBy": {"id": "00uadmin", "type": "User"},
        }
        self.grants.append(merged(grant, {**resource.data, "id": grant_id, "clientId": app_id}))

    def _add_app(self, app_id: str, resource: FragmentResource) -> None:
        app = {
            "id": app_id,
            "name": f"app_{app_id}",
            "label": f"App {app_id}",
            "status": "ACTIVE",
            "signOnMode": "SAML_2_0",
            "created": "2024-03-01T12:00:00.000Z",
            "lastUpdated": "2024-03-01T12:00:00.000Z",
            "features": [],
            "accessibility": {"selfService": False},
            "visibility": {"autoSubmitToolbar": False, "hide": {"iOS": False, "web": False}, "appLinks": {}},
        }
        self.apps.append(merged(app, resource.data))


def _factor(user_id: str, index: int, given: JSON) -> JSON:
    return merged(
        {
            "id": f"opf{user_id[-8:]}{index:04d}",
            "factorType": "push",
            "provider": "OKTA",
            "vendorName": "OKTA",
            "status": "ACTIVE",
            "created": "2025-02-01T10:00:00.000Z",
            "lastUpdated": "2025-02-01T10:00:00.000Z",
            "profile": {},
        },
        given,
    )
