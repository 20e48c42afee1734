"""Why findings resolve, through real scans and campaigns (dev server, simulated GitHub, the shared ledger).

One org, three scans: auto campaigns fix and verify their findings (`fixed by mendflow`); a person fixes a finding
whose campaign still waits for approval (`fixed elsewhere`); a repository is deleted (`resource deleted`). Risk
scores and compliance references are stored with every finding scanned through Temporal.
"""

from __future__ import annotations

import uuid

import pytest
from temporalio.testing import WorkflowEnvironment

from mendflow.findings.store import FindingStatus, LedgerRow, Resolution
from mendflow.findings.view import FindingFilter, list_findings
from mendflow.runtime.worker import build_worker
from mendflow.settings import Settings
from mendflow.worker_context import WorkerContext
from tests.conftest import SimulatedOrg
from tests.workflows.helpers import campaign_results, run_scan

pytestmark = pytest.mark.slow

HOOK = ("github.repo_hook.insecure_ssl", "/repos/acme/api/hooks/11")
BASE_PERMISSION = ("github.org.base_permission_not_strict", "/orgs/acme")
DOCS_UNPROTECTED = ("github.repo.default_branch_unprotected", "/repos/acme/docs")


def row(context: WorkerContext, key: tuple[str, str]) -> LedgerRow:
    return next(r for r in context.ledger.rows("github:acme") if (r.finding.rule, r.finding.resource.id) == key)


async def test_each_way_a_finding_disappears_is_recorded_with_its_reason(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, worker_context: WorkerContext
) -> None:
    """Verified by a campaign, fixed by hand, resource deleted: three reasons, each shown by `findings`."""
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(dev_env.client, worker_context, task_queue=queue):
        first = await run_scan(dev_env.client, queue)
        await campaign_results(dev_env.client, first)  # auto ones verified; approval ones wait for a person
        hook = row(worker_context, HOOK)
        assert (hook.status, hook.resolution) == (FindingStatus.resolved, Resolution.fixed_by_mendflow)
        waiting = row(worker_context, BASE_PERMISSION)
        assert waiting.status is FindingStatus.remediating and waiting.campaign

        github_org.state.org["default_repository_permission"] = "read"  # a person fixes it in the vendor's UI
        await run_scan(dev_env.client, queue)
        fixed = row(worker_context, BASE_PERMISSION)
        assert (fixed.status, fixed.resolution) == (FindingStatus.resolved, Resolution.fixed_elsewhere)

        assert row(worker_context, DOCS_UNPROTECTED).status is not FindingStatus.resolved
        github_org.state.repos[:] = [r for r in github_org.state.repos if r["name"] != "docs"]
        third = await run_scan(dev_env.client, queue)
        assert third.gaps == []
        deleted = row(worker_context, DOCS_UNPROTECTED)
        assert (deleted.status, deleted.resolution) == (FindingStatus.resolved, Resolution.resource_deleted)
        assert deleted.first_seen == hook.first_seen  # identity kept across the three scans

    shown = {(v.rule, v.resource): v for v in list_findings(worker_context.ledger, FindingFilter()).findings}
    assert shown[HOOK].resolution is Resolution.fixed_by_mendflow
    assert shown[BASE_PERMISSION].resolution is Resolution.fixed_elsewhere
    assert shown[DOCS_UNPROTECTED].resolution is Resolution.resource_deleted


async def test_findings_scanned_through_temporal_carry_risk_and_compliance(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, worker_context: WorkerContext
) -> None:
    """The live path scores risk as offline scans do (public repository ×2, criticality from mendflow.yaml) and
    keeps compliance refs."""
    worker_context.settings = Settings.model_validate({"criticality": {"resources": {"/repos/acme/infra": "critical"}}})
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(dev_env.client, worker_context, task_queue=queue):
        await run_scan(dev_env.client, queue)
    rows = worker_context.ledger.rows("github:acme")
    assert rows and all(r.finding.risk is not None for r in rows)
    docs = row(worker_context, DOCS_UNPROTECTED).finding
    infra = row(worker_context, ("github.repo.default_branch_unprotected", "/repos/acme/infra")).finding
    assert docs.risk is not None and infra.risk is not None
    assert (docs.risk.score, infra.risk.score) == (80, 60)  # high ×4; docs is public (×2), infra critical (×1.5)
    assert "public repository" in docs.risk.explanation
    assert "SOC2:CC8.1" in docs.compliance
