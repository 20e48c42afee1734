"""The Okta simulator's state for what response workflows do: clear sessions, revoke a user's OAuth grants and
refresh tokens, remove and add group members, unassign and assign admin roles, (de)activate apps, and the System
Log those writes leave behind (`GET /api/v1/logs`).

A mixin of `OktaState`: it uses the state's collections and lookups (`user`, `group`, `app`, `now`).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mendflow.sim.common import JSON
from mendflow.sim.okta_shapes import OktaError, invalid, not_found

_assignment_ids = itertools.count(1)
ROLE_TYPES = ("SUPER_ADMIN", "ORG_ADMIN", "APP_ADMIN", "USER_ADMIN", "HELP_DESK_ADMIN", "READ_ONLY_ADMIN",
              "MOBILE_ADMIN", "API_ACCESS_MANAGEMENT_ADMIN", "REPORT_ADMIN", "GROUP_MEMBERSHIP_ADMIN")  # fmt: skip
ROLE_LABELS = {kind: kind.replace("_", " ").title().replace("Api", "API") for kind in ROLE_TYPES}
APP_LIFECYCLE = {"activate": ("INACTIVE", "ACTIVE"), "deactivate": ("ACTIVE", "INACTIVE")}


class ResponseWrites:
    """Reads and writes of response workflows, Okta's way; each write appends a System Log event."""

    users: list[JSON]
    user_roles: dict[str, list[JSON]]
    grants: list[JSON]
    groups: list[JSON]
    group_members: dict[str, list[str]]
    sessions: dict[str, int]
    refresh_tokens: list[JSON]
    log_events: list[JSON]
    now: Callable[[], str]
    user: Callable[[str], JSON]
    group: Callable[[str], JSON]
    app: Callable[[str], JSON]

    # ---- System Log --------------------------------------------------------------------------------------------
    def log(self, event_type: str, target: JSON, message: str) -> None:
        """Record what an API write did, as Okta's System Log would (actor: the API caller)."""
        self.log_events.append({
            "uuid": str(uuid.uuid4()),
            "published": self.now(),
            "eventType": event_type,
            "displayMessage": message,
            "severity": "INFO",
            "outcome": {"result": "SUCCESS"},
            "actor": {"id": "0oasimapiclient00001", "type": "PublicClientApp", "displayName": "mendflow"},
            "target": [target],
        })  # fmt: skip

    def events(self, since: str | None, until: str | None, predicate: Any, descending: bool) -> list[JSON]:
        """Events published in [since, until) that match the filter, oldest first unless `descending`."""
        for name, bound in (("since", since), ("until", until)):
            if bound is not None and not _is_timestamp(bound):
                raise invalid(name, "Must be an ISO 8601 timestamp")
        found = [
            e for e in self.log_events
            if (since is None or str(e.get("published")) >= since)
            and (until is None or str(e.get("published")) < until)
            and (predicate is None or predicate(e))
        ]  # fmt: skip
        found.sort(key=lambda e: str(e.get("published")), reverse=descending)
        return [{**e, "id": e.get("uuid")} for e in found]

    def _user_target(self, user: JSON) -> JSON:
        login = (user.get("profile") or {}).get("login")
        return {"id": user["id"], "type": "User", "alternateId": login, "displayName": login}

    # ---- sessions, grants, refresh tokens ------------------------------------------------------------------------
    def clear_sessions(self, user_id: str, *, oauth_tokens: bool) -> None:
        user = self.user(user_id)
        self.sessions[user["id"]] = 0
        if oauth_tokens:
            self.refresh_tokens[:] = [t for t in self.refresh_tokens if t.get("userId") != user["id"]]
        self.log("user.session.clear", self._user_target(user), "Clear user session")

    def revoke_all_grants(self, user_id: str) -> None:
        user = self.user(user_id)
        self.grants[:] = [g for g in self.grants if g.get("userId") != user["id"]]
        self.log("app.oauth2.as.consent.revoke", self._user_target(user), "Revoke user's consent grants")

    def clients(self, user_id: str) -> list[JSON]:
        """The OAuth clients holding a grant or refresh token of the user (Okta's `listUserClients`)."""
        uid = self.user(user_id)["id"]
        ids = [t.get("clientId") for t in self.refresh_tokens if t.get("userId") == uid]
        ids += [g.get("clientId") for g in self.grants if g.get("userId") == uid]
        out = []
        for client_id in dict.fromkeys(i for i in ids if isinstance(i, str)):
            try:
                label = self.app(client_id).get("label", client_id)
            except OktaError:
                label = client_id
            out.append({"client_id": client_id, "client_name": label})
        return out

    def tokens(self, user_id: str, client_id: str) -> list[JSON]:
        uid = self.user(user_id)["id"]
        return [t for t in self.refresh_tokens if t.get("userId") == uid and t.get("clientId") == client_id]

    def revoke_tokens(self, user_id: str, client_id: str) -> None:
        user = self.user(user_id)
        mine = self.tokens(user_id, client_id)
        if not mine and client_id not in {c["client_id"] for c in self.clients(user_id)}:
            raise not_found(client_id, "OAuth2Client")
        self.refresh_tokens[:] = [t for t in self.refresh_tokens if t not in mine]
        self.log("app.oauth2.as.token.revoke", self._user_target(user), f"Revoke refresh tokens of {client_id}")

    # ---- groups --------------------------------------------------------------------------------------------------
    def groups_of(self, user_id: str) -> list[JSON]:
        uid = self.user(user_id)["id"]
        return [g for g in self.groups if uid in self.group_members.get(g["id"], [])]

    def set_member(self, group_id: str, user_id: str, *, member: bool) -> None:
        group, user = self.group(group_id), self.user(user_id)
        members = self.group_members.setdefault(group["id"], [])
        if member and user["id"] not in members:
            members.append(user["id"])
        if not member and user["id"] in members:
            if group.get("type") == "BUILT_IN":
                raise OktaError(403, "E0000006", "You do not have permission to perform the requested action")
            members.remove(user["id"])
        event = "group.user_membership.add" if member else "group.user_membership.remove"
        self.log(event, self._user_target(user), f"{'Add' if member else 'Remove'} user to group membership")

    # ---- admin roles ---------------------------------------------------------------------------------------------
    def assign_role(self, user_id: str, body: JSON) -> JSON:
        user = self.user(user_id)
        kind = body.get("type")
        if kind not in ROLE_TYPES:
            raise invalid("type", f"Unknown role type: {kind}")
        roles = self.user_roles.setdefault(user["id"], [])
        if any(r.get("type") == kind for r in roles):
            raise OktaError(409, "E0000090", "The role specified is already assigned to the user.")
        now = self.now()
        assignment = {
            "id": f"ra1sim{next(_assignment_ids):014d}", "label": ROLE_LABELS[kind], "type": kind, "status": "ACTIVE",
            "assignmentType": "USER", "created": now, "lastUpdated": now,
        }  # fmt: skip
        roles.append(assignment)
        self.log("user.account.privilege.grant", self._user_target(user), f"Grant user privilege {kind}")
        return assignment

    def unassign_role(self, user_id: str, assignment_id: str) -> None:
        user = self.user(user_id)
        roles = self.user_roles.get(user["id"], [])
        found = next((r for r in roles if r.get("id") == assignment_id), None)
        if found is None:
            raise not_found(assignment_id, "RoleAssignment")
        roles.remove(found)
        self.log("user.account.privilege.revoke", self._user_target(user), f"Revoke user privilege {found['type']}")

    # ---- apps ----------------------------------------------------------------------------------------------------
    def app_lifecycle(self, app_id: str, operation: str) -> None:
        app = self.app(app_id)
        _, after = APP_LIFECYCLE[operation]
        if app.get("status") == after:
            return  # Okta answers 200 and changes nothing
        app["status"] = after
        app["lastUpdated"] = self.now()
        target = {"id": app["id"], "type": "AppInstance", "displayName": app.get("label")}
        self.log(f"application.lifecycle.{operation}", target, f"{operation.title()} application")


def _is_timestamp(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
