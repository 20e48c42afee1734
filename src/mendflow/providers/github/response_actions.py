"""GitHub's response-workflow actions: what a responder does to a suspicious webhook, a leaked deploy key or a
person who should not have access, in the shared capture → apply → verify → restore pipeline.

    github.repo_hook|org_hook.set_active   PATCH of the whole hook with only `active`; GitHub keeps the config
                                           (URL, events, secret) when the body has none. Restore: the old value.
    github.repo_hook|org_hook.rotate_secret  PATCH …/config {secret} with the value at `secret_ref`, resolved
                                           here; verify sees a (masked) secret set. Irreversible: the old secret
                                           reads back masked, so it cannot be put back.
    github.repo_hook|org_hook.delete       DELETE; irreversible (the secret reads back masked, so the hook could
                                           not be re-created as it was).
    github.deploy_key.delete               DELETE; irreversible (re-adding the key would restore a leaked key).
    github.org_membership.remove           DELETE …/memberships/{user}; the restore PUTs the captured role, which
                                           for someone no longer in the org is an invitation they must accept.
                                           A pending invitation counts as the role (that is all GitHub can show).
    github.repo_collaborator.set_permission  PUT {permission} or, for `none`, DELETE …/collaborators/{user}; the
                                           role is read from `…/permission`, else from an open invitation, so a
                                           restore that re-invites verifies while the invitation is pending.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mendflow.actions import ACTIONS
from mendflow.connectors.actions import FieldAction, Fields
from mendflow.connectors.http import VendorHttp
from mendflow.errors import ActionError
from mendflow.secrets import SecretRef
from mendflow.telemetry.tracing import step_span

LEGACY = {"read": "pull", "write": "push"}
"""Role names the permission endpoint reports → the names `PUT …/collaborators/{user}` documents."""


def _top_level(body: Any, names: list[str]) -> Fields:
    return {name: body.get(name) for name in names}


@dataclass(frozen=True, kw_only=True)
class DeleteAction(FieldAction):
    """`state` reads `present` while the object exists, `deleted` once it is gone; only deleting is possible."""

    write_method: str = "DELETE"

    async def read(self, http: VendorHttp, resource_id: str) -> Any:
        return await http.get_optional(resource_id)

    async def send(self, http: VendorHttp, resource_id: str, obj: Any, target: Fields) -> None:
        if target.get("state") != "deleted":
            raise ActionError(
                f"{resource_id} was deleted and cannot be restored: GitHub never shows its secret again; "
                "create a new one with a new secret"
            )
        await http.request("DELETE", resource_id, allow_404=True)


def _presence(obj: Any, names: list[str]) -> Fields:
    return {name: ("present" if obj is not None else "deleted") for name in names}


@dataclass(frozen=True, kw_only=True)
class OrgMembershipAction(FieldAction):
    """`membership` reads the member's role (`admin`/`member`, active or pending), or `absent`."""

    async def read(self, http: VendorHttp, resource_id: str) -> Any:
        return await http.get_optional(resource_id)

    async def send(self, http: VendorHttp, resource_id: str, obj: Any, target: Fields) -> None:
        role = target["membership"]
        if role == "absent":
            await http.request("DELETE", resource_id)
        else:
            await http.request("PUT", resource_id, json={"role": role})


def _membership_role(obj: Any, names: list[str]) -> Fields:
    return {name: (str(obj.get("role")) if obj else "absent") for name in names}


def _collaborator_parts(resource_id: str) -> tuple[str, str]:
    """`/repos/{owner}/{repo}/collaborators/{user}` → (the repository path, user)."""
    head, _, user = resource_id.rstrip("/").rpartition("/collaborators/")
    if not head.startswith("/repos/") or not user or "/" in user:
        raise ActionError(f"{resource_id}: a collaborator is /repos/{{owner}}/{{repo}}/collaborators/{{username}}")
    return head, user


@dataclass(frozen=True, kw_only=True)
class CollaboratorAction(FieldAction):
    """`permission` reads the user's role on the repository, the role of their open invitation, or `none`."""

    async def read(self, http: VendorHttp, resource_id: str) -> Any:
        repo, user = _collaborator_parts(resource_id)
        granted = await http.get_optional(f"{resource_id}/permission")
        role = str(granted.get("role_name") or "none") if isinstance(granted, dict) else "none"
        if role == "none":
            async for invitation in http.paginate(f"{repo}/invitations"):
                invitee = invitation.get("invitee") or {}
                if str(invitee.get("login", "")).casefold() == user.casefold():
                    role = str(invitation.get("permissions"))
                    break
        return {"permission": role}

    async def send(self, http: VendorHttp, resource_id: str, obj: Any, target: Fields) -> None:
        role = target["permission"]
        if role == "none":
            await http.request("DELETE", resource_id)
        else:
            await http.request("PUT", resource_id, json={"permission": LEGACY.get(role, role)})


@dataclass(frozen=True, kw_only=True)
class RotateSecretAction(FieldAction):
    """`secret_ref` reads `set` or `none` (GitHub masks the value). A write always sends the secret: the same
    value again on a retry, which changes nothing."""

    async def read(self, http: VendorHttp, resource_id: str) -> Any:
        return await http.get_json(f"{resource_id}/config")

    async def write(self, http: VendorHttp, resource_id: str, target: Fields) -> bool:
        wanted = str(target.get("secret_ref") or "")
        if not wanted.startswith(("env:", "file:")):
            raise ActionError(
                f"{resource_id}: the webhook's previous secret cannot be restored (GitHub never shows it); "
                "rotate to a new secret_ref instead"
            )
        value = SecretRef(ref=wanted).resolve()  # registered with the redactor before any use
        with step_span("apply", self.spec.name):
            await http.request("PATCH", f"{resource_id}/config", json={"secret": value})
        return True

    async def holds(self, http: VendorHttp, resource_id: str, target: Fields) -> bool:
        with step_span("verify", self.spec.name):
            config = await self.read(http, resource_id)
        return bool(config.get("secret")) and str(target.get("secret_ref") or "").startswith(("env:", "file:"))


def _secret_state(config: Any, names: list[str]) -> Fields:
    return {name: ("set" if config.get("secret") else "none") for name in names}


def _hook_active(name: str) -> FieldAction:
    return FieldAction(spec=ACTIONS[name], read_fields=_top_level, write_method="PATCH", body=dict)


GITHUB_RESPONSE_ACTIONS: dict[str, FieldAction] = {
    action.spec.name: action
    for action in (
        _hook_active("github.repo_hook.set_active"),
        _hook_active("github.org_hook.set_active"),
        RotateSecretAction(spec=ACTIONS["github.repo_hook.rotate_secret"], read_fields=_secret_state),
        RotateSecretAction(spec=ACTIONS["github.org_hook.rotate_secret"], read_fields=_secret_state),
        DeleteAction(spec=ACTIONS["github.repo_hook.delete"], read_fields=_presence),
        DeleteAction(spec=ACTIONS["github.org_hook.delete"], read_fields=_presence),
        DeleteAction(spec=ACTIONS["github.deploy_key.delete"], read_fields=_presence),
        OrgMembershipAction(spec=ACTIONS["github.org_membership.remove"], read_fields=_membership_role),
        CollaboratorAction(spec=ACTIONS["github.repo_collaborator.set_permission"], read_fields=_top_level),
    )
}
