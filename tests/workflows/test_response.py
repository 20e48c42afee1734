"""Response workflows run end to end: a real dev server, the worker, the Okta simulator over loopback HTTP.

The approval path's history is recorded into tests/histories/response-approved.json (MENDFLOW_RECORD_HISTORIES=1),
which tests/workflows/test_replay.py replays against today's code with every other released history.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from mendflow.api.assemble import build_api
from mendflow.auth.tokens import Role, StoredTokens
from mendflow.models import DecisionOutcome, Verdict
from mendflow.redaction import register_secret
from mendflow.responses import OnFailure, ResponsePlaybook, load_response_file
from mendflow.responses.messages import ResponseStatus, RunState, StepRecord, StepStatus
from mendflow.runtime.client import TemporalSettings
from mendflow.runtime.loopback import serve_in_thread
from mendflow.runtime.responses import start_response, wait_response_idle
from mendflow.runtime.worker import build_worker
from mendflow.settings import Settings
from mendflow.store import Database, database_url
from mendflow.worker_context import WorkerContext
from tests.signing import SIGNER, signed_decision
from tests.workflows.campaigns import RBAC
from tests.workflows.response_helpers import in_process_cli
from tests.workflows.response_sites import okta_site, worker_context

EXAMPLE = Path(__file__).parents[2] / "examples" / "responses" / "okta_api_token_compromise.yaml"
HISTORIES = Path(__file__).parent.parent / "histories"
TOKEN, OWNER = "00T00000000000001sim", "00u00000000000001sim"


@dataclass
class Stack:
    client: Client
    queue: str
    okta: Any
    """The simulator's state."""
    context: WorkerContext
    bearer: str
    """The Okta API token the worker uses (a secret)."""


@pytest.fixture
async def stack(dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stack]:
    queue = f"q-{uuid.uuid4()}"
    with okta_site(monkeypatch, "MENDFLOW_OKTA_RESPONSE_TOKEN") as site:
        context = worker_context(tmp_path, site.connection)
        async with build_worker(dev_env.client, context, task_queue=queue):
            yield Stack(dev_env.client, queue, site.okta, context, site.token)


def _user(stack: Stack, user_id: str) -> dict[str, Any]:
    return next(u for u in stack.okta.users if u["id"] == user_id)


def _token_exists(stack: Stack) -> bool:
    return any(t["id"] == TOKEN for t in stack.okta.api_tokens)


async def _result(stack: Stack, run_id: str) -> ResponseStatus:
    handle = stack.client.get_workflow_handle(run_id, result_type=ResponseStatus)
    result: ResponseStatus = await handle.result()
    return result


def _statuses(status: ResponseStatus) -> dict[str, str]:
    return {step.id: step.status.value for step in status.steps}


def _step(status: ResponseStatus, step_id: str) -> StepRecord:
    return next(step for step in status.steps if step.id == step_id)


async def _until_approval(stack: Stack, definition: ResponsePlaybook, **inputs: Any) -> str:
    run_id = (
        await start_response(
            stack.client, definition, {"token_id": TOKEN, **inputs}, requested_by="carol", task_queue=stack.queue
        )
    ).id
    waiting = await wait_response_idle(stack.client, run_id)
    assert waiting.state is RunState.awaiting_approval, waiting
    assert (
        _statuses(waiting)["approval"] == "waiting" and "1 of group:secops-oncall" in _step(waiting, "approval").detail
    )
    assert _step(waiting, "evidence").output["digest"]  # evidence kept before anyone is asked
    return run_id


async def test_approved_response_revokes_the_token_and_suspends_its_owner(stack: Stack) -> None:
    """Snapshot → approve → revoke the token, grants and sessions (irreversible) → suspend → notify → ticket →
    record, each step in the timeline (no Slack or Jira configured here: nothing is sent, and the steps say so)."""
    definition = load_response_file(EXAMPLE)
    run_id = await _until_approval(stack, definition)
    assert _token_exists(stack) and _user(stack, OWNER)["status"] == "ACTIVE"  # nothing changed before approval
    handle = stack.client.get_workflow_handle(run_id)
    answer = await handle.execute_update("decide", signed_decision(run_id, "alice", RBAC), result_type=DecisionOutcome)
    assert answer.accepted and answer.state == "approved"
    done = await _result(stack, run_id)
    assert done.state is RunState.completed
    assert _statuses(done) == {
        "token": "done", "owner": "done", "roles": "done", "groups": "done", "apps": "done", "tokens": "done",
        "events": "done", "evidence": "done", "approval": "approved", "revoke": "done", "revoke_grants": "done",
        "clear_sessions": "done", "suspend": "done", "tell_owner": "done", "tell": "done", "incident": "done",
        "record": "done",
    }  # fmt: skip
    assert not _token_exists(stack) and _user(stack, OWNER)["status"] == "SUSPENDED"
    assert _step(done, "suspend").output["before"] == {"status": "ACTIVE"}
    assert "approved" in _step(done, "tell").output["text"] and not _step(done, "tell").output["delivered"]
    assert _step(done, "incident").output == {"key": "", "url": ""}
    if os.environ.get("MENDFLOW_RECORD_HISTORIES"):
        history = await handle.fetch_history()
        record = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
        (HISTORIES / "response-approved.json").write_text(json.dumps(record, indent=1))


async def test_rejected_response_changes_nothing_and_still_tells(stack: Stack) -> None:
    """A rejection skips every step that needs the approval, unless its guard reads the approval (the notice)."""
    definition = load_response_file(EXAMPLE)
    run_id = await _until_approval(stack, definition)
    handle = stack.client.get_workflow_handle(run_id)
    decision = signed_decision(run_id, "bob", RBAC, Verdict.reject, "a known CI job, not a leak")
    await handle.execute_update("decide", decision, result_type=DecisionOutcome)
    done = await _result(stack, run_id)
    assert done.state is RunState.completed
    statuses = _statuses(done)
    assert statuses["approval"] == "rejected" and statuses["revoke"] == "skipped" and statuses["suspend"] == "skipped"
    assert statuses["tell"] == "done" and "rejected" in _step(done, "tell").output["text"]
    assert statuses["revoke_grants"] == statuses["clear_sessions"] == statuses["tell_owner"] == "skipped"
    assert _token_exists(stack) and _user(stack, OWNER)["status"] == "ACTIVE"


async def test_the_requester_cannot_approve_their_own_response(stack: Stack) -> None:
    """The campaigns' four-eyes check holds here too: carol started the run, carol's approval is refused."""
    definition = load_response_file(EXAMPLE)
    run_id = await _until_approval(stack, definition)
    handle = stack.client.get_workflow_handle(run_id)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("decide", signed_decision(run_id, "carol", RBAC), result_type=DecisionOutcome)
    assert "four-eyes" in str(refused.value.cause)
    await handle.execute_update(
        "decide", signed_decision(run_id, "bob", RBAC, Verdict.reject, "test"), result_type=DecisionOutcome
    )
    await _result(stack, run_id)


async def test_a_failing_step_with_on_failure_rollback_restores_completed_changes(stack: Stack) -> None:
    """Suspend the owner, then a step fails: the suspension is restored from its capture and verified."""
    definition = load_response_file(EXAMPLE)
    by_id = {s.id: s for s in definition.steps}
    suspend = by_id["suspend"].model_copy(update={"needs": ("evidence",)})
    broken = by_id["token"].model_copy(
        update={"id": "recheck", "target": "/api/v1/api-tokens/00Tnosuchtoken", "needs": ("suspend",),
                "on_failure": OnFailure.rollback}
    )  # fmt: skip
    evidence = by_id["evidence"].model_copy(update={"of": {"token": "steps.token.output"}})
    variant = definition.model_copy(update={"steps": (by_id["token"], by_id["owner"], evidence, suspend, broken)})
    run_id = (await start_response(stack.client, variant, {"token_id": TOKEN}, task_queue=stack.queue)).id
    done = await _result(stack, run_id)
    assert done.state is RunState.rolled_back
    statuses = _statuses(done)
    assert statuses["suspend"] == StepStatus.rolled_back and statuses["recheck"] == StepStatus.failed
    assert "404" in _step(done, "recheck").detail
    assert _user(stack, OWNER)["status"] == "ACTIVE"
    assert [e["event"] for e in done.timeline][-3:] == ["rolling back", "restored", "rolled_back"]
    if os.environ.get("MENDFLOW_RECORD_HISTORIES"):
        history = await stack.client.get_workflow_handle(run_id).fetch_history()
        record = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
        (HISTORIES / "response-rolled-back.json").write_text(json.dumps(record, indent=1))


async def test_inputs_that_do_not_match_are_refused_before_anything_starts(stack: Stack) -> None:
    """A token id of the wrong shape is an input error naming the field; no run is started."""
    definition = load_response_file(EXAMPLE)
    with pytest.raises(Exception, match=r"inputs\.token_id"):
        await start_response(stack.client, definition, {"token_id": "bad"}, task_queue=stack.queue)


async def test_mendflow_run_and_status_drive_a_run_through_temporal(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mendflow run … --wait` stops at the approval; after it, `mendflow status RUN` shows every step's end."""
    address = stack.client.service_client.config.target_host
    monkeypatch.setenv("MENDFLOW_TEMPORAL_ADDRESS", address)

    cli = in_process_cli(monkeypatch, capsys)

    capsys.readouterr()
    code, out, err = await asyncio.to_thread(
        cli, "run", str(EXAMPLE), "--input", f"token_id={TOKEN}", "--input", "suspend_owner=false",
        "--task-queue", stack.queue, "--wait", "--format", "json", "--as", "carol",
    )  # fmt: skip
    assert code == 0, err
    waiting = ResponseStatus.model_validate_json(out)
    assert waiting.state is RunState.awaiting_approval and waiting.run_id.startswith("response/okta.api_token.")
    handle = stack.client.get_workflow_handle(waiting.run_id)
    await handle.execute_update("decide", signed_decision(waiting.run_id, "bob", RBAC), result_type=DecisionOutcome)
    await _result(stack, waiting.run_id)
    code, out, err = await asyncio.to_thread(cli, "status", waiting.run_id)
    assert code == 0, err
    rows = {line.split()[0]: line.split()[1:3] for line in out.splitlines()[3:] if line.strip()}
    assert rows["revoke"] == ["action", "done"] and rows["suspend"] == ["action", "skipped"]  # suspend_owner=false
    assert rows["approval"] == ["approve", "approved"] and "completed" in out.splitlines()[1]
    assert _user(stack, OWNER)["status"] == "ACTIVE" and not _token_exists(stack)


async def test_the_operator_verbs_approve_and_roll_back_a_run_through_the_api(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mendflow approve RUN` and `mendflow rollback RUN` go through the operator API (signed, audited) and reach
    the run's gate and its rollback like a campaign's; the rollback restores the suspension made before the gate."""
    definition = load_response_file(EXAMPLE)
    by_id = {s.id: s for s in definition.steps}
    suspend = by_id["suspend"].model_copy(update={"needs": ("owner",), "when": None})
    approval = by_id["approval"].model_copy(update={"needs": ("suspend",)})
    variant = definition.model_copy(update={"steps": (by_id["token"], by_id["owner"], suspend, approval)})
    address = stack.client.service_client.config.target_host
    api_dir = tmp_path / "api"
    api = build_api(Settings(rbac=RBAC), TemporalSettings(address=address), data_dir=api_dir, signer=SIGNER)
    db = Database.open(database_url(api_dir))
    secret, _ = StoredTokens(db).create(person="bob", role=Role.approver, name="t", ttl_seconds=3600)
    monkeypatch.setenv("MENDFLOW_TOKEN", secret)

    cli = in_process_cli(monkeypatch, capsys)

    with serve_in_thread(api) as server:
        run_id = (await start_response(stack.client, variant, {"token_id": TOKEN}, task_queue=stack.queue)).id
        waiting = await wait_response_idle(stack.client, run_id)
        assert waiting.state is RunState.awaiting_approval and _user(stack, OWNER)["status"] == "SUSPENDED"
        capsys.readouterr()
        code, out, err = await asyncio.to_thread(cli, "rollback", run_id, "--reason", "wrong token", "--yes",
                                                 "--api-url", server.base_url)  # fmt: skip
        assert code == 0 and "rollback starts" in out, err
        done = await _result(stack, run_id)
        other = (await start_response(stack.client, definition, {"token_id": TOKEN, "suspend_owner": False},
                                     requested_by="carol", task_queue=stack.queue)).id  # fmt: skip
        await wait_response_idle(stack.client, other)
        code, out, err = await asyncio.to_thread(cli, "approve", other, "--reason", "confirmed leak",
                                                 "--api-url", server.base_url)  # fmt: skip
        assert code == 0 and "approved" in out, err
        approved = await _result(stack, other)
    db.dispose()
    assert approved.state is RunState.completed and not _token_exists(stack)
    assert approved.decisions[0].approver == "bob" and approved.decisions[0].reason == "confirmed leak"
    assert done.state is RunState.rolled_back and _statuses(done)["suspend"] == "rolled_back"
    assert _statuses(done)["approval"] == "skipped" and _user(stack, OWNER)["status"] == "ACTIVE"
    assert any(e["event"] == "rollback requested by bob" for e in done.timeline)


async def test_secrets_in_vendor_objects_reach_neither_history_nor_evidence(stack: Stack) -> None:
    """A canary secret inside a read object is masked before it becomes history, evidence or a message; the
    worker's own Okta token appears nowhere in the run's history."""
    canary = "canary-" + secrets.token_hex(12)
    register_secret(canary)
    next(t for t in stack.okta.api_tokens if t["id"] == TOKEN)["name"] = canary
    run_id = await _until_approval(stack, load_response_file(EXAMPLE))
    handle = stack.client.get_workflow_handle(run_id)
    decision = signed_decision(run_id, "bob", RBAC, Verdict.reject, "not a leak")
    await handle.execute_update("decide", decision, result_type=DecisionOutcome)
    done = await _result(stack, run_id)
    history = json.dumps((await handle.fetch_history()).to_json_dict())
    assert done.steps[0].output["name"] == "[REDACTED]" and "[REDACTED]" in _step(done, "tell").output["text"]
    evidence = json.dumps(list(stack.context.snapshots.read_lines(_step(done, "evidence").output["digest"])))
    assert stack.okta.api_tokens[0]["name"] == canary  # planted where the read saw it
    for text in (history, evidence, done.model_dump_json()):
        assert canary not in text and stack.bearer not in text
