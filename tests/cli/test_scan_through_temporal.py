"""`mendflow scan --tenant` against a real dev server and worker: one message and an honest exit code.

The first test runs the real `mendflow` process; the others run the CLI's entry point in-process (in a thread, so
the worker on this loop keeps running): a process costs ~2 s of imports.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from mendflow.runtime.client import TASK_QUEUE
from mendflow.runtime.worker import build_worker
from mendflow.worker_context import WorkerContext
from tests.cli_in_process import invoker
from tests.conftest import SimulatedOrg

pytestmark = pytest.mark.slow

MENDFLOW = str(Path(sys.executable).parent / "mendflow")


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


async def mendflow(env: WorkflowEnvironment, *args: str) -> Done:
    """Run the CLI as a subprocess without blocking the loop the in-process worker runs on."""
    address = env.client.service_client.config.target_host
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        MENDFLOW, *args, "--temporal-address", address, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return Done(proc.returncode, out.decode(), err.decode(), time.monotonic() - started)


@pytest.fixture
def here(
    dev_env: WorkflowEnvironment, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Awaitable[Done]]:
    """`await here("scan", …)`: `mendflow scan … --temporal-address <dev server>` in this process."""
    invoke = invoker(capsys, monkeypatch)
    address = dev_env.client.service_client.config.target_host

    async def run_here(*args: str) -> Done:
        started = time.monotonic()
        done = await asyncio.to_thread(invoke, *args, "--temporal-address", address)
        return Done(done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    return run_here


async def scan_attempts(client: Client, tenant_key: str) -> list[int]:
    """How many times each activity of the latest scan of `tenant_key` was started."""
    found = [wf async for wf in client.list_workflows(f"WorkflowId STARTS_WITH 'scan/{tenant_key}/'")]
    assert found, f"no scan workflow for {tenant_key}"
    latest = max(found, key=lambda wf: wf.start_time)
    history = await client.get_workflow_handle(latest.id).fetch_history()
    return [
        event.activity_task_started_event_attributes.attempt
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]


async def test_unknown_tenant_is_one_line_exit_2_and_never_retried(
    dev_env: WorkflowEnvironment, worker_context: WorkerContext, caplog: pytest.LogCaptureFixture
) -> None:
    """An unknown tenant key: exit 2, one line naming the key and the step, one attempt, no traceback."""
    caplog.set_level(logging.WARNING, logger="temporalio.activity")
    async with build_worker(dev_env.client, worker_context, task_queue=TASK_QUEUE):
        done = await mendflow(dev_env, "scan", "--tenant", "github:nope")
        attempts = await scan_attempts(dev_env.client, "github:nope")
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "mendflow: scan of github:nope (activity collect_inventory): unknown tenant 'github:nope'; "
        "this worker knows: github:acme"
    ]
    assert attempts == [1]
    # The worker logs the refusal once, as one line without a traceback.
    logged = [r for r in caplog.records if r.name == "temporalio.activity" and "github:nope" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is None and "InputError: unknown tenant" in logged[0].getMessage()
    assert done.stdout == ""  # attempts == [1] is what proves no retry backoff (no timed assert: CI load varies)


async def test_refused_credentials_fail_the_scan_with_exit_1_and_no_token(
    dev_env: WorkflowEnvironment,
    worker_context: WorkerContext,
    github_org: SimulatedOrg,
    monkeypatch: pytest.MonkeyPatch,
    here: Callable[..., Awaitable[Done]],
) -> None:
    """A scan that fails inside the workflow (the vendor refuses the token) is one message and exit 1."""
    env_name = github_org.connection.token.ref.removeprefix("env:")
    monkeypatch.setenv(env_name, "ghp_wrong_" + "x" * 30)
    async with build_worker(dev_env.client, worker_context, task_queue=TASK_QUEUE):
        done = await here("scan", "--tenant", "github:acme")
        plain = await here("--debug", "scan", "--tenant", "github:acme")
    assert done.returncode == 1, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("mendflow: scan of github:acme (activity collect_inventory) failed: ")
    assert "401" in line and "Traceback" not in done.stderr
    assert "ghp_wrong" not in done.stderr and github_org.token not in done.stderr
    # --debug adds the traceback for whoever wants to see more, and keeps the same last line and exit code.
    assert plain.returncode == 1 and "Traceback" in plain.stderr and plain.stderr.splitlines()[-1] == line


async def test_scan_json_carries_the_campaign_ids_it_started(
    dev_env: WorkflowEnvironment, worker_context: WorkerContext, here: Callable[..., Awaitable[Done]]
) -> None:
    """`--format json`: the scan line lists the campaigns started, one status line follows for each."""
    async with build_worker(dev_env.client, worker_context, task_queue=TASK_QUEUE):
        shown = await here("scan", "--tenant", "github:acme", "--format", "json")
        again = await here("scan", "--tenant", "github:acme", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    lines = [json.loads(line) for line in shown.stdout.splitlines()]
    started = lines[0]["campaigns_started"]
    assert len(started) >= 3 and all(cid.startswith("remediate/github:acme/") for cid in started)
    assert sorted(c["campaign_id"] for c in lines[1:]) == sorted(started)
    # A second scan finds the approval-mode campaigns still open: it starts none.
    assert again.returncode == 0 and json.loads(again.stdout.splitlines()[0])["campaigns_started"] == []


async def test_scan_table_names_every_campaign_it_started(
    dev_env: WorkflowEnvironment, worker_context: WorkerContext, here: Callable[..., Awaitable[Done]]
) -> None:
    """The table output ends with one `started campaign <id>` line per campaign, ids whole."""
    async with build_worker(dev_env.client, worker_context, task_queue=TASK_QUEUE):
        done = await here("scan", "--tenant", "github:acme")
    assert done.returncode == 0, done.stderr
    ids = [line.removeprefix("started campaign ") for line in done.stdout.splitlines() if line.startswith("started ")]
    summary = next(line for line in done.stdout.splitlines() if line.startswith("scanned "))
    assert f"{len(ids)} campaign(s) started" in summary and len(ids) >= 3
    assert all(cid.startswith("remediate/github:acme/github.") and len(cid.rsplit("/", 1)[1]) == 16 for cid in ids)
