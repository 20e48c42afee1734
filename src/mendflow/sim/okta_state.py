"""The mutable state behind the Okta simulator: one tenant file's `okta` section and the rules for changing it.

Stored objects keep the tenant file's shape (policies carry their `_rules`); `okta_shapes.public` produces what the
API serves. Every method reads or changes the state the way Okta would and raises `OktaError` with Okta's status,
error code and summary.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from mendflow.sim.common import JSON
from mendflow.sim.okta_responses import ResponseWrites
from mendflow.sim.okta_shapes import POLICY_TYPES, OktaError, invalid, not_found, replaced

LIFECYCLE: dict[str, tuple[tuple[str, ...], str]] = {
    # operation: (statuses it applies to, status afterwards)
    "suspend": (("ACTIVE",), "SUSPENDED"),
    "unsuspend": (("SUSPENDED",), "ACTIVE"),
    "deactivate": (("STAGED", "PROVISIONED", "ACTIVE", "RECOVERY", "LOCKED_OUT", "PASSWORD_EXPIRED", "SUSPENDED",
                    "DEPROVISIONED"), "DEPROVISIONED"),
    "activate": (("STAGED", "PROVISIONED", "DEPROVISIONED"), "PROVISIONED"),
}  # fmt: skip


class OktaState(ResponseWrites):
    """One Okta org's state; every method either reads or changes it the way Okta would (the writes response
    workflows make — sessions, tokens, group members, role assignments, app lifecycle, System Log — are in
    `ResponseWrites`)."""

    def __init__(self, section: JSON, *, clock: Callable[[], float] = time.time) -> None:
        data = copy.deepcopy(section)
        self.clock = clock
        self.users: list[JSON] = data.get("users", [])
        self.user_roles: dict[str, list[JSON]] = data.get("user_roles", {})
        self.user_factors: dict[str, list[JSON]] = data.get("user_factors", {})
        self.groups: list[JSON] = data.get("groups", [])
        self.policies: list[JSON] = data.get("policies", [])
        self.api_tokens: list[JSON] = data.get("api_tokens", [])
        self.apps: list[JSON] = data.get("apps", [])
        self.grants: list[JSON] = data.get("grants", [])
        self.group_members: dict[str, list[str]] = data.get("group_members", {})
        self.sessions: dict[str, int] = data.get("sessions", {})
        self.refresh_tokens: list[JSON] = data.get("refresh_tokens", [])
        self.log_events: list[JSON] = data.get("log_events", [])
        for policy in self.policies:
            policy.setdefault("_rules", [])
        self._by_id = {user["id"]: user for user in self.users}
        self._by_login = {str((user.get("profile") or {}).get("login", "")).casefold(): user for user in self.users}

    def now(self) -> str:
        seconds = self.clock()
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds * 1000) % 1000:03d}Z"

    # ---- users ---------------------------------------------------------------------------------------------
    def user(self, id_or_login: str) -> JSON:
        found: JSON | None = self._by_id.get(id_or_login) or self._by_login.get(id_or_login.casefold())
        if found is None:
            raise not_found(id_or_login, "User")
        return found

    def users_view(self, predicate: Any, *, include_deprovisioned: bool) -> list[JSON]:
        """Okta lists every user but DEPROVISIONED ones unless a filter or search asks for them."""
        if predicate is not None:
            return [u for u in self.users if predicate(u)]
        if include_deprovisioned:
            return self.users
        return [u for u in self.users if u.get("status") != "DEPROVISIONED"]

    def lifecycle(self, user_id: str, operation: str) -> JSON:
        user = self.user(user_id)
        allowed, after = LIFECYCLE[operation]
        status = user.get("status")
        if operation == "activate" and status == "ACTIVE":
            raise OktaError(403, "E0000016", "Activation failed because the user is already active")
        if status not in allowed:
            raise invalid("status", f"Cannot {operation} a user whose status is {status}")
        now = self.now()
        user["status"] = after
        user["statusChanged"] = now
        user["lastUpdated"] = now
        return user

    def roles(self, user_id: str) -> list[JSON]:
        return self.user_roles.get(self.user(user_id)["id"], [])

    def factors(self, user_id: str) -> list[JSON]:
        return self.user_factors.get(self.user(user_id)["id"], [])

    def role_assignees(self) -> list[JSON]:
        return [u for u in self.users if self.user_roles.get(u["id"])]

    # ---- policies and rules ------------------------------------------------------------------------------------
    def policies_of(self, kind: str | None, status: str | None) -> list[JSON]:
        if not kind:
            raise invalid("type", "The field cannot be left blank")
        if kind not in POLICY_TYPES:
            raise invalid("type", f"Invalid policy type: {kind}")
        return [p for p in self.policies if p.get("type") == kind and (not status or p.get("status") == status)]

    def policy(self, policy_id: str) -> JSON:
        for policy in self.policies:
            if policy.get("id") == policy_id:
                return policy
        raise not_found(policy_id, "Policy")

    def replace_policy(self, policy_id: str, body: JSON) -> JSON:
        policy = self.policy(policy_id)
        self._check_replacement(policy, body, "Policy")
        updated = replaced(policy, body, now=self.now())
        self.policies[self.policies.index(policy)] = updated
        return updated

    def rule(self, policy_id: str, rule_id: str) -> JSON:
        rules: list[JSON] = self.policy(policy_id)["_rules"]
        for rule in rules:
            if rule.get("id") == rule_id:
                return rule
        raise not_found(rule_id, "PolicyRule")

    def replace_rule(self, policy_id: str, rule_id: str, body: JSON) -> JSON:
        rule = self.rule(policy_id, rule_id)
        self._check_replacement(rule, body, "PolicyRule")
        rules = self.policy(policy_id)["_rules"]
        updated = replaced(rule, body, now=self.now())
        rules[rules.index(rule)] = updated
        return updated

    @staticmethod
    def _check_replacement(stored: JSON, body: JSON, kind: str) -> None:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid("name", "The field cannot be left blank")
        if body.get("type", stored.get("type")) != stored.get("type"):
            raise invalid("type", f"{kind} type cannot be changed")
        if body.get("status", "ACTIVE") not in ("ACTIVE", "INACTIVE"):
            raise invalid("status", "Does not match required pattern")
        for section in ("settings", "conditions", "actions"):
            if section in body and body[section] is not None and not isinstance(body[section], dict):
                raise invalid(section, "Must be an object")

    # ---- API tokens, apps, groups, grants ------------------------------------------------------------------------
    def api_token(self, token_id: str) -> JSON:
        for token in self.api_tokens:
            if token.get("id") == token_id:
                return token
        raise not_found(token_id, "ApiToken")

    def revoke_api_token(self, token_id: str) -> None:
        self.api_tokens.remove(self.api_token(token_id))

    def upsert_api_token(self, token_id: str, body: JSON) -> JSON:
        token = self.api_token(token_id)
        if "name" in body and (not isinstance(body["name"], str) or not body["name"].strip()):
            raise invalid("name", "The field cannot be left blank")
        network = body.get("network")
        if network is not None:
            if not isinstance(network, dict) or network.get("connection") not in ("ANYWHERE", "ZONE"):
                raise invalid("network.connection", "Must be ANYWHERE or ZONE")
            token["network"] = copy.deepcopy(network)
        if "name" in body:
            token["name"] = body["name"]
        token["lastUpdated"] = self.now()
        return token

    def app(self, app_id: str) -> JSON:
        for app in self.apps:
            if app.get("id") == app_id:
                return app
        raise not_found(app_id, "AppInstance")

    def group(self, group_id: str) -> JSON:
        for group in self.groups:
            if group.get("id") == group_id:
                return group
        raise not_found(group_id, "UserGroup")

    def user_grants(self, user_id: str) -> list[JSON]:
        uid = self.user(user_id)["id"]
        return [g for g in self.grants if g.get("userId") == uid]

    def app_grants(self, app_id: str) -> list[JSON]:
        found = self.app(app_id)["id"]
        return [g for g in self.grants if g.get("clientId") == found]

    def app_grant(self, app_id: str, grant_id: str) -> JSON:
        for grant in self.app_grants(app_id):
            if grant.get("id") == grant_id:
                return grant
        raise not_found(grant_id, "OAuth2ScopeConsentGrant")

    def revoke_app_grant(self, app_id: str, grant_id: str) -> None:
        self.grants.remove(self.app_grant(app_id, grant_id))

    def revoke_user_grant(self, user_id: str, grant_id: str) -> None:
        for grant in self.user_grants(user_id):
            if grant.get("id") == grant_id:
                self.grants.remove(grant)
                return
        raise not_found(grant_id, "OAuth2ScopeConsentGrant")
