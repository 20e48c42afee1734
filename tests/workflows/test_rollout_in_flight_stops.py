"""The pipelined rollout stopping while a chunk is still writing (review of `PIPELINED_ROLLOUT`, 5a40f27).

One page of 1 + 3 chunks of webhooks, concurrency 2 (two lanes of one target, chunks of `PIPELINED_CHUNK_ROUNDS`),
canary 1 then the rest, max_failures 0. The last batch goes out as chunk A and chunk B beside it; the rollout then
waits for a free lane for its next chunk. The test holds A's last write and B's first write (hook 5,
B's first, which fails verification: its URL keeps it detected after the fix) and lets them go in the order the scenario
needs, so A ends first and the rollout is at its next chunk's checkpoint while B is still writing. Failures past
max_failures must then roll everything back and write nothing more, whatever the operator did meanwhile."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mendflow.workflows.remediation import PIPELINED_CHUNK_ROUNDS
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from mendflow.campaigns.windows import ChangePolicy
from mendflow.models import Outcome
from mendflow.playbooks.model import Playbook
from mendflow.runtime.scans import wait_idle
from mendflow.runtime.worker import build_worker
from mendflow.workflow_types import CampaignStatus
from tests.workflows.campaigns import findings_for, hook_playbook
from tests.workflows.scale import ScaleOrg, campaign_input, scale_org
from tests.workflows.test_campaign_scale import _context
from tests.workflows.test_rollout import operator, status_of

CHUNK = PIPELINED_CHUNK_ROUNDS
"""Targets per chunk in a lane of one."""
TOTAL = 1 + 3 * CHUNK
A_LAST, B_FIRST, NEXT = CHUNK, CHUNK + 1, 2 * CHUNK + 1
"""Indexes of chunk A's last hook, chunk B's first (failing) hook and the first hook of the chunk after them."""

STUBBORN_URL = "https://stubborn.acme.example/github"
"""A webhook with this URL is still detected after its fix: its change fails verification (and is restored)."""


@dataclass
class HeldWrites:
    """Behind the gate (which has already recorded the write): the first PATCH of each held path waits until
    released; `arrived` says it is waiting."""

    arrived: dict[str, threading.Event] = field(default_factory=dict)
    released: dict[str, threading.Event] = field(default_factory=dict)

    def install(self, org: ScaleOrg, paths: list[str]) -> None:
        for path in paths:
            self.arrived[path], self.released[path] = threading.Event(), threading.Event()
        inner = org.gate.app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            path = scope.get("path", "")
            first = path in self.arrived and not self.arrived[path].is_set()
            if scope["type"] == "http" and scope["method"] == "PATCH" and first:
                self.arrived[path].set()
                while not self.released[path].is_set():  # noqa: ASYNC110 - released from the test's loop
                    await asyncio.sleep(0.02)
            await inner(scope, receive, send)

        org.gate.app = app

    async def until_arrived(self, path: str) -> None:
        async with asyncio.timeout(30):
            while not self.arrived[path].is_set():  # noqa: ASYNC110 - set from the server's thread
                await asyncio.sleep(0.02)

    def release_all(self) -> None:
        for event in self.released.values():
            event.set()


def _playbook() -> Playbook:
    base = hook_playbook(mode="auto", extra="rollout: {canary: 1, batches: ['100%'], bake: 0s, max_failures: 0}")
    return Playbook.model_validate(
        base.model_dump(by_alias=True)
        | {
            "detect": {
                "when": f'string(resource.config.insecure_ssl) == "1" || resource.config.url == "{STUBBORN_URL}"',
                "severity": "high",
            }
        }
    )


def _make_stubborn(org: ScaleOrg, rid: str) -> None:
    _, _, name, _, hook = rid.strip("/").split("/")[:5]
    config = next(h["config"] for h in org.state.repo(name)["_hooks"] if str(h["id"]) == hook)
    config["url"] = STUBBORN_URL


@contextmanager
def _org(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ScaleOrg, HeldWrites, str, str]]:
    """The org, its held writes, A's last write and B's first (failing) write."""
    with scale_org(TOTAL, monkeypatch=monkeypatch) as org:
        _make_stubborn(org, org.hooks[B_FIRST])
        a_last, b_first = f"{org.hooks[A_LAST]}/config", f"{org.hooks[B_FIRST]}/config"
        held = HeldWrites()
        held.install(org, [a_last, b_first])
        try:
            yield org, held, a_last, b_first
        finally:
            held.release_all()  # nothing left waiting in the server's thread when it stops


@asynccontextmanager
async def _running(env: WorkflowEnvironment, org: ScaleOrg, tmp_path: Path) -> AsyncIterator[WorkflowHandle[Any, Any]]:
    """The campaign over the org's webhooks (one page), on a worker of its own."""
    playbook = _playbook()
    changes = ChangePolicy(default_concurrency=2, default_writes_per_minute=100_000)
    request = campaign_input(playbook, findings=findings_for(playbook, org.hooks), page_size=TOTAL)
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(env.client, _context(org.registry(), tmp_path, playbook, changes), task_queue=queue):
        yield await env.client.start_workflow("RemediationWorkflow", request, id=request.campaign_id, task_queue=queue)


async def _until_status(handle: WorkflowHandle[Any, Any], predicate: Any, seconds: float = 30) -> CampaignStatus:
    async with asyncio.timeout(seconds):
        while not predicate(status := await status_of(handle)):  # noqa: ASYNC110 - polling a query
            await asyncio.sleep(0.05)
    return status


async def _idle(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> CampaignStatus:
    """`wait_idle`, bounded: a campaign that never gets there fails the test instead of hanging the suite."""
    async with asyncio.timeout(60):
        return await wait_idle(env.client, handle.id)


def _verified(org: ScaleOrg, index: int) -> Any:
    return lambda s: any(c.resource.id == org.hooks[index] and c.outcome == Outcome.verified for c in s.changes)


async def _while_a_and_b_write(
    handle: WorkflowHandle[Any, Any], held: HeldWrites, a_last: str, b_first: str, verb: str
) -> None:
    """Once A's last write and B's first are both held: the operator's `verb` (abort, pause), then A may end."""
    await held.until_arrived(a_last)
    await held.until_arrived(b_first)
    await handle.execute_update(verb, operator(handle, verb, "alice"), result_type=str)
    held.released[a_last].set()


def _written(org: ScaleOrg, hooks: list[str]) -> list[str]:
    return [path for path in org.gate.writes if path.removesuffix("/config") in hooks]


async def test_an_abort_while_a_chunk_fails_past_the_threshold_still_rolls_everything_back(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Abort while chunks A and B write; A verifies, then B's first target fails (max_failures 0): the failures
    are past the threshold, so every change is restored (rolled_back), as before the pipelined rollout — not
    left written under 'aborted' with one failure over the limit."""
    with _org(monkeypatch) as (org, held, a_last, b_first):
        async with _running(dev_env, org, tmp_path) as handle:
            await _while_a_and_b_write(handle, held, a_last, b_first, "abort")
            await _until_status(handle, _verified(org, A_LAST))  # A is over, the rollout has seen the abort
            held.released[b_first].set()
            done = await _idle(dev_env, handle)
    assert done.totals.get(Outcome.failed.value, 0) + done.totals.get(Outcome.restored.value, 0) >= 1
    assert not _written(org, org.hooks[NEXT:])  # the abort held the chunk after A
    assert done.state == "rolled_back" and org.insecure() == TOTAL


async def test_a_chunk_failing_while_the_rollout_is_paused_stops_it_before_the_next_chunk(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pause while A and B write; B's failure (past max_failures 0) lands during the pause. On resume nothing
    more is written (the next chunk untouched) and everything is rolled back."""
    with _org(monkeypatch) as (org, held, a_last, b_first):
        async with _running(dev_env, org, tmp_path) as handle:
            await _while_a_and_b_write(handle, held, a_last, b_first, "pause")
            await _until_status(handle, lambda s: s.state == "paused")  # A is over, the rollout holds
            held.released[b_first].set()
            await _until_status(handle, lambda s: s.totals.get(Outcome.restored.value, 0) >= 1)  # B failed
            await handle.execute_update("resume", operator(handle, "resume", "alice"), result_type=str)
            done = await _idle(dev_env, handle)
    assert done.state == "rolled_back" and org.insecure() == TOTAL
    assert not _written(org, org.hooks[NEXT:]), _written(org, org.hooks[NEXT:])


async def test_paused_is_answered_only_once_no_chunk_is_writing(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pause while A and B write: `wait_idle` answers 'paused' only once B's write (and its restore) are over,
    so whoever waited for it (an operator, `mendflow scan --tenant`) sees nothing written afterwards."""
    with _org(monkeypatch) as (org, held, a_last, b_first):
        async with _running(dev_env, org, tmp_path) as handle:
            await _while_a_and_b_write(handle, held, a_last, b_first, "pause")
            idle = asyncio.ensure_future(_idle(dev_env, handle))
            await _until_status(handle, lambda s: s.state == "paused")  # A is over, B still writing
            await asyncio.wait({idle}, timeout=4)  # answered at once if 'paused' counts with B in flight
            early = idle.done()
            held.released[b_first].set()
            status = await idle
            writing, written = org.gate.inflight, len(org.gate.writes)
            await _until_status(handle, lambda s: s.totals.get(Outcome.restored.value, 0) >= 1)  # B is over
            late = org.gate.writes[written:]
    assert status.state == "paused"
    assert not early and writing == 0 and not late, (early, writing, late)
