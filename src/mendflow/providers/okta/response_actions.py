"""Okta's response-workflow actions: what a responder does to a compromised account, in the shared pipeline.

Each is a `FieldAction` (capture → apply → verify → restore, `mendflow.connectors.actions`) over a state read
from Okta, with only the write (`send`) and, where Okta's objects demand it, the read overridden:

    okta.user.clear_sessions       DELETE …/users/{id}/sessions. Okta serves no read of a user's sessions, so
                                   the 204 is the only proof: verify confirms the user still exists and the
                                   DELETE (idempotent) was answered. Irreversible.
    okta.user.revoke_grants        DELETE …/users/{id}/grants, then each client's refresh tokens; verify re-lists
                                   both and expects none. Irreversible.
    okta.group_membership.set      PUT / DELETE …/groups/{gid}/users/{uid}; state read from the user's groups.
    okta.role_assignment.unassign  DELETE …/users/{uid}/roles/{aid}; the capture is the role TYPE, and the restore
                                   POSTs it again — Okta gives the new assignment another id (logged).
    okta.app.set_status            POST …/apps/{id}/lifecycle/activate|deactivate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from mendflow.actions import ACTIONS, ActionParams
from mendflow.connectors.actions import FieldAction, Fields, TransitionAction, read_paths
from mendflow.connectors.http import VendorHttp
from mendflow.errors import ActionError
from mendflow.telemetry.tracing import step_span

log = logging.getLogger(__name__)

UNASSIGNED = "unassigned"


def _irreversible(resource_id: str, what: str) -> ActionError:
    return ActionError(f"{resource_id}: {what} cannot be restored; the person signs in (or consents) again")


@dataclass(frozen=True, kw_only=True)
class ClearSessionsAction(FieldAction):
    """`sessions` reads `open` (unknown, Okta has no read) until this action's DELETE was answered 204."""

    async def read(self, http: VendorHttp, resource_id: str) -> Any:
        return await http.get_json(resource_id)  # a 404 here fails the step: no such user

    async def write(self, http: VendorHttp, resource_id: str, target: Fields) -> bool:
        if target.get("sessions") != "cleared":
            raise _irreversible(resource_id, "cleared sessions")
        with step_span("apply", self.spec.name):
            await http.request("DELETE", f"{resource_id}/sessions")
        return True

    async def holds(self, http: VendorHttp, resource_id: str, target: Fields) -> bool:
        with step_span("verify", self.spec.name):
            await self.read(http, resource_id)
        return target == {"sessions": "cleared"}


def _open_sessions(obj: Any, names: list[str]) -> Fields:
    return {name: "open" for name in names}


@dataclass(frozen=True, kw_only=True)
class RevokeGrantsAction(FieldAction):
    """`oauth` reads `active` while the user holds any consent grant or refresh token, `revoked` when none."""

    async def read(self, http: VendorHttp, resource_id: str) -> Any:
        grants = [g async for g in http.paginate(f"{resource_id}/grants")]
        tokens: dict[str, list[Any]] = {}
        for client in await http.get_json(f"{resource_id}/clients"):
            client_id = str(client["client_id"])
            tokens[client_id] = [t async for t in http.paginate(f"{resource_id}/clients/{client_id}/tokens")]
        return {"grants": grants, "tokens": tokens}

    async def send(self, http: VendorHttp, resource_id: str, obj: Any, target: Fields) -> None:
        if target.get("oauth") != "revoked":
            raise _irreversible(resource_id, "revoked OAuth grants and tokens")
        if obj["grants"]:
            await http.request("DELETE", f"{resource_id}/grants")
        for client_id, tokens in obj["tokens"].items():
            if tokens:
                await http.request("DELETE", f"{resource_id}/clients/{client_id}/tokens")


def _oauth_state(obj: Any, names: list[str]) -> Fields:
    held = bool(obj["grants"]) or any(obj["tokens"].values())
    return {name: ("active" if held else "revoked") for name in names}


def _membership_parts(resource_id: str) -> tuple[str, str]:
    """`/api/v1/groups/{gid}/users/{uid}` → (gid, uid)."""
    parts = resource_id.strip("/").split("/")
    if len(parts) != 6 or parts[2] != "groups" or parts[4] != "users":
        raise ActionError(f"{resource_id}: a group membership is /api/v1/groups/{{groupId}}/users/{{userId}}")
    return parts[3], parts[5]


@dataclass(frozen=True, kw_only=True)
class MembershipAction(FieldAction):
    """`membership` reads `present` when the group is among the user's groups (`GET …/users/{uid}/groups`)."""

    async def read(self, http: VendorHttp, resource_id: str) -> Any:
        group_id, user_id = _membership_parts(resource_id)
        groups = [g async for g in http.paginate(f"/api/v1/users/{user_id}/groups")]
        return {"present": any(g.get("id") == group_id for g in groups)}

    async def send(self, http: VendorHttp, resource_id: str, obj: Any, target: Fields) -> None:
        method = "PUT" if target["membership"] == "present" else "DELETE"
        await http.request(method, resource_id)


def _membership_state(obj: Any, names: list[str]) -> Fields:
    return {name: ("present" if obj["present"] else "absent") for name in names}


def _role_parts(resource_id: str) -> tuple[str, str]:
    """`/api/v1/users/{uid}/roles/{aid}` → (the user's roles path, aid)."""
    head, _, assignment = resource_id.rstrip("/").rpartition("/")
    if not head.endswith("/roles") or not assignment:
        raise ActionError(f"{resource_id}: a role assignment is /api/v1/users/{{userId}}/roles/{{roleAssignmentId}}")
    return head, assignment


@dataclass(frozen=True, kw_only=True)
class RoleAssignmentAction(FieldAction):
    """`role` reads the assignment's type while it exists. After a restore the same type is held under a new
    id, so a wanted type counts as held when any assignment of the user has it."""

    async def read(self, http: VendorHttp, resource_id: str) -> Any:
        roles_path, _ = _role_parts(resource_id)
        return await http.get_json(roles_path)

    def _state(self, roles: Any, resource_id: str, wanted: Any) -> Fields:
        _, assignment = _role_parts(resource_id)
        mine = next((r for r in roles if r.get("id") == assignment), None)
        if mine is not None:
            if mine.get("type") == "CUSTOM":
                raise ActionError(
                    f"{resource_id}: a custom role assignment (role + resource set) cannot be re-created exactly; "
                    "unassign it by hand"
                )
            return {"role": mine.get("type")}
        if wanted not in (None, UNASSIGNED) and any(r.get("type") == wanted for r in roles):
            return {"role": wanted}
        return {"role": UNASSIGNED}

    async def current(self, http: VendorHttp, resource_id: str, names: list[str]) -> Fields:
        return self._state(await self.read(http, resource_id), resource_id, None)

    async def capture(self, http: VendorHttp, resource_id: str, params: ActionParams) -> Fields:
        with step_span("prepare", self.spec.name):
            return await self.current(http, resource_id, ["role"])

    async def write(self, http: VendorHttp, resource_id: str, target: Fields) -> bool:
        with step_span("apply", self.spec.name):
            roles = await self.read(http, resource_id)
            if self._state(roles, resource_id, target["role"]) == target:
                return False
            roles_path, assignment = _role_parts(resource_id)
            if target["role"] == UNASSIGNED:
                await http.request("DELETE", resource_id)
                return True
            created = await http.request("POST", roles_path, json={"type": target["role"]})
            new_id = _json_id(created)
            log.info("role %s assigned again to %s as assignment %s (was %s)", target["role"], roles_path, new_id,
                     assignment)  # fmt: skip
            return True

    async def holds(self, http: VendorHttp, resource_id: str, target: Fields) -> bool:
        with step_span("verify", self.spec.name):
            return self._state(await self.read(http, resource_id), resource_id, target["role"]) == target


def _json_id(response: Any) -> str | None:
    try:
        body = response.json()
    except (AttributeError, ValueError):
        return None
    return str(body.get("id")) if isinstance(body, dict) else None


def _unused(obj: Any, names: list[str]) -> Fields:  # RoleAssignmentAction reads through `_state`
    raise NotImplementedError


OKTA_RESPONSE_ACTIONS: dict[str, FieldAction] = {
    action.spec.name: action
    for action in (
        ClearSessionsAction(spec=ACTIONS["okta.user.clear_sessions"], read_fields=_open_sessions),
        RevokeGrantsAction(spec=ACTIONS["okta.user.revoke_grants"], read_fields=_oauth_state),
        MembershipAction(spec=ACTIONS["okta.group_membership.set"], read_fields=_membership_state),
        RoleAssignmentAction(spec=ACTIONS["okta.role_assignment.unassign"], read_fields=_unused),
        TransitionAction(
            spec=ACTIONS["okta.app.set_status"],
            read_fields=read_paths({"status": ("status",)}),
            field="status",
            transitions={
                ("ACTIVE", "INACTIVE"): "/lifecycle/deactivate",
                ("INACTIVE", "ACTIVE"): "/lifecycle/activate",
            },
        ),
    )
}
