"""Dry-run plans: per playbook and resource, what would change — read through the real connector, nothing written."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import timedelta
from typing import Any

import pytest

from mendflow.actions import HookConfigParams
from mendflow.connectors.registry import get_action, open_session
from mendflow.data import demo_tenant_path
from mendflow.errors import VendorError
from mendflow.offline import SimulatedTenant, simulated_tenant
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.playbooks.model import Mode, Playbook
from mendflow.playbooks.plan import TenantPlan, plan_on, plan_tenant, plan_tenant_file, render_plan
from mendflow.rbac import RbacConfig
from mendflow.sim.github import GithubState
from mendflow.tenant import load_tenant_file


@pytest.fixture(scope="module")
def shipped() -> list[Playbook]:
    return load_playbooks([bundled_playbook_dir()]).playbooks


@pytest.fixture(scope="module")
def demo_plan(shipped: list[Playbook]) -> TenantPlan:
    return plan_tenant_file(demo_tenant_path(), shipped)


def state_of(state: GithubState) -> dict[str, Any]:
    return copy.deepcopy(
        {
            "org": state.org,
            "members": state.members,
            "memberships": state.memberships,
            "outside": state.outside_collaborators,
            "hooks": state.hooks,
            "repos": state.repos,
        }
    )


def test_plan_shows_each_acting_playbooks_before_and_after_per_resource(demo_plan: TenantPlan) -> None:
    """The auto hook fix lists both demo hooks, in rollout order, with the value read from the vendor."""
    hooks = next(p for p in demo_plan.playbooks if p.playbook_id == "github.repo_hook.insecure_ssl")
    assert (hooks.mode, hooks.action, hooks.reversible, hooks.report_only) == (
        Mode.auto,
        "github.repo_hook.update_config",
        True,
        False,
    )
    assert [(c.resource.id, c.batch, c.before, c.after) for c in hooks.changes] == [
        ("/repos/acme/api/hooks/11", "canary", {"insecure_ssl": "1"}, {"insecure_ssl": "0"}),
        ("/repos/acme/web/hooks/21", "batch 2", {"insecure_ssl": "1"}, {"insecure_ssl": "0"}),
    ]
    assert all(c.changes and c.risk is not None for c in hooks.changes)
    assert (hooks.canary, hooks.batches, hooks.approvers) == (1, ("100%",), ())


def test_plan_resolves_approvers_for_approval_playbooks_as_the_workflow_does(shipped: list[Playbook]) -> None:
    """Approval playbooks show the RBAC approvers and required count; a config can name others."""
    default = plan_tenant_file(demo_tenant_path(), shipped)
    base = next(p for p in default.playbooks if p.playbook_id == "github.org.base_permission_not_strict")
    assert base.approvers == ("group:secops-oncall",) and base.required_approvals == 1
    assert base.approval_timeout == timedelta(days=1)
    assert [(c.before, c.after) for c in base.changes] == [
        ({"default_repository_permission": "write"}, {"default_repository_permission": "read"})
    ]
    rbac = RbacConfig(approvers_by_playbook={"github.org.base_permission_not_strict": ("user:alice", "user:bob")})
    custom = plan_tenant_file(demo_tenant_path(), shipped, rbac=rbac)
    base = next(p for p in custom.playbooks if p.playbook_id == "github.org.base_permission_not_strict")
    assert base.approvers == ("user:alice", "user:bob")


def test_notify_and_detect_only_playbooks_are_report_only(demo_plan: TenantPlan) -> None:
    """They list findings and plan no change."""
    reported = {p.playbook_id for p in demo_plan.playbooks if p.report_only}
    assert {"github.org.two_factor_not_required", "github.repo.default_branch_unprotected"} <= reported
    for plan in demo_plan.playbooks:
        if plan.report_only:
            assert plan.changes == [] and plan.mode is Mode.notify


def test_planning_leaves_the_simulator_state_unchanged(shipped: list[Playbook]) -> None:
    """The simulator's whole state is identical before and after planning every shipped playbook."""
    tenant = load_tenant_file(demo_tenant_path())
    with simulated_tenant(tenant) as sim:
        before = state_of(sim.state)
        plan = plan_on(sim, shipped)
        after = state_of(sim.state)
    assert sum(len(p.changes) for p in plan.playbooks) >= 7
    assert after == before
    assert plan.refused_writes == []


def test_planning_serves_the_tenant_read_only() -> None:
    """Behind the planner's simulator, a write through the real action is refused and nothing changes."""
    tenant = load_tenant_file(demo_tenant_path())
    action = get_action("github.repo_hook.update_config")

    async def try_to_write(sim: SimulatedTenant) -> None:
        async with open_session(sim.connection, token=sim.token) as session:
            await action.apply(session.http, "/repos/acme/api/hooks/11", HookConfigParams(insecure_ssl="0"))

    with simulated_tenant(tenant, read_only=True) as sim:
        before = state_of(sim.state)
        with pytest.raises(VendorError, match="HTTP 405"):
            asyncio.run(try_to_write(sim))
        assert state_of(sim.state) == before
        assert sim.refused_writes == ["PATCH /repos/acme/api/hooks/11/config"]


def test_a_resource_already_as_intended_is_planned_as_nothing_to_write(shipped: list[Playbook]) -> None:
    """A finding whose action fields already hold the target is shown, with a note, as no change."""
    hooks = next(p for p in shipped if p.id == "github.repo_hook.insecure_ssl")
    odd = hooks.model_copy(
        update={"detect": hooks.detect.model_copy(update={"when": 'resource.config.content_type == "json"'})}
    )
    plan = plan_tenant(load_tenant_file(demo_tenant_path()), [odd])
    notes = {c.resource.id: (c.note, c.changes) for c in plan.playbooks[0].changes}
    assert notes["/repos/acme/api/hooks/12"] == ("already as intended: nothing to write", False)
    assert notes["/repos/acme/api/hooks/11"] == ("", True)


def test_table_groups_by_playbook_and_json_round_trips(demo_plan: TenantPlan) -> None:
    """The table names mode, rollout, approvers and each diff; the JSON form validates back to the same plan."""
    text = render_plan(demo_plan)
    assert "nothing was written" in text
    assert "github.repo_hook.insecure_ssl — Repository webhooks must verify TLS certificates" in text
    assert "insecure_ssl: 1 → 0" in text and "rollout: canary 1, then 100%" in text
    assert "1 approval(s) from group:secops-oncall" in text
    assert "Report only" in text and "github.org.two_factor_not_required" in text
    assert TenantPlan.model_validate(json.loads(demo_plan.model_dump_json())) == demo_plan


def test_batches_approvers_escalation_and_ticket_are_shown_as_the_rollout_would_run() -> None:
    """Canary 1 then 50%/100% of the rest over five hooks; a ticket-mode gate names its approvers and escalation."""
    from mendflow.playbooks.cases import tenant_for_case

    playbook = Playbook.model_validate(
        {
            "apiVersion": "mendflow/v1",
            "id": "github.repo_hook.insecure_ssl",
            "title": "Repository webhooks must verify TLS certificates",
            "resource": "github.repo_hook",
            "detect": {"when": 'resource.config.insecure_ssl == "1"', "severity": "high"},
            "respond": {
                "mode": "ticket",
                "action": "github.repo_hook.update_config",
                "with": {"insecure_ssl": "0"},
                "approval": {"approvers": ["group:platform"], "timeout": "2d", "escalate_after": "4h"},
                "rollout": {"canary": 1, "batches": ["50%", "100%"], "bake": "10m"},
                "ticket": {"project": "SEC"},
            },
            "tests": [
                {
                    "name": "five hooks",
                    "resources": [
                        {"id": f"/repos/acme/api/hooks/{n}", "data": {"config": {"insecure_ssl": "1"}}}
                        for n in range(1, 6)
                    ],
                    "expect": {"findings": []},
                }
            ],
        }
    )
    plan = plan_tenant(tenant_for_case(playbook, playbook.tests[0]), [playbook])
    (hooks,) = plan.playbooks
    assert [c.batch for c in hooks.changes] == ["canary", "batch 2", "batch 2", "batch 3", "batch 3"]
    text = render_plan(plan)
    assert "1 approval(s) from group:platform, expires after 2d, escalate after 4h" in text
    assert "Jira ticket in SEC" in text
    assert "rollout: canary 1, then 50%, 100%; bake 10m" in text
    assert (
        "5 finding(s); 1 playbook(s) would change 5 resource(s) (0 automatically, 5 after approval or ticket)" in text
    )


def test_playbooks_for_other_vendors_are_left_out_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A GitHub tenant is planned with GitHub playbooks only; the others are listed as left out."""
    from mendflow.playbooks import model as playbook_module

    monkeypatch.setitem(playbook_module.RESOURCE_TYPES, "example.thing", "/things/{id}")
    other = Playbook.model_validate(
        {
            "apiVersion": "mendflow/v1",
            "id": "example.thing.bad",
            "title": "t",
            "resource": "example.thing",
            "detect": {"when": "resource.bad == true", "severity": "low"},
        }
    )
    hooks = next(
        p for p in load_playbooks([bundled_playbook_dir()]).playbooks if p.id == "github.repo_hook.insecure_ssl"
    )
    plan = plan_tenant_file(demo_tenant_path(), [hooks, other])
    assert [p.playbook_id for p in plan.playbooks] == ["github.repo_hook.insecure_ssl"]
    assert plan.other_providers == ["example.thing.bad"]
    assert "1 for other providers left out" in render_plan(plan)
