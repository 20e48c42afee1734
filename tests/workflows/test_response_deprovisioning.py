"""Scenario 2 end to end: staged deprovisioning of inactive Okta users against the Okta simulator over loopback,
on the time-skipping server (the week-long and two-week waits pass in milliseconds).

The happy path's history is recorded into tests/histories/response-deprovisioning.json
(MENDFLOW_RECORD_HISTORIES=1), which tests/workflows/test_replay.py replays with every other released history.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from mendflow.config import TenantConnection, TenantRegistry
from mendflow.data import demo_tenant_path
from mendflow.redaction import register_secret
from mendflow.responses import load_response_file
from mendflow.responses.messages import ResponseStatus, RunState
from mendflow.responses.questions import OpenQuestion
from mendflow.runtime.loopback import serve_in_thread
from mendflow.runtime.responses import start_response
from mendflow.runtime.worker import build_worker
from mendflow.secrets import SecretRef
from mendflow.sim.common import FaultPlan
from mendflow.sim.okta import create_okta_app
from mendflow.tenant import load_tenant_file
from mendflow.worker_context import WorkerContext
from tests.cli_in_process import invoker
from tests.signing import signed_request
from tests.workflows.campaigns import RBAC, settings
from tests.workflows.response_helpers import decoded_payloads
from tests.workflows.test_response_fan_out import signed_answer

EXAMPLE = Path(__file__).parents[2] / "examples" / "responses" / "okta_staged_deprovisioning.yaml"
HISTORIES = Path(__file__).parent.parent / "histories"
BOB, CAROL, DAVE, ERIN = (f"00u0000000000000{n}sim" for n in (2, 3, 4, 5))
INPUTS = {"inactive_since": "2026-10-01T00:00:00Z", "fallback_owner": "carol"}


@dataclass
class Stack:
    client: Client
    env: WorkflowEnvironment
    queue: str
    okta: Any

    def user(self, user_id: str) -> dict[str, Any]:
        return next(u for u in self.okta.users if u["id"] == user_id)


@contextmanager
def _okta(faults: FaultPlan | None = None) -> Iterator[tuple[Any, TenantConnection]]:
    """The demo Okta org with four inactive users (bob, carol, dave, erin) and their managers."""
    tenant = load_tenant_file(demo_tenant_path().with_name("demo-okta.json"))
    token = secrets.token_hex(21)
    register_secret(token)
    os.environ["MENDFLOW_OKTA_DEPROVISION_TOKEN"] = token
    app = create_okta_app(tenant, token=token, faults=faults)
    okta = app.state.okta
    for user_id, manager, last in ((BOB, "alice", None), (DAVE, "bob", "2026-03-01T00:00:00.000Z"),
                                   (ERIN, None, "2026-02-01T00:00:00.000Z"), (CAROL, "alice", None)):  # fmt: skip
        user = next(u for u in okta.users if u["id"] == user_id)
        if manager:
            user["profile"]["manager"] = manager
        if last:
            user["lastLogin"] = last
    with serve_in_thread(app) as server:
        yield okta, TenantConnection(
            key="okta:acme", provider="okta", tenant=tenant.tenant, base_url=server.base_url,
            token=SecretRef(ref="env:MENDFLOW_OKTA_DEPROVISION_TOKEN"),
        )  # fmt: skip


@contextmanager
def _no_env_leak() -> Iterator[None]:
    try:
        yield
    finally:
        os.environ.pop("MENDFLOW_OKTA_DEPROVISION_TOKEN", None)


async def _stack(time_env: WorkflowEnvironment, tmp_path: Path, faults: FaultPlan | None) -> AsyncIterator[Stack]:
    with _no_env_leak(), _okta(faults) as (okta, connection):
        context = WorkerContext(
            registry=TenantRegistry(tenants={connection.key: connection}),
            data_dir=tmp_path,
            playbooks={},
            settings=settings(),
        )
        queue = f"q-{uuid.uuid4()}"
        async with build_worker(time_env.client, context, task_queue=queue):
            yield Stack(time_env.client, time_env, queue, okta)


@pytest.fixture
async def stack(time_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    async for made in _stack(time_env, tmp_path, None):
        yield made


async def _questions(client: Client, workflow_id: str, count: int) -> list[OpenQuestion]:
    """The questions a page waits on, once `count` of them are open."""
    for _ in range(400):
        try:
            found: list[OpenQuestion] = await client.get_workflow_handle(workflow_id).query(
                "questions", result_type=list[OpenQuestion]
            )
        except RPCError:  # the page has not started yet
            found = []
        if len(found) >= count:
            return sorted(found, key=lambda q: q.question_id)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} never asked {count} question(s)")


async def _answer(client: Client, workflow_id: str, question: OpenQuestion, option: str, person: str) -> None:
    await client.get_workflow_handle(workflow_id).execute_update(
        "answer", signed_answer(workflow_id, question.question_id, option, person), result_type=str
    )


def _items(status: ResponseStatus, step: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = next(s for s in status.steps if s.id == step).output["items"]
    return items


async def test_managers_keep_or_suspend_and_one_asks_for_their_person_back(stack: Stack) -> None:
    """bob kept by his manager, carol signs in during the week, dave suspended by his manager's answer, erin by
    silence (a week passes); dave's manager then asks for him back: only dave is unsuspended."""
    handle: WorkflowHandle[Any, ResponseStatus] = await start_response(
        stack.client, load_response_file(EXAMPLE), INPUTS, task_queue=stack.queue
    )
    warn = f"{handle.id}/warn/0"
    asked = {q.person + ":" + q.text.split()[0]: q for q in await _questions(stack.client, warn, 4)}
    assert set(asked) == {"alice:bob@acme.example", "alice:carol@acme.example", "bob:dave@acme.example",
                          "carol:erin@acme.example"}  # fmt: skip
    await _answer(stack.client, warn, asked["alice:bob@acme.example"], "keep", "alice")
    await _answer(stack.client, warn, asked["alice:carol@acme.example"], "suspend", "alice")
    await _answer(stack.client, warn, asked["bob:dave@acme.example"], "suspend", "bob")
    stack.user(CAROL)["lastLogin"] = "2026-11-30T08:00:00.000Z"  # carol is back before the week ends
    await stack.env.sleep(timedelta(days=7, hours=1))  # nobody answers for erin: her question expires
    undo = f"{handle.id}/undo_window/0"
    waiting = await _questions(stack.client, undo, 2)
    assert [q.person for q in waiting] == ["bob", "carol"]  # dave's manager, erin's fallback owner
    assert stack.user(DAVE)["status"] == "SUSPENDED" and stack.user(ERIN)["status"] == "SUSPENDED"
    await _answer(stack.client, undo, waiting[0], "restore", "bob")
    done = await handle.result()  # the rest of the two weeks passes
    assert done.state is RunState.completed, done
    assert [stack.user(u)["status"] for u in (BOB, CAROL, DAVE, ERIN)] == ["ACTIVE", "ACTIVE", "ACTIVE", "SUSPENDED"]
    assert [(o["item"], o["status"]) for o in _items(done, "suspend")] == [(DAVE, "done"), (ERIN, "done")]
    warned = {o["item"]: o["steps"]["ask"] for o in _items(done, "warn")}
    assert warned[ERIN]["status"] == "expired" and warned[BOB]["output"]["answer"] == "keep"
    restored = {o["item"]: o["steps"]["restore"]["status"] for o in _items(done, "undo_window")}
    assert restored == {DAVE: "done", ERIN: "skipped"}
    assert "2 suspended, 1 restored on request" in done.steps[-1].output["text"]
    restorable = [r.resource.rsplit("/", 1)[-1] for r in done.restorable]
    assert restorable == [DAVE, ERIN, DAVE]  # newest first: a rollback after the end would undo every one
    if os.environ.get("MENDFLOW_RECORD_HISTORIES"):
        for name, run in (("", handle.id), ("-undo-page", undo)):  # the run, and one page of a for_each
            history = await stack.client.get_workflow_handle(run).fetch_history()
            record = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
            (HISTORIES / f"response-deprovisioning{name}.json").write_text(json.dumps(record, indent=1))


async def test_too_many_failed_suspensions_restore_every_one_made(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """Okta refuses two of the four suspensions (403): past max_failures (10% of 4 = 0) the step fails and its
    rollback restores the suspensions made (the canary's and the one beside the refusals); nobody stays suspended."""
    refused = FaultPlan(forbidden=(f"POST /api/v1/users/{DAVE}/lifecycle/suspend",
                                   f"POST /api/v1/users/{ERIN}/lifecycle/suspend"))  # fmt: skip
    async for stack in _stack(time_env, tmp_path, refused):
        canary = "canary-" + secrets.token_hex(10)  # a secret where a question's text comes from (a login)
        register_secret(canary)
        stack.user(ERIN)["profile"]["login"] = canary
        handle: WorkflowHandle[Any, ResponseStatus] = await start_response(
            stack.client, load_response_file(EXAMPLE), INPUTS, task_queue=stack.queue
        )
        done = await handle.result()  # nobody answers: every question expires, all four are to be suspended
        assert done.state is RunState.rolled_back, done
        statuses = {s.id: s.status.value for s in done.steps}
        assert statuses["suspend"] == "rolled_back" and statuses["undo_window"] == "pending"
        outcomes = {o["item"]: o["status"] for o in _items(done, "suspend")}
        assert outcomes == {BOB: "done", CAROL: "done", DAVE: "failed", ERIN: "failed"}  # bob: the canary
        assert [stack.user(u)["status"] for u in (BOB, CAROL, DAVE, ERIN)] == ["ACTIVE"] * 4
        events = [e["event"] for e in done.timeline]
        assert events[-4:] == ["rolling back", "restored", "restored", "rolled_back"]
        assert any("2 item(s) failed (max_failures: 0)" in e["detail"] for e in done.timeline)
        for run, read in ((handle.id, True), (f"{handle.id}/warn/0", True), (f"{handle.id}/suspend/1", False)):
            history = json.dumps((await stack.client.get_workflow_handle(run).fetch_history()).to_json_dict())
            payloads = " ".join(decoded_payloads(json.loads(history)))  # reads, questions, answers, outcomes
            assert canary not in history + payloads and ("[REDACTED]" in payloads) is read, run
        if os.environ.get("MENDFLOW_RECORD_HISTORIES"):
            history = await handle.fetch_history()
            record = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
            (HISTORIES / "response-deprovisioning-rolled-back.json").write_text(json.dumps(record, indent=1))


async def test_an_operator_rollback_during_the_undo_window_restores_every_suspension(stack: Stack) -> None:
    """Nobody answers; after the week all four are suspended and the two-week questions are open. An operator's
    rollback cuts those waits short (the pages are told) and restores every suspension, newest first."""
    handle: WorkflowHandle[Any, ResponseStatus] = await start_response(
        stack.client, load_response_file(EXAMPLE), INPUTS, task_queue=stack.queue
    )
    await _questions(stack.client, f"{handle.id}/warn/0", 4)
    await stack.env.sleep(timedelta(days=7, hours=1))
    await _questions(stack.client, f"{handle.id}/undo_window/0", 4)
    assert [stack.user(u)["status"] for u in (BOB, CAROL, DAVE, ERIN)] == ["SUSPENDED"] * 4
    status = await handle.query("status", result_type=ResponseStatus)
    undo = next(s for s in status.steps if s.id == "undo_window")
    assert f"{handle.id}/undo_window/0 (items 0-3)" in undo.detail  # where its questions are
    await handle.execute_update("rollback", signed_request(handle.id, "rollback", "alice", RBAC), result_type=str)
    done = await handle.result()
    assert done.state is RunState.rolled_back
    assert [stack.user(u)["status"] for u in (BOB, CAROL, DAVE, ERIN)] == ["ACTIVE"] * 4
    asked = {o["item"]: o["steps"]["ask"]["status"] for o in _items(done, "undo_window")}
    assert set(asked.values()) == {"skipped"}  # cut short, not two weeks later
    waited = done.steps[4].finished_at - done.steps[4].started_at  # type: ignore[operator]
    assert waited < timedelta(days=1)
    restored = [e["detail"].split(" ")[0].rsplit("/", 1)[-1] for e in done.timeline if e["event"] == "restored"]
    assert sorted(restored) == [BOB, CAROL, DAVE, ERIN] and restored[-1] == BOB  # newest first: the canary last


async def test_mendflow_run_wait_returns_once_the_managers_are_asked(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mendflow run … --wait` comes back when the run waits for people (its warn pages), naming the pages; the
    questions are answered there and the run carries on."""
    monkeypatch.setenv("MENDFLOW_TEMPORAL_ADDRESS", stack.client.service_client.config.target_host)
    run = invoker(capsys, monkeypatch)
    done = await asyncio.to_thread(
        run, "run", str(EXAMPLE), "--input", f"inactive_since={INPUTS['inactive_since']}", "--input",
        "fallback_owner=carol", "--task-queue", stack.queue, "--wait", "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done
    waiting = ResponseStatus.model_validate_json(done.stdout)
    warn = next(s for s in waiting.steps if s.id == "warn")
    assert waiting.state is RunState.waiting and f"{waiting.run_id}/warn/0 (items 0-3)" in warn.detail
    asked = await _questions(stack.client, f"{waiting.run_id}/warn/0", 4)
    assert sorted(q.question_id for q in asked) == ["ask#0", "ask#1", "ask#2", "ask#3"]
    page = await asyncio.to_thread(run, "status", f"{waiting.run_id}/warn/0")
    assert page.returncode == 0, page
    rows = {line.split()[0]: line.split()[1:3] for line in page.stdout.splitlines()[3:] if line.strip()}
    assert rows["ask#3"] == ["wait", "waiting"] and rows["user#3"] == ["read", "done"]
    assert "waiting for carol to answer ask#3" in page.stdout  # erin has no manager: the fallback owner
    await stack.client.get_workflow_handle(waiting.run_id).terminate("test over")
