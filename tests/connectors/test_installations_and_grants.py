"""GitHub App installations and Okta OAuth apps' scope grants, collected over loopback from generated tenants:
read only when a loaded rule applies, re-read by `fetch`, a forbidden listing is a gap, and the shipped
playbooks flag the broad ones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mendflow.actions import ACTIONS
from mendflow.connectors.registry import get_action
from mendflow.errors import ActionError
from mendflow.models import Resource, ResourceRef
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.rules import Demand, compile_rules
from mendflow.sim.common import FaultPlan
from mendflow.sim.generate import github_tenant, okta_tenant
from mendflow.tenant import TenantFile, parse_tenant
from tests.connectors.conftest import Served, serve

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
INSTALLATION, GRANT = "github.app_installation", "okta.oauth_grant"


def _rules(*ids: str) -> Demand:
    playbooks = [p for p in load_playbooks([bundled_playbook_dir()]).playbooks if p.id in ids]
    assert len(playbooks) == len(ids)
    return Demand(compile_rules(playbooks))


def _github() -> TenantFile:
    return parse_tenant(github_tenant(repos=3, members=3), source="generated")


def _okta() -> TenantFile:
    return parse_tenant(okta_tenant(users=20), source="generated")


async def _collect(served: Served, demand: Demand | None) -> tuple[list[Resource], list[str], int]:
    async with served.session() as session:
        found = [r async for r in session.collector.collect(demand)]
        return found, [g.endpoint for g in session.collector.gaps], session.http.requests_made


async def test_installations_are_collected_with_their_access_and_re_read_by_fetch() -> None:
    """Each app installed on the org is a resource at /app/installations/{id} carrying repository_selection,
    permissions and events; fetch re-reads one from the org's listing, and one no longer installed is gone."""
    with serve(_github()) as served:
        found, gaps, _ = await _collect(served, _rules("github.app_installation.broad_access"))
        installations = {r.id: r.data for r in found if r.type == INSTALLATION}
        assert gaps == []
        assert {i["app_slug"]: i["repository_selection"] for i in installations.values()} == {
            "issue-labeler": "selected",
            "security-scanner": "all",
            "release-bot": "selected",
        }
        first = next(iter(installations))
        assert installations[first]["permissions"] == {"metadata": "read", "issues": "write"}
        async with served.session() as session:
            again = await session.collector.fetch(ResourceRef(type=INSTALLATION, id=first))
            gone = await session.collector.fetch(ResourceRef(type=INSTALLATION, id="/app/installations/1"))
    assert again is not None and again.data == installations[first]
    assert gone is None


async def test_installations_are_not_read_without_a_rule_and_a_forbidden_listing_is_a_gap() -> None:
    """No loaded rule on installations: no request for them. An owner-only listing answered 403: a coverage gap
    named by its endpoint, and the scan goes on."""
    with serve(_github()) as served:
        without, _, requests_without = await _collect(served, _rules("github.repo.secret_scanning_disabled"))
        with_rule, _, requests_with = await _collect(served, _rules("github.app_installation.broad_access"))
    assert not [r for r in without if r.type == INSTALLATION]
    assert len([r for r in with_rule if r.type == INSTALLATION]) == 3
    assert requests_with == requests_without + 1
    forbidden = FaultPlan(forbidden=("GET /orgs/*/installations",))
    with serve(_github(), forbidden) as served:
        found, gaps, _ = await _collect(served, _rules("github.app_installation.broad_access"))
    assert gaps == ["/orgs/acme/installations"] and not [r for r in found if r.type == INSTALLATION]
    assert [r for r in found if r.type == "github.org"]


async def test_oauth_apps_grants_are_collected_with_their_app_and_re_read_by_fetch() -> None:
    """Grants are read for OAuth (OPENID_CONNECT) apps only, each at /api/v1/apps/{appId}/grants/{id} with its
    app in `related.app`; fetch re-reads one, and a revoked one is gone."""
    tenant = _okta()
    section = tenant.section()
    oauth = {a["id"] for a in section["apps"] if a["signOnMode"] == "OPENID_CONNECT"}
    with serve(tenant) as served:
        found, gaps, _ = await _collect(served, _rules("okta.oauth_grant.scope_beyond_baseline"))
        grants = [r for r in found if r.type == GRANT]
        assert gaps == [] and len(oauth) == 6
        assert len(grants) == len(section["grants"]) == 14
        assert {r.related["app"]["id"] for r in grants} == oauth
        assert all(r.id == f"/api/v1/apps/{r.data['clientId']}/grants/{r.data['id']}" for r in grants)
        assert all(r.related["app"]["signOnMode"] == "OPENID_CONNECT" for r in grants)
        async with served.session() as session:
            again = await session.collector.fetch(ResourceRef(type=GRANT, id=grants[0].id))
            await session.http.request("DELETE", grants[0].id)
            gone = await session.collector.fetch(ResourceRef(type=GRANT, id=grants[0].id))
    assert again is not None and again.data == grants[0].data and again.related == grants[0].related
    assert gone is None


async def test_grants_are_not_read_without_a_rule() -> None:
    """No loaded rule on grants: not one app's grants is asked for."""
    with serve(_okta()) as served:
        without, _, requests_without = await _collect(served, _rules("okta.user.inactive"))
        _, _, requests_with = await _collect(served, _rules("okta.oauth_grant.scope_beyond_baseline"))
    assert not [r for r in without if r.type == GRANT]
    assert requests_with == requests_without + 6  # one listing per OAuth app


async def test_shipped_playbooks_flag_broad_installations_and_manage_scope_grants() -> None:
    """Over the generated orgs, the app on every repository and the one writing code and workflows are findings
    (the narrow one is not), and so are the grants of manage scopes."""
    playbooks = load_playbooks([bundled_playbook_dir()]).playbooks
    rules = compile_rules(playbooks)
    flagged: dict[str, set[str]] = {}
    for tenant in (_github(), _okta()):
        with serve(tenant) as served:
            found, _, _ = await _collect(served, Demand(rules))
        result = rules.evaluate(found, tenant="t", provider=tenant.provider, as_of=AS_OF)
        by_id = {r.id: r for r in found}
        for finding in result.findings:
            if finding.rule in ("github.app_installation.broad_access", "okta.oauth_grant.scope_beyond_baseline"):
                data = by_id[finding.resource.id].data
                flagged.setdefault(finding.rule, set()).add(data.get("app_slug") or data.get("scopeId"))
    assert flagged == {
        "github.app_installation.broad_access": {"security-scanner", "release-bot"},
        "okta.oauth_grant.scope_beyond_baseline": {"okta.users.manage", "okta.apps.manage"},
    }


async def test_grant_revoke_is_applied_verified_and_cannot_be_restored() -> None:
    """The approval-gated action DELETEs the one grant (the app's other grants stay); `holds` sees it gone and a
    rescan no longer lists it; restore refuses, saying why."""
    action = get_action("okta.oauth_grant.revoke")
    assert action.spec.reversible is False
    params = ACTIONS["okta.oauth_grant.revoke"].params.model_validate({"state": "revoked"})
    with serve(_okta()) as served:
        found, _, _ = await _collect(served, _rules("okta.oauth_grant.scope_beyond_baseline"))
        manage = next(r for r in found if r.type == GRANT and r.data["scopeId"] == "okta.users.manage")
        siblings = {r.id for r in found if r.type == GRANT and r.related["app"]["id"] == manage.related["app"]["id"]}
        async with served.session() as session:
            before = await action.capture(session.http, manage.id, params)
            assert before == {"state": "active"}
            assert await action.apply(session.http, manage.id, params)
            assert await action.holds(session.http, manage.id, {"state": "revoked"})
            with pytest.raises(ActionError, match="cannot be restored"):
                await action.restore(session.http, manage.id, before)
        again, _, _ = await _collect(served, _rules("okta.oauth_grant.scope_beyond_baseline"))
    left = {r.id for r in again if r.type == GRANT and r.related["app"]["id"] == manage.related["app"]["id"]}
    assert left == siblings - {manage.id} and len(left) == 1
