"""Scenario 1 in full (examples/responses/okta_api_token_compromise.yaml) through `mendflow run … --wait`, against
the Okta, Slack and Jira simulators on loopback and the dev server: approve, reject, and a failure that rolls back.

The approval path's history is recorded into tests/histories/response-okta-full-approved.json
(MENDFLOW_RECORD_HISTORIES=1) and replayed with the other released histories by tests/workflows/test_replay.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from mendflow.models import DecisionOutcome, Verdict
from mendflow.redaction import register_secret
from mendflow.responses.messages import FINISHED, ResponseStatus, RunState, StepRecord
from mendflow.runtime.responses import wait_response_idle
from mendflow.runtime.worker import build_worker
from mendflow.sim.common import FaultPlan
from mendflow.sim.slack import SlackWorkspace
from mendflow.worker_context import WorkerContext
from tests.integrations.conftest import CHANNEL, SimulatedJira
from tests.signing import signed_decision
from tests.workflows.campaigns import RBAC
from tests.workflows.response_helpers import in_process_cli
from tests.workflows.response_sites import connected, jira_site, okta_site, slack_site, worker_context

EXAMPLE = Path(__file__).parents[2] / "examples" / "responses" / "okta_api_token_compromise.yaml"
HISTORIES = Path(__file__).parent.parent / "histories"
TOKEN, OWNER = "00T00000000000001sim", "00u00000000000001sim"


@dataclass
class Site:
    client: Client
    queue: str
    okta: Any
    slack: SlackWorkspace
    jira: SimulatedJira
    context: WorkerContext
    cli: Callable[..., tuple[int, str, str]]


@pytest.fixture
def forbidden() -> tuple[str, ...]:
    """Okta requests the simulator refuses (403) in a test; none unless a test says otherwise."""
    return ()


@pytest.fixture
async def site(
    dev_env: WorkflowEnvironment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    forbidden: tuple[str, ...],
) -> AsyncIterator[Site]:
    monkeypatch.setenv("MENDFLOW_TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    queue = f"q-{uuid.uuid4()}"

    cli = in_process_cli(monkeypatch, capsys)

    faults = FaultPlan(forbidden=forbidden)
    with (
        okta_site(monkeypatch, "MENDFLOW_OKTA_FULL_TOKEN", faults=faults) as okta,
        slack_site() as slack,
        jira_site() as jira,
    ):
        context = worker_context(tmp_path, okta.connection, settings=connected(slack, jira, monkeypatch))
        async with build_worker(dev_env.client, context, task_queue=queue):
            yield Site(dev_env.client, queue, okta.okta, slack, jira, context, cli)


def _step(status: ResponseStatus, step_id: str) -> StepRecord:
    return next(step for step in status.steps if step.id == step_id)


def _statuses(status: ResponseStatus) -> dict[str, str]:
    return {step.id: step.status.value for step in status.steps}


def _user(site: Site) -> dict[str, Any]:
    return next(u for u in site.okta.users if u["id"] == OWNER)


def _token_exists(site: Site) -> bool:
    return any(t["id"] == TOKEN for t in site.okta.api_tokens)


def _posted(site: Site, channel: str) -> list[str]:
    return [s.text for s in site.slack.history if s.kind == "post" and s.channel == channel]


async def _run_until_approval(site: Site) -> str:
    """`mendflow run … --wait` stops at the approval with the evidence kept; returns the run id."""
    site.okta.log("user.session.start", {"id": OWNER, "type": "User"}, "User login to Okta")  # for the timeline
    code, out, err = await asyncio.to_thread(
        site.cli, "run", str(EXAMPLE), "--input", f"token_id={TOKEN}",
        "--task-queue", site.queue, "--wait", "--format", "json", "--as", "carol",
    )  # fmt: skip
    assert code == 0, err
    waiting = ResponseStatus.model_validate_json(out)
    assert waiting.state is RunState.awaiting_approval and _step(waiting, "approval").status.value == "waiting"
    assert _token_exists(site) and _user(site)["status"] == "ACTIVE"  # nothing changed before the approval
    return waiting.run_id


async def _decide(site: Site, run_id: str, verdict: Verdict, reason: str = "") -> ResponseStatus:
    handle = site.client.get_workflow_handle(run_id, result_type=ResponseStatus)
    decision = signed_decision(run_id, "bob", RBAC, verdict, reason or "confirmed leak")
    await handle.execute_update("decide", decision, result_type=DecisionOutcome)
    # Not handle.result(): a run `mendflow run` starts keeps its captured state for a rollback after the end.
    done = await wait_response_idle(site.client, run_id)
    for _ in range(100):  # the decision may be answered before the run has moved on from its gate
        if done.state in FINISHED:
            break
        await asyncio.sleep(0.1)
        done = await wait_response_idle(site.client, run_id)
    assert done.state in FINISHED, done.state
    return done


async def test_approved_the_token_grants_and_sessions_end_the_owner_is_told_and_an_incident_is_opened(
    site: Site,
) -> None:
    """Every write happens after the approval; the owner gets a DM, the channel a notice, Jira an incident with the
    run's timeline, and the evidence (roles, groups, apps, the owner's tokens, System Log events) is kept by digest."""
    run_id = await _run_until_approval(site)
    grants_before = [g for g in site.okta.grants if g.get("userId") == OWNER]
    done = await _decide(site, run_id, Verdict.approve)
    assert done.state is RunState.completed and set(_statuses(done).values()) == {"done", "approved"}
    assert not _token_exists(site) and _user(site)["status"] == "SUSPENDED"
    assert grants_before and not [g for g in site.okta.grants if g.get("userId") == OWNER]
    assert site.okta.sessions.get(OWNER) == 0
    dm = _step(done, "tell_owner").output  # found by the owner's e-mail address (alice@acme.example)
    assert dm["delivered"] and dm["channel"].startswith("D") and "was revoked" in _posted(site, dm["channel"])[0]
    assert ("users.lookupByEmail", {"email": "alice@acme.example"}) in site.slack.calls
    assert any("approved" in text for text in _posted(site, CHANNEL))
    evidence = next(iter(site.context.snapshots.read_lines(_step(done, "evidence").output["digest"])))["values"]
    assert {t["userId"] for t in evidence["tokens"]} == {OWNER} and evidence["owner"]["id"] == OWNER
    assert any(e["eventType"] == "user.session.start" for e in evidence["events"])
    assert isinstance(evidence["roles"], list) and isinstance(evidence["groups"], list)
    key = _step(done, "incident").output["key"]
    issue = site.jira.state.issue(key)
    assert issue.summary == "Okta API token ci-sync compromised (approved)" and "incident" in issue.labels
    text = str(issue.description)
    assert _step(done, "evidence").output["digest"] in text and "1 System Log events" in text
    assert "revoke (action): done" in text and "suspend (action): done" in text  # the run's timeline
    record = next(iter(site.context.snapshots.read_lines(_step(done, "record").output["digest"])))["values"]
    assert record["ticket"]["key"] == key and record["decision"]["approvers"] == ["bob"]
    if os.environ.get("MENDFLOW_RECORD_HISTORIES"):
        history = await site.client.get_workflow_handle(run_id).fetch_history()
        saved = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
        (HISTORIES / "response-okta-full-approved.json").write_text(json.dumps(saved, indent=1))


async def test_rejected_nothing_changes_the_owner_is_not_told_and_the_ticket_says_so(site: Site) -> None:
    """A rejection skips every write and the DM; the channel notice and the incident record the decision."""
    run_id = await _run_until_approval(site)
    done = await _decide(site, run_id, Verdict.reject, "a known CI job, not a leak")
    statuses = _statuses(done)
    assert done.state is RunState.completed and statuses["approval"] == "rejected"
    for step_id in ("revoke", "revoke_grants", "clear_sessions", "suspend", "tell_owner"):
        assert statuses[step_id] == "skipped", step_id
    assert _token_exists(site) and _user(site)["status"] == "ACTIVE" and site.okta.sessions.get(OWNER) != 0
    assert not [s for s in site.slack.history if s.channel.startswith("D")]
    issue = site.jira.state.issue(_step(done, "incident").output["key"])
    assert issue.summary.endswith("(rejected)") and "a known CI job, not a leak" in str(issue.description)
    if os.environ.get("MENDFLOW_RECORD_HISTORIES"):
        history = await site.client.get_workflow_handle(run_id).fetch_history()
        saved = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
        (HISTORIES / "response-okta-full-rejected.json").write_text(json.dumps(saved, indent=1))


@pytest.mark.parametrize("forbidden", [("POST /api/v1/users/*/lifecycle/suspend",)])
async def test_a_suspension_okta_refuses_rolls_the_run_back_and_opens_no_incident(site: Site) -> None:
    """Okta refuses the suspension (403): the step fails, `on_failure: rollback` ends the run rolled back with the
    owner still active; the revocations before it cannot be undone and stay (the timeline says so)."""
    run_id = await _run_until_approval(site)
    done = await _decide(site, run_id, Verdict.approve)
    statuses = _statuses(done)
    assert done.state is RunState.rolled_back and statuses["suspend"] == "failed"
    assert "403" in _step(done, "suspend").detail or "refused" in _step(done, "suspend").detail
    assert statuses["revoke"] == statuses["clear_sessions"] == "done"  # irreversible: not restored
    assert statuses["incident"] == statuses["tell"] == "pending" and not site.jira.state.issues
    assert _user(site)["status"] == "ACTIVE" and not _token_exists(site)
    assert [e["event"] for e in done.timeline][-2:] == ["rolling back", "rolled_back"]


async def test_a_secret_in_vendor_objects_reaches_neither_the_ticket_nor_slack(site: Site) -> None:
    """A canary secret planted in the token's name is masked before it reaches the incident, the notice or the
    run's history."""
    canary = "canary-" + secrets.token_hex(12)
    register_secret(canary)
    next(t for t in site.okta.api_tokens if t["id"] == TOKEN)["name"] = canary
    run_id = await _run_until_approval(site)
    done = await _decide(site, run_id, Verdict.reject, "checking")
    issue = site.jira.state.issue(_step(done, "incident").output["key"])
    assert "[REDACTED]" in issue.summary
    history = json.dumps((await site.client.get_workflow_handle(run_id).fetch_history()).to_json_dict())
    for text in (str(issue), site.slack.all_text(), history):
        assert canary not in text
