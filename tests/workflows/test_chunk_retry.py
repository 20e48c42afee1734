"""A retried `apply_changes` chunk (its worker died) against the simulated org, without a workflow: what it may
skip on the strength of the failures an earlier attempt recorded."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from temporalio.testing import ActivityEnvironment

from activities.remediation import RemediationActivities
from mendflow.models import Change, Outcome, ResourceRef
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import ChangesInput
from tests.conftest import SimulatedOrg
from tests.workflows.campaigns import HOOKS, hook_configs, hook_playbook, settings


async def test_a_retried_chunk_past_its_failures_still_reports_a_change_the_dead_attempt_may_have_written(
    github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """Attempt 1 recorded change 0 failed and wrote change 1 but died before recording it. Attempt 2 must not
    report change 1 "not started" (None) because the failures are past the threshold: the workflow would drop it
    from the rollback order, and the campaign's rollback would leave the write in place, unaudited."""
    playbook = hook_playbook(mode="auto")
    assert playbook.respond is not None
    context = WorkerContext(
        registry=github_org.registry(), data_dir=tmp_path / "d", playbooks={playbook.id: playbook}, settings=settings()
    )
    changes = [
        Change(
            resource=ResourceRef(type=playbook.resource, id=rid),
            action=playbook.respond.action,
            before={"insecure_ssl": "1"},
            after={"insecure_ssl": "0"},
        )
        for rid in HOOKS
    ]
    hook_id = int(HOOKS[1].rsplit("/", 1)[1])
    for hook in github_org.state.repo("web")["_hooks"]:  # the dead attempt's write of change 1
        if hook["id"] == hook_id:
            hook["config"]["insecure_ssl"] = "0"
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        attempt=2,
        heartbeat_details=[{"done": {"0": {"outcome": "failed", "detail": "refused"}}}],
    )
    try:
        result = await env.run(
            RemediationActivities(context).apply_changes,
            ChangesInput(
                tenant_key=github_org.connection.key,
                playbook_id=playbook.id,
                changes=changes,
                concurrency=2,
                failures_allowed=0,
            ),
        )
    finally:
        context.close()
    assert result.outcomes[0] is not None and result.outcomes[0].outcome == Outcome.failed
    assert result.outcomes[1] is not None, "a change the dead attempt may have written reported as never started"
    assert result.outcomes[1].outcome == Outcome.verified
    assert hook_configs(github_org.state)[hook_id]["insecure_ssl"] == "0"
