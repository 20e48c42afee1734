"""End to end: a campaign's writes and its rollback reach an evidence bundle through the audit chain."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.testing import WorkflowEnvironment

from mendflow.evidence.bundle import snapshot_path
from mendflow.evidence.export import export_evidence
from mendflow.evidence.verify import verify_bundle
from mendflow.runtime.worker import build_worker
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus
from tests.conftest import SimulatedOrg
from tests.signing import signed_request
from tests.workflows.campaigns import RBAC, hook_playbook, settings, start_campaign


async def test_campaign_changes_and_restores_are_exported_with_their_states(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """Each verified write and each restore of a rolled-back campaign is one `changes.jsonl` entry whose before and
    after snapshots are in the bundle; a restore's before is what the write put there."""
    playbook = hook_playbook(mode="auto")
    context = WorkerContext(
        registry=github_org.registry(), data_dir=tmp_path / "d", playbooks={playbook.id: playbook}, settings=settings()
    )
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, context, task_queue=queue):
        handle = await start_campaign(time_env.client, queue, playbook)
        await handle.execute_update("wait_idle", result_type=CampaignStatus)
        request = signed_request(handle.id, "rollback", "alice", RBAC, "on-call")
        await handle.execute_update("rollback", request, result_type=str)
        await handle.result()
    now = datetime.now(UTC)
    exported = export_evidence(
        context.database,
        since=now - timedelta(hours=1),
        until=now + timedelta(hours=1),
        framework=None,
        key=Ed25519PrivateKey.generate(),
    )
    context.close()
    verify_bundle(exported.files)
    changes = [json.loads(line) for line in exported.files["changes.jsonl"].splitlines()]
    assert sorted((c["resource"], c["result"]) for c in changes) == [
        ("/repos/acme/api/hooks/11", "restored"),
        ("/repos/acme/api/hooks/11", "verified"),
        ("/repos/acme/web/hooks/21", "restored"),
        ("/repos/acme/web/hooks/21", "verified"),
    ]
    for resource in ("/repos/acme/api/hooks/11", "/repos/acme/web/hooks/21"):
        write, restore = [c for c in changes if c["resource"] == resource]
        assert restore["before"] == write["after"] and restore["after"] == write["before"]
        assert json.loads(exported.files[snapshot_path(write["after"])]) == {"insecure_ssl": "0"}
