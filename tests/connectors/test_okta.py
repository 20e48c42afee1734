"""The Okta connector against the Okta simulator over loopback: what a scan reads, what rules find, and every
Okta action's capture → apply → verify → restore compared field by field with the simulator's state."""

from __future__ import annotations

import copy

import pytest

from mendflow.actions import ACTIONS
from mendflow.connectors.registry import get_action
from mendflow.errors import ActionError, AuthError
from mendflow.models import ResourceRef
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.rules import compile_rules
from mendflow.sim.generate import okta_id
from mendflow.tenant import TenantFile
from tests.connectors.conftest import Served, serve

ALICE, BOB, CAROL, DAVE, ERIN, FRANK = (okta_id("00u", n) for n in range(1, 7))
PASSWORD_POLICY, SIGN_ON, ADMIN_POLICY = (okta_id("00p", n) for n in (1, 2, 4))
SESSION_RULE, ADMIN_RULE = okta_id("0pr", 2), okta_id("0pr", 5)
STALE_TOKEN = okta_id("00T", 1)


async def test_scan_reads_every_resource_type_with_full_coverage(okta_org: Served, okta_tenant: TenantFile) -> None:
    """Users (minus DEPROVISIONED), policies, rules, tokens, apps and groups arrive with canonical ids."""
    resources, session = await okta_org.collect()
    section = okta_tenant.section()
    by_type: dict[str, list[str]] = {}
    for resource in resources:
        by_type.setdefault(resource.type, []).append(resource.id)
    listed = [u for u in section["users"] if u["status"] != "DEPROVISIONED"]
    assert by_type["okta.user"] == [f"/api/v1/users/{u['id']}" for u in listed]
    assert len(by_type["okta.policy"]) == 4 and len(by_type["okta.policy_rule"]) == 5
    assert f"/api/v1/policies/{SIGN_ON}/rules/{SESSION_RULE}" in by_type["okta.policy_rule"]
    assert len(by_type["okta.api_token"]) == 3 and len(by_type["okta.app"]) == 4 and len(by_type["okta.group"]) == 3
    assert session.collector.gaps == [] and session.collector.coverage.fraction == 1.0


async def test_related_facts_hold_roles_factors_and_the_rules_policy(okta_org: Served) -> None:
    """A user carries its role assignments and factors; a rule carries its policy's id, type and name."""
    resources, _ = await okta_org.collect()
    found = {r.id: r for r in resources}
    alice = found[f"/api/v1/users/{ALICE}"]
    assert [r["type"] for r in alice.related["roles"]] == ["SUPER_ADMIN"]
    assert {f["factorType"] for f in alice.related["factors"]} == {"push", "webauthn"}
    bob = found[f"/api/v1/users/{BOB}"].related
    assert bob["roles"] == [] and [f["factorType"] for f in bob["factors"]] == ["push"]
    rule = found[f"/api/v1/policies/{SIGN_ON}/rules/{SESSION_RULE}"]
    assert rule.related["policy"] == {"id": SIGN_ON, "type": "OKTA_SIGN_ON", "name": "Default Policy"}
    assert found[f"/api/v1/api-tokens/{STALE_TOKEN}"].related == {"owner_roles": ["SUPER_ADMIN"]}


async def test_okta_playbooks_find_the_seeded_misconfigurations(okta_org: Served, okta_tenant: TenantFile) -> None:
    """Each Okta playbook fires on the demo org's seeded problem, and only there."""
    resources, _ = await okta_org.collect()
    playbooks = [p for p in load_playbooks([bundled_playbook_dir()]).playbooks if p.resource.startswith("okta.")]
    assert len(playbooks) >= 8
    assert okta_tenant.taken_at is not None
    result = compile_rules(playbooks).evaluate(resources, tenant="acme", provider="okta", as_of=okta_tenant.taken_at)
    found = {(f.rule, f.resource.id) for f in result.findings}
    assert found == {
        ("okta.user.inactive", f"/api/v1/users/{BOB}"),
        ("okta.user.inactive", f"/api/v1/users/{CAROL}"),
        ("okta.user.admin_without_mfa", f"/api/v1/users/{DAVE}"),
        ("okta.user.super_admin_direct", f"/api/v1/users/{ALICE}"),
        ("okta.user.super_admin_direct", f"/api/v1/users/{okta_id('00u', 9)}"),
        ("okta.api_token.stale", f"/api/v1/api-tokens/{STALE_TOKEN}"),
        ("okta.api_token.stale", f"/api/v1/api-tokens/{okta_id('00T', 3)}"),
        ("okta.api_token.unrestricted_network", f"/api/v1/api-tokens/{STALE_TOKEN}"),
        # tokens whose owners are super admins, and an admin role given to a user directly (issue 14 rules)
        ("okta.api_token.super_admin_owner", f"/api/v1/api-tokens/{okta_id('00T', 1)}"),
        ("okta.api_token.super_admin_owner", f"/api/v1/api-tokens/{okta_id('00T', 3)}"),
        ("okta.user.admin_role_direct", f"/api/v1/users/{okta_id('00u', 4)}"),
        ("okta.policy.password_weak", f"/api/v1/policies/{PASSWORD_POLICY}"),
        ("okta.policy.mfa_enrollment_not_required", f"/api/v1/policies/{okta_id('00p', 3)}"),
        ("okta.policy_rule.session_lifetime", f"/api/v1/policies/{SIGN_ON}/rules/{SESSION_RULE}"),
        ("okta.policy_rule.admin_console_mfa", f"/api/v1/policies/{ADMIN_POLICY}/rules/{ADMIN_RULE}"),
    }
    assert result.errors == []


@pytest.mark.parametrize("scheme", ["SSWS", "Bearer"])
async def test_both_okta_auth_schemes_are_accepted(okta_tenant: TenantFile, scheme: str) -> None:
    """An API token goes out as `SSWS`, an OAuth access token as `Bearer`; the simulator accepts both."""
    with serve(okta_tenant, auth_scheme=scheme) as served:
        async with served.session() as session:
            assert session.http.auth_header.startswith(f"{scheme} ")
            user = await session.http.get_json(f"/api/v1/users/{ALICE}")
    assert user["id"] == ALICE


async def test_wrong_token_fails_the_scan_instead_of_reporting_gaps(okta_org: Served) -> None:
    """401 is not a coverage gap: it means every read would fail."""
    okta_org.token = "wrong"
    with pytest.raises(AuthError, match="401"):
        await okta_org.collect()


async def test_fetch_rereads_a_resource_as_collect_built_it(okta_org: Served) -> None:
    """fetch() returns the same data and related facts; a revoked token reads as gone."""
    resources, _ = await okta_org.collect()
    found = {r.id: r for r in resources}
    async with okta_org.session() as session:
        for rid, rtype in [
            (f"/api/v1/users/{ALICE}", "okta.user"),
            (f"/api/v1/policies/{SIGN_ON}/rules/{SESSION_RULE}", "okta.policy_rule"),
            (f"/api/v1/api-tokens/{STALE_TOKEN}", "okta.api_token"),
            (f"/api/v1/policies/{PASSWORD_POLICY}", "okta.policy"),
        ]:
            again = await session.collector.fetch(ResourceRef(type=rtype, id=rid))
            assert again == found[rid]
        await session.http.request("DELETE", f"/api/v1/api-tokens/{STALE_TOKEN}")
        ref = ResourceRef(type="okta.api_token", id=f"/api/v1/api-tokens/{STALE_TOKEN}")
        assert await session.collector.fetch(ref) is None


# ---- actions ---------------------------------------------------------------------------------------------------
def _stored_rule(served: Served, policy_id: str, rule_id: str) -> dict[str, object]:
    return copy.deepcopy(served.app.state.okta.rule(policy_id, rule_id))


async def test_suspend_user_captures_applies_verifies_and_restores(okta_org: Served) -> None:
    """ACTIVE → SUSPENDED through lifecycle/suspend, then back through unsuspend; nothing else changes."""
    action = get_action("okta.user.set_status")
    params = ACTIONS["okta.user.set_status"].params.model_validate({"status": "SUSPENDED"})
    rid = f"/api/v1/users/{BOB}"
    state = okta_org.app.state.okta
    before_user = copy.deepcopy(state.user(BOB))
    async with okta_org.session() as session:
        before = await action.capture(session.http, rid, params)
        assert before == {"status": "ACTIVE"}
        assert await action.apply(session.http, rid, params) is True
        assert await action.apply(session.http, rid, params) is False  # idempotent
        assert await action.holds(session.http, rid, params.as_body())
        assert state.user(BOB)["status"] == "SUSPENDED"
        assert await action.restore(session.http, rid, before) is True
        assert await action.holds(session.http, rid, before)
    after_user = state.user(BOB)
    changed = {k for k in before_user.keys() | after_user.keys() if before_user.get(k) != after_user.get(k)}
    assert changed <= {"statusChanged", "lastUpdated"}


async def test_suspend_refuses_a_transition_okta_has_no_operation_for(okta_org: Served) -> None:
    """Restoring a user to a status no lifecycle call reaches is refused, not faked."""
    action = get_action("okta.user.set_status")
    async with okta_org.session() as session:
        with pytest.raises(ActionError, match="cannot change status from SUSPENDED to LOCKED_OUT"):
            await action.restore(session.http, f"/api/v1/users/{FRANK}", {"status": "LOCKED_OUT"})


async def test_policy_rule_update_replaces_only_the_owned_settings_and_restores(okta_org: Served) -> None:
    """The PUT carries the rule's own body with the session settings changed; restore puts them back exactly."""
    action = get_action("okta.policy_rule.update")
    params = ACTIONS["okta.policy_rule.update"].params.model_validate(
        {"max_session_lifetime_minutes": 1080, "max_session_idle_minutes": 15, "use_persistent_cookie": False}
    )
    rid = f"/api/v1/policies/{SIGN_ON}/rules/{SESSION_RULE}"
    original = _stored_rule(okta_org, SIGN_ON, SESSION_RULE)
    async with okta_org.session() as session:
        before = await action.capture(session.http, rid, params)
        assert before == {"max_session_lifetime_minutes": 0, "max_session_idle_minutes": 120,
                          "use_persistent_cookie": True}  # fmt: skip
        assert await action.apply(session.http, rid, params)
        changed = _stored_rule(okta_org, SIGN_ON, SESSION_RULE)
        assert changed["actions"]["signon"]["session"] == {  # type: ignore[index]
            "maxSessionIdleMinutes": 15, "maxSessionLifetimeMinutes": 1080, "usePersistentCookie": False}  # fmt: skip
        for key in ("id", "name", "type", "priority", "conditions", "created", "_links", "system"):
            assert changed[key] == original[key], key
        assert await action.holds(session.http, rid, params.as_body())
        assert await action.restore(session.http, rid, before)
    restored = _stored_rule(okta_org, SIGN_ON, SESSION_RULE)
    assert {k: v for k, v in restored.items() if k != "lastUpdated"} == {
        k: v for k, v in original.items() if k != "lastUpdated"
    }


async def test_rule_setting_that_does_not_apply_is_refused(okta_org: Served) -> None:
    """Session settings on an app sign-on rule are refused instead of written into a foreign shape."""
    action = get_action("okta.policy_rule.update")
    async with okta_org.session() as session:
        with pytest.raises(ActionError, match=r"has no actions\.signon\.session"):
            await action.write(session.http, f"/api/v1/policies/{ADMIN_POLICY}/rules/{ADMIN_RULE}",
                               {"max_session_idle_minutes": 15})  # fmt: skip


async def test_password_policy_update_raises_settings_and_restores_them(okta_org: Served) -> None:
    """PUT of the policy's own body with the password settings raised; restore compares field by field."""
    action = get_action("okta.policy.update_password")
    params = ACTIONS["okta.policy.update_password"].params.model_validate(
        {"min_length": 15, "history_count": 5, "max_attempts": 3}
    )
    rid = f"/api/v1/policies/{PASSWORD_POLICY}"
    state = okta_org.app.state.okta
    original = copy.deepcopy(state.policy(PASSWORD_POLICY))
    async with okta_org.session() as session:
        before = await action.capture(session.http, rid, params)
        assert before == {"min_length": 8, "history_count": 0, "max_attempts": 10}
        await action.apply(session.http, rid, params)
        password = state.policy(PASSWORD_POLICY)["settings"]["password"]
        assert (password["complexity"]["minLength"], password["age"]["historyCount"]) == (15, 5)
        assert password["lockout"]["maxAttempts"] == 3
        await action.restore(session.http, rid, before)
    restored = state.policy(PASSWORD_POLICY)
    assert {k: v for k, v in restored.items() if k != "lastUpdated"} == {
        k: v for k, v in original.items() if k != "lastUpdated"
    }


async def test_api_token_revoke_is_applied_verified_and_cannot_be_restored(okta_org: Served) -> None:
    """DELETE removes the token; `holds` sees it gone; restore refuses with what to do instead."""
    action = get_action("okta.api_token.revoke")
    assert action.spec.reversible is False
    params = ACTIONS["okta.api_token.revoke"].params.model_validate({"state": "revoked"})
    rid = f"/api/v1/api-tokens/{STALE_TOKEN}"
    async with okta_org.session() as session:
        before = await action.capture(session.http, rid, params)
        assert before == {"state": "active"}
        assert await action.apply(session.http, rid, params)
        assert await action.apply(session.http, rid, params) is False
        assert await action.holds(session.http, rid, {"state": "revoked"})
        with pytest.raises(ActionError, match="cannot be restored"):
            await action.restore(session.http, rid, before)
    assert [t["id"] for t in okta_org.app.state.okta.api_tokens] == [okta_id("00T", 2), okta_id("00T", 3)]


def test_inactive_user_playbook_needs_approval_and_token_revoke_cannot_run_in_auto() -> None:
    """Suspension asks a person; revoking is irreversible, so the catalogue keeps it out of auto mode."""
    playbooks = {p.id: p for p in load_playbooks([bundled_playbook_dir()]).playbooks}
    assert playbooks["okta.user.inactive"].mode.value == "approval"
    assert playbooks["okta.api_token.stale"].mode.value == "approval"
    assert ACTIONS["okta.api_token.revoke"].reversible is False
