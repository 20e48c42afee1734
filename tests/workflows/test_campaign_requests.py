"""Vendor requests per campaign target, counted on the simulator's side: one re-read to prepare (rule and capture
together), one write without a read before it, one re-read to verify (rule and fields together). A regression
here multiplies every campaign's cost and its share of the tenant's rate limit."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from mendflow.campaigns.windows import ChangePolicy
from mendflow.connectors.registry import open_session
from mendflow.models import ResourceRef
from mendflow.playbooks.model import Playbook
from mendflow.rules import compile_rules
from mendflow.rules.demand import Demand
from mendflow.runtime.scans import wait_idle
from mendflow.runtime.worker import build_worker
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus
from tests.workflows.campaigns import findings_for, hook_playbook, settings
from tests.workflows.scale import ScaleOrg, campaign_input, scale_org
from workflows.remediation import PREVIEW_TARGETS

TARGETS = 12


def _kinds(org: ScaleOrg) -> Counter[str]:
    """What the simulator served, by kind: writes, hook reads, hook config reads, repository reads."""
    kinds: Counter[str] = Counter()
    for method, path in org.gate.seen:
        parts = path.strip("/").split("/")
        if method != "GET":
            kinds[method] += 1
        elif parts[0] == "repos" and len(parts) == 3:
            kinds["repo"] += 1
        elif parts[-1] == "config":
            kinds["config"] += 1
        elif len(parts) == 5 and parts[3] == "hooks":
            kinds["hook"] += 1
        else:
            kinds[path] += 1
    return kinds


async def _run(env: WorkflowEnvironment, org: ScaleOrg, playbook: Playbook, tmp_path: Path) -> CampaignStatus:
    """A campaign of `playbook` over the org's hooks on a worker of its own, followed until idle."""
    context = WorkerContext(
        registry=org.registry(),
        data_dir=tmp_path / "d",
        playbooks={playbook.id: playbook},
        settings=settings(ChangePolicy(default_writes_per_minute=10_000)),
    )
    request = campaign_input(playbook, findings=findings_for(playbook, org.hooks))
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(env.client, context, task_queue=queue):
        await env.client.start_workflow("RemediationWorkflow", request, id=request.campaign_id, task_queue=queue)
        done = await wait_idle(env.client, request.campaign_id)
    context.close()
    return done


async def _campaign(env: WorkflowEnvironment, org: ScaleOrg, playbook: Playbook, tmp_path: Path) -> Counter[str]:
    done = await _run(env, org, playbook, tmp_path)
    assert done.state == "completed" and done.totals == {"verified": TARGETS} and org.insecure() == 0
    return _kinds(org)


async def test_a_target_costs_one_read_to_prepare_one_write_and_one_read_to_verify(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule on the hook alone: per target one hook read to prepare, one PATCH, one hook read to verify; never the
    repository, never the config endpoint separately (an auto campaign's plan reads no preview: nobody reviews it)."""
    with scale_org(TARGETS, monkeypatch=monkeypatch) as org:
        kinds = await _campaign(dev_env, org, hook_playbook(mode="auto"), tmp_path)
    assert kinds == Counter({"PATCH": TARGETS, "hook": 2 * TARGETS}), kinds


async def test_a_campaign_awaiting_approval_has_read_the_preview_its_approvers_see(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gated: the plan reads the first targets' current fields for the card's before → after, and nothing else
    until someone approves."""
    with scale_org(TARGETS, monkeypatch=monkeypatch) as org:
        done = await _run(dev_env, org, hook_playbook(mode="approval"), tmp_path)
        kinds = _kinds(org)
    assert done.state == "awaiting_approval" and done.plan is not None
    assert kinds == Counter({"config": min(TARGETS, PREVIEW_TARGETS)}), kinds
    assert {t.resource.id: t.current for t in done.plan.targets} == {h: {"insecure_ssl": "1"} for h in org.hooks}


async def test_the_repository_is_read_only_while_the_rule_can_use_it(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule that also reads the hook's repository: the repository is read when preparing (the rule may fire),
    not when verifying (the fixed hook alone already says the rule cannot fire)."""
    playbook = hook_playbook(mode="auto")
    playbook = Playbook.model_validate(
        playbook.model_dump(by_alias=True)
        | {
            "detect": {
                "when": 'string(resource.config.insecure_ssl) == "1" && !related.repo.archived',
                "severity": "high",
            }
        }
    )
    with scale_org(TARGETS, monkeypatch=monkeypatch) as org:
        kinds = await _campaign(dev_env, org, playbook, tmp_path)
    assert kinds == Counter({"PATCH": TARGETS, "hook": 2 * TARGETS, "repo": TARGETS}), kinds


async def test_a_rule_that_cannot_decide_on_the_re_read_fails_the_target_with_its_reason(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-read decides the rule without building a finding; when it cannot decide (here: a division by zero),
    the target fails with the engine's reason and nothing is written."""
    playbook = hook_playbook(mode="auto")
    playbook = Playbook.model_validate(
        playbook.model_dump(by_alias=True)
        | {"detect": {"when": "int(resource.config.insecure_ssl) / 0 == 1", "severity": "high"}}
    )
    with scale_org(2, monkeypatch=monkeypatch) as org:
        done = await _run(dev_env, org, playbook, tmp_path)
        assert org.insecure() == 2 and not org.gate.writes
    details = [c.detail for c in done.changes]
    assert details and all(f"rule {playbook.id} cannot be evaluated on /repos/acme/" in d for d in details), details
    assert all("division by zero" in d or "divide by zero" in d for d in details), details


@pytest.mark.parametrize(
    ("when", "protection_read"),
    [
        ('resource.visibility == "public"', False),
        ("related.default_branch_protection == null", True),
    ],
)
async def test_a_repository_re_read_reads_branch_protection_only_for_a_rule_that_uses_it(
    monkeypatch: pytest.MonkeyPatch, when: str, protection_read: bool
) -> None:
    """Re-reading a repository with a Demand: one request when the rule reads only the repository; its default
    branch's protection and rulesets as well when the rule could use them (as a full scan decides)."""
    playbook = Playbook.model_validate(
        hook_playbook(mode="auto").model_dump(by_alias=True)
        | {"resource": "github.repo", "detect": {"when": when, "severity": "high"}, "respond": None}
    )
    with scale_org(2, monkeypatch=monkeypatch) as org:
        repo = "/" + "/".join(org.hooks[0].strip("/").split("/")[:3])
        async with open_session(org.connection) as session:
            found = await session.collector.fetch(
                ResourceRef(type="github.repo", id=repo), Demand(compile_rules([playbook]))
            )
        paths = [path for _, path in org.gate.seen]
    assert found is not None and found.data["full_name"] == repo.removeprefix("/repos/")
    assert paths[0] == repo
    assert (len(paths) > 1) is protection_read, paths
    assert ("default_branch_protection" in found.related) is protection_read
