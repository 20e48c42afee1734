"""The response workflows' Okta actions against the Okta simulator over loopback: capture → apply → verify →
restore (or refusal, for the irreversible ones), checked against the simulator's own state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mendflow.actions import ACTIONS
from mendflow.connectors.permissions import action_needs, needed
from mendflow.connectors.registry import get_action
from mendflow.errors import ActionError, VendorError
from tests.connectors.conftest import Served, serve
from tests.connectors.okta_response_data import (
    ADMINS,
    ALICE,
    BOB,
    DAVE,
    DAVE_ROLE,
    ENGINEERING,
    LEGACY_HR,
    SALESFORCE,
    response_tenant,
)


@pytest.fixture
def org() -> Iterator[Served]:
    with serve(response_tenant()) as served:
        yield served


def _params(name: str, **values: str) -> object:
    return ACTIONS[name].params.model_validate(values)


async def test_clear_sessions_ends_them_and_cannot_be_restored(org: Served) -> None:
    """DELETE …/sessions leaves the user no session; a restore is refused with what the person does instead."""
    action = get_action("okta.user.clear_sessions")
    params = _params("okta.user.clear_sessions", sessions="cleared")
    rid = f"/api/v1/users/{BOB}"
    async with org.session() as session:
        before = await action.capture(session.http, rid, params)  # type: ignore[arg-type]
        assert before == {"sessions": "open"}
        assert await action.apply(session.http, rid, params)  # type: ignore[arg-type]
        assert await action.holds(session.http, rid, {"sessions": "cleared"})
        with pytest.raises(ActionError, match="cannot be restored"):
            await action.restore(session.http, rid, before)
        with pytest.raises(VendorError):
            await action.capture(session.http, "/api/v1/users/00uNOSUCH", params)  # type: ignore[arg-type]
    state = org.app.state.okta
    assert state.sessions[BOB] == 0
    assert [e["eventType"] for e in state.log_events][-1] == "user.session.clear"
    assert ACTIONS["okta.user.clear_sessions"].reversible is False


async def test_revoke_grants_removes_every_grant_and_refresh_token(org: Served) -> None:
    """Grants and each client's refresh tokens are deleted; the re-read finds none; nobody else's are touched."""
    action = get_action("okta.user.revoke_grants")
    params = _params("okta.user.revoke_grants", oauth="revoked")
    rid = f"/api/v1/users/{BOB}"
    state = org.app.state.okta
    others = [g["id"] for g in state.grants if g["userId"] != BOB]
    async with org.session() as session:
        before = await action.capture(session.http, rid, params)  # type: ignore[arg-type]
        assert before == {"oauth": "active"}
        assert await action.apply(session.http, rid, params)  # type: ignore[arg-type]
        assert await action.apply(session.http, rid, params) is False  # type: ignore[arg-type]
        assert await action.holds(session.http, rid, {"oauth": "revoked"})
        with pytest.raises(ActionError, match="cannot be restored"):
            await action.restore(session.http, rid, before)
    assert [g["id"] for g in state.grants] == others
    assert state.refresh_tokens == [] and state.tokens(BOB, SALESFORCE) == []


async def test_group_membership_is_removed_and_restored(org: Served) -> None:
    """DELETE …/groups/{g}/users/{u}, verified from the user's groups; the restore PUTs the membership back."""
    action = get_action("okta.group_membership.set")
    params = _params("okta.group_membership.set", membership="absent")
    rid = f"/api/v1/groups/{ADMINS}/users/{DAVE}"
    state = org.app.state.okta
    async with org.session() as session:
        before = await action.capture(session.http, rid, params)  # type: ignore[arg-type]
        assert before == {"membership": "present"}
        assert await action.apply(session.http, rid, params)  # type: ignore[arg-type]
        assert DAVE not in state.group_members[ADMINS] and DAVE in state.group_members[ENGINEERING]
        assert await action.holds(session.http, rid, {"membership": "absent"})
        assert await action.restore(session.http, rid, before)
        assert await action.holds(session.http, rid, before)
        with pytest.raises(ActionError, match="groups/"):
            await action.capture(session.http, f"/api/v1/users/{DAVE}", params)  # type: ignore[arg-type]
    assert DAVE in state.group_members[ADMINS]


async def test_role_unassign_restores_the_same_type_under_a_new_assignment_id(org: Served) -> None:
    """The capture is the role type; the restore assigns it again and Okta gives it another id."""
    action = get_action("okta.role_assignment.unassign")
    params = _params("okta.role_assignment.unassign", role="unassigned")
    rid = f"/api/v1/users/{DAVE}/roles/{DAVE_ROLE}"
    state = org.app.state.okta
    async with org.session() as session:
        before = await action.capture(session.http, rid, params)  # type: ignore[arg-type]
        assert before == {"role": "ORG_ADMIN"}
        assert await action.apply(session.http, rid, params)  # type: ignore[arg-type]
        assert state.roles(DAVE) == []
        assert await action.holds(session.http, rid, {"role": "unassigned"})
        assert await action.restore(session.http, rid, before)
        assert await action.restore(session.http, rid, before) is False  # already held: no second assignment
        assert await action.holds(session.http, rid, before)
    [again] = state.roles(DAVE)
    assert again["type"] == "ORG_ADMIN" and again["id"] != DAVE_ROLE


async def test_app_is_deactivated_and_activated_again(org: Served) -> None:
    """lifecycle/deactivate, then lifecycle/activate for the restore; an INACTIVE app stays as it is."""
    action = get_action("okta.app.set_status")
    params = _params("okta.app.set_status", status="INACTIVE")
    rid = f"/api/v1/apps/{SALESFORCE}"
    state = org.app.state.okta
    async with org.session() as session:
        before = await action.capture(session.http, rid, params)  # type: ignore[arg-type]
        assert before == {"status": "ACTIVE"}
        assert await action.apply(session.http, rid, params)  # type: ignore[arg-type]
        assert state.app(SALESFORCE)["status"] == "INACTIVE"
        assert await action.restore(session.http, rid, before)
        assert await action.apply(session.http, f"/api/v1/apps/{LEGACY_HR}", params) is False  # type: ignore[arg-type]
    assert state.app(SALESFORCE)["status"] == "ACTIVE"


async def test_system_log_read_is_bounded_by_time_and_filtered_by_target(org: Served) -> None:
    """`GET /api/v1/logs` with since/until and `target.id eq` returns that user's events in the window, in order."""
    path = "/api/v1/logs"
    query = {"since": "2026-11-01T00:00:00.000Z", "until": "2026-11-03T00:00:00.000Z",
             "filter": f'target.id eq "{BOB}"'}  # fmt: skip
    async with org.session() as session:
        events = [e async for e in session.http.paginate(path, params=query)]
        newest = await session.http.get_json(path, params={"filter": f'target.id eq "{DAVE}"',
                                                           "sortOrder": "DESCENDING"})  # fmt: skip
        with pytest.raises(VendorError):
            await session.http.get_json(path, params={"since": "yesterday"})
    assert [e["eventType"] for e in events] == ["user.session.start", "user.account.update_password"]
    assert [e["eventType"] for e in newest] == ["user.session.start"]
    assert needed("okta", "GET", path) == "okta.logs.read"


def test_each_response_action_declares_the_scope_okta_documents_for_its_write() -> None:
    """The permission table's entry of each new action is the scope of the write endpoint it calls."""
    writes = {
        "okta.user.clear_sessions": ("DELETE", f"/api/v1/users/{ALICE}/sessions"),
        "okta.user.revoke_grants": ("DELETE", f"/api/v1/users/{ALICE}/grants"),
        "okta.group_membership.set": ("DELETE", f"/api/v1/groups/{ADMINS}/users/{ALICE}"),
        "okta.role_assignment.unassign": ("DELETE", f"/api/v1/users/{ALICE}/roles/{DAVE_ROLE}"),
        "okta.app.set_status": ("POST", f"/api/v1/apps/{SALESFORCE}/lifecycle/deactivate"),
    }
    for name, (method, path) in writes.items():
        assert needed("okta", method, path) == action_needs()[name], name
