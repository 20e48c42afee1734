"""The response workflows' GitHub actions against the GitHub simulator over loopback: capture → apply → verify →
restore (or refusal, for the irreversible ones), checked against the simulator's own state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from mendflow.actions import ACTIONS, ActionParams
from mendflow.connectors.permissions import action_needs, needed
from mendflow.connectors.registry import get_action
from mendflow.errors import ActionError, InputError
from tests.connectors.conftest import GITHUB_DEMO, Served, serve, tenant_from


def _params(name: str, **values: Any) -> ActionParams:
    return ACTIONS[name].params.model_validate(values)


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(GITHUB_DEMO.read_text(encoding="utf-8"))
    docs = next(r for r in document["github"]["repos"] if r["name"] == "docs")
    docs["_invitations"] = [{"id": 77, "invitee": "freelancer", "permissions": "triage",
                             "created_at": "2026-11-01T00:00:00Z"}]  # fmt: skip
    return document


@pytest.fixture
def org() -> Iterator[Served]:
    with serve(tenant_from(_document())) as served:
        yield served


def _repo(served: Served, name: str) -> dict[str, Any]:
    repo: dict[str, Any] = served.app.state.github.repo(name)
    return repo


async def test_hook_is_disabled_with_its_config_kept_and_enabled_again(org: Served) -> None:
    """PATCH {active: false} leaves URL, events and secret as they were; the restore sets active back."""
    action = get_action("github.repo_hook.set_active")
    params = _params("github.repo_hook.set_active", active=False)
    rid = "/repos/acme/api/hooks/11"
    hook = org.app.state.github.find(_repo(org, "api")["_hooks"], 11)
    config, events = dict(hook["config"]), list(hook["events"])
    async with org.session() as session:
        before = await action.capture(session.http, rid, params)
        assert before == {"active": True}
        assert await action.apply(session.http, rid, params)
        assert hook["active"] is False and hook["config"] == config and hook["events"] == events
        assert await action.holds(session.http, rid, {"active": False})
        assert await action.restore(session.http, rid, before)
        assert await action.holds(session.http, rid, before)
    assert hook["active"] is True and hook["config"] == config


async def test_org_hook_is_disabled_too(org: Served) -> None:
    """The same PATCH on an organization webhook."""
    action = get_action("github.org_hook.set_active")
    async with org.session() as session:
        assert await action.apply(session.http, "/orgs/acme/hooks/301", _params("github.org_hook.set_active",
                                                                                  active=False))  # fmt: skip
    assert org.app.state.github.find(org.app.state.github.hooks, 301)["active"] is False


@pytest.mark.parametrize(
    ("name", "rid"),
    [
        ("github.repo_hook.delete", "/repos/acme/api/hooks/12"),
        ("github.org_hook.delete", "/orgs/acme/hooks/301"),
        ("github.deploy_key.delete", "/repos/acme/api/keys/7"),
    ],
)
async def test_delete_is_applied_verified_and_cannot_be_restored(org: Served, name: str, rid: str) -> None:
    """DELETE removes the object; a repeat writes nothing; the restore is refused with what to do instead."""
    action = get_action(name)
    assert ACTIONS[name].reversible is False
    params = _params(name, state="deleted")
    async with org.session() as session:
        before = await action.capture(session.http, rid, params)
        assert before == {"state": "present"}
        assert await action.apply(session.http, rid, params)
        assert await action.apply(session.http, rid, params) is False
        assert await action.holds(session.http, rid, {"state": "deleted"})
        with pytest.raises(ActionError, match="cannot be restored"):
            await action.restore(session.http, rid, before)
        assert await session.http.get_optional(rid) is None


async def test_member_is_removed_and_the_restore_reinvites_with_the_role(org: Served) -> None:
    """DELETE of the membership; the restore PUTs the captured role, which GitHub answers with a pending
    invitation for someone no longer in the org — that counts as restored, and the action says so."""
    action = get_action("github.org_membership.remove")
    assert ACTIONS["github.org_membership.remove"].restore_needs_acceptance is True
    params = _params("github.org_membership.remove", membership="absent")
    rid = "/orgs/acme/memberships/hubot"
    state = org.app.state.github
    async with org.session() as session:
        before = await action.capture(session.http, rid, params)
        assert before == {"membership": "member"}
        assert await action.apply(session.http, rid, params)
        assert not state.is_member("hubot")
        assert await action.holds(session.http, rid, {"membership": "absent"})
        assert await action.restore(session.http, rid, before)
        assert await action.holds(session.http, rid, before)
    assert state.membership("hubot")["state"] == "pending" and state.membership("hubot")["role"] == "member"


async def test_collaborator_permission_is_lowered_and_put_back(org: Served) -> None:
    """PUT with GitHub's legacy name (write → push); the re-read by role name; the restore puts admin back."""
    action = get_action("github.repo_collaborator.set_permission")
    params = _params("github.repo_collaborator.set_permission", permission="read")
    rid = "/repos/acme/infra/collaborators/contractor-jo"
    async with org.session() as session:
        before = await action.capture(session.http, rid, params)
        assert before == {"permission": "admin"}
        assert await action.apply(session.http, rid, params)
        assert await action.holds(session.http, rid, {"permission": "read"})
        assert await action.restore(session.http, rid, before)
        assert await action.holds(session.http, rid, before)
    jo = next(c for c in _repo(org, "infra")["_collaborators"] if c["login"] == "contractor-jo")
    assert jo["role_name"] == "admin"


async def test_outside_collaborator_is_removed_and_reinvited(org: Served) -> None:
    """`none` DELETEs the collaborator (GitHub drops an outside collaborator left with no repository); the
    restore re-invites them with the captured role."""
    action = get_action("github.repo_collaborator.set_permission")
    params = _params("github.repo_collaborator.set_permission", permission="none")
    rid = "/repos/acme/api/collaborators/contractor-jo"
    async with org.session() as session:
        before = await action.capture(session.http, rid, params)
        assert before == {"permission": "write"}
        assert await action.apply(session.http, rid, params)
        assert await action.holds(session.http, rid, {"permission": "none"})
        assert not any(c["login"] == "contractor-jo" for c in _repo(org, "api")["_collaborators"])
        assert await action.restore(session.http, rid, before)
        assert await action.holds(session.http, rid, before)


async def test_an_open_invitation_counts_as_the_role_it_offers(org: Served) -> None:
    """Someone invited but not yet accepted reads as the invitation's role, so a re-invite verifies while pending."""
    action = get_action("github.repo_collaborator.set_permission")
    async with org.session() as session:
        assert await action.current(session.http, "/repos/acme/docs/collaborators/Freelancer", ["permission"]) == {
            "permission": "triage"
        }
        with pytest.raises(ActionError, match="collaborators/"):
            await action.current(session.http, "/repos/acme/docs/hooks/1", ["permission"])


def test_each_github_response_action_declares_the_permission_of_its_write() -> None:
    """The permission table's entry of each new action is what its write endpoint needs."""
    writes = {
        "github.repo_hook.set_active": ("PATCH", "/repos/acme/api/hooks/11"),
        "github.org_hook.set_active": ("PATCH", "/orgs/acme/hooks/301"),
        "github.repo_hook.rotate_secret": ("PATCH", "/repos/acme/api/hooks/11/config"),
        "github.org_hook.rotate_secret": ("PATCH", "/orgs/acme/hooks/301/config"),
        "github.repo_hook.delete": ("DELETE", "/repos/acme/api/hooks/11"),
        "github.org_hook.delete": ("DELETE", "/orgs/acme/hooks/301"),
        "github.deploy_key.delete": ("DELETE", "/repos/acme/api/keys/7"),
        "github.org_membership.remove": ("DELETE", "/orgs/acme/memberships/hubot"),
        "github.repo_collaborator.set_permission": ("PUT", "/repos/acme/api/collaborators/hubot"),
    }
    for name, (method, path) in writes.items():
        assert needed("github", method, path) == action_needs()[name], name


async def test_hook_secret_is_rotated_to_the_referenced_value_which_never_shows(
    org: Served, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The new secret is read from its reference in the worker and written to the hook's config; the capture,
    the change and the re-read hold only the reference or `set`; the old secret cannot be restored."""
    canary = "canary-hook-secret-5b1e77d2"
    monkeypatch.setenv("NEW_HOOK_SECRET", canary)
    action = get_action("github.repo_hook.rotate_secret")
    assert ACTIONS["github.repo_hook.rotate_secret"].reversible is False
    params = _params("github.repo_hook.rotate_secret", secret_ref="env:NEW_HOOK_SECRET")
    rid = "/repos/acme/api/hooks/11"
    hook = org.app.state.github.find(_repo(org, "api")["_hooks"], 11)
    url = hook["config"]["url"]
    async with org.session() as session:
        before = await action.capture(session.http, rid, params)
        assert before == {"secret_ref": "set"}
        assert await action.apply(session.http, rid, params)
        assert await action.holds(session.http, rid, params.as_body())
        shown = await action.current(session.http, rid, ["secret_ref"])
        with pytest.raises(ActionError, match="cannot be restored") as refused:
            await action.restore(session.http, rid, before)
    assert hook["config"]["secret"] == canary and hook["config"]["url"] == url
    assert shown == {"secret_ref": "set"}
    assert canary not in json.dumps([before, params.as_body(), shown]) + str(refused.value) + caplog.text


async def test_rotation_to_a_missing_reference_names_it_and_writes_nothing(
    org: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unset variable fails with the reference named (never a value), and the hook keeps its secret."""
    monkeypatch.delenv("NO_SUCH_HOOK_SECRET", raising=False)
    action = get_action("github.org_hook.rotate_secret")
    hook = org.app.state.github.find(org.app.state.github.hooks, 301)
    old = hook["config"].get("secret")
    async with org.session() as session:
        with pytest.raises(InputError, match="env:NO_SUCH_HOOK_SECRET"):
            await action.write(session.http, "/orgs/acme/hooks/301", {"secret_ref": "env:NO_SUCH_HOOK_SECRET"})
    assert hook["config"].get("secret") == old
    with pytest.raises(ValueError):
        _params("github.org_hook.rotate_secret", secret_ref="plain-text-secret")
