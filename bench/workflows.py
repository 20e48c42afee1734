"""Response workflows: mendflow's interpreter vs bare Temporal workflows with the same number of no-op activities.

A 10-step response with no waits (10 `notify` steps; without Slack configured each is an activity that returns at
once) runs 20, then 50 at once (BENCH_RESPONSE_RUNS) on the tuned embedded dev server, through mendflow's worker
(interceptors, role queues, pydantic payloads) — and, in the same run, as many bare workflows that call a no-op
activity 10 times on a plain Worker. The two alternate ROUNDS times; the figure is runs/s and their ratio (target
≥ 0.7).

The interpreter's own time per step on the workflow side is measured by replaying recorded histories (every
activity result is in them, so a replay is workflow code only): a 1-step and a 10-step history each, CPU time,
so the difference is per step and the rest is per run (the sandbox importing the workflow modules, the input).
Measured 2026-12-06 on the shared 2-core machine at load average 7-16 (throughput figures swing with it; the
CPU figures do not): per step 1.5-1.9 ms interpreter vs 1.7-2.0 ms bare; per run 54 ms vs 6 ms with
PYTHONDONTWRITEBYTECODE=1 (as in deploy/Dockerfile: the sandbox compiles every workflow module from source for
each run), 15-18 ms with bytecode cached; runs/s ratio 0.62-0.74 at 20-50 runs at once.
Re-measured 2026-12-06 23:48-00:00 (H23), load average 4-11, the code before and after two cuts — the package
`mendflow.workflows` no longer imports every workflow module (the sandbox executed them all for each run), and the
run's operators come from a local activity instead of an activity task: per run before its steps 58 → 29 ms
without bytecode, 24-27 → 12-13 ms with it (bare 4-6 ms); per step 1.9-2.0 ms vs bare 1.4-1.9 ms. Runs/s ratio,
four alternating sessions, median of 3 rounds each: 20 at once 0.46-0.69 before, 0.54-0.81 after; 50 at once
0.45-0.60 before, 0.56-0.59 after — within the noise of this machine. What is left is mostly not the interpreter:
a bare workflow's activities share its task queue, so the server hands them over eagerly with the workflow task
(eager activity dispatch); mendflow's go to role queues and are matched and polled. Bare with and without eager
dispatch, alternating, 20 at once: 6.9 vs 4.5 runs/s — the bare-without-eager ratio is printed beside the other.
This bench after the cuts (00:00, load average 5.6-7.8, PYTHONDONTWRITEBYTECODE=1): ratio 0.85 at 20 at once,
0.69 at 50; against bare without eager dispatch 0.86 and 0.91.

A `for_each` over ITEMS items (one notify step per item, 100 at once) gives items/s and the biggest history:
measured 2026-12-06 at load average 13-18, 1,000 items: 36 items/s, the run's history 538 kB (about 0.5 kB per
item: the per-item outcomes, in the page results and the run's result), a page's at most 285 kB. The run's
history grows with the list, so about 3,500 items fill a campaign's 2 MB budget; longer lists need the run to
continue as new between pages (not built).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bare_steps import BareSteps, noop
from mendflow.workflows import ResponseWorkflow
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, Worker

from mendflow.config import TenantRegistry
from mendflow.responses import ResponsePlaybook
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.devserver import DevServer
from mendflow.runtime.ports import free_port
from mendflow.runtime.responses import start_response
from mendflow.runtime.worker import build_worker
from mendflow.telemetry import configure_logging
from mendflow.worker_context import WorkerContext

STEPS = 10
CONCURRENCY = tuple(int(n) for n in os.environ.get("BENCH_RESPONSE_RUNS", "20,50").split(","))
"""How many runs at once, one figure each (`BENCH_RESPONSE_RUNS=50` for one)."""
ROUNDS = 2
REPLAYS = 30
ITEMS = int(os.environ.get("BENCH_FOR_EACH_ITEMS", "1000"))
"""A for_each over this many items (a 1-step notify body, 100 at once): items/s and the biggest history."""


def definition(count: int = STEPS) -> ResponsePlaybook:
    # The bare workflow's start-to-close (30 s), not the steps' default 5 min: on a machine this loaded an activity's
    # completion is sometimes lost, and each side should pay the same timeout for it.
    steps = [
        {"id": f"s{i}", "kind": "notify", "message": f"step {i} of ${{{{ inputs.n }}}}", "timeout": "30s"}
        for i in range(count)
    ]
    return ResponsePlaybook.model_validate(
        {"apiVersion": "mendflow/v1", "kind": "Workflow", "id": "bench.ten_steps", "title": "ten steps",
         "tenant": "none:bench", "inputs": {"type": "object", "properties": {"n": {"type": "integer"}}},
         "steps": steps}
    )  # fmt: skip


async def mendflow_rate(client: Client, context: WorkerContext, runs: int) -> tuple[float, list[WorkflowHistory]]:
    """Runs/s of `runs` runs at once, and the histories of a 1-step and a 10-step run (for the replay figure)."""
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    async with build_worker(client, context, task_queue=queue):
        started = time.perf_counter()
        handles = await asyncio.gather(
            *(start_response(client, definition(), {"n": i}, task_queue=queue) for i in range(runs))
        )
        results = await asyncio.gather(*(h.result() for h in handles))
        seconds = time.perf_counter() - started
        one = await start_response(client, definition(1), {"n": 0}, task_queue=queue)
        await one.result()
    assert all(r.state.value == "completed" for r in results)
    return runs / seconds, [await one.fetch_history(), await handles[0].fetch_history()]


async def for_each_rate(client: Client, context: WorkerContext) -> tuple[float, int, int]:
    """(items/s, the run's history bytes, the biggest page's) of one run whose for_each covers ITEMS items."""
    playbook = ResponsePlaybook.model_validate(
        {"apiVersion": "mendflow/v1", "kind": "Workflow", "id": "bench.for_each", "title": "for each",
         "tenant": "none:bench", "inputs": {"type": "object", "properties": {"items": {"type": "array"}}},
         "steps": [{"id": "each", "kind": "for_each", "items": "inputs.items", "as": "n", "concurrency": 100,
                    "steps": [{"id": "say", "kind": "notify", "message": "item ${{ n }}"}]}]}
    )  # fmt: skip
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    async with build_worker(client, context, task_queue=queue):
        started = time.perf_counter()
        handle = await start_response(client, playbook, {"items": list(range(ITEMS))}, task_queue=queue)
        result = await handle.result()
        seconds = time.perf_counter() - started
    assert result.steps[0].output["done"] == ITEMS, result.steps[0].detail
    sizes = []
    for run in (handle.id, *(f"{handle.id}/each/{start}" for start in range(0, ITEMS, 100))):
        history = await client.get_workflow_handle(run).fetch_history()
        sizes.append(len(history.to_json()))
    return ITEMS / seconds, sizes[0], max(sizes[1:])


async def bare_rate(client: Client, runs: int, *, eager: bool = True) -> tuple[float, list[WorkflowHistory]]:
    """Runs/s of bare workflows. `eager=False`: without eager activity dispatch, which a bare workflow gets because its
    activities share its task queue, and mendflow's do not (they go to role queues, `mendflow.routing`)."""
    queue = f"bare-{uuid.uuid4().hex[:8]}"
    worker = Worker(
        client, task_queue=queue, workflows=[BareSteps], activities=[noop], disable_eager_activity_execution=not eager
    )
    async with worker:
        started = time.perf_counter()
        handles = await asyncio.gather(
            *(client.start_workflow(BareSteps.run, STEPS, id=f"{queue}-{i}", task_queue=queue) for i in range(runs))
        )
        await asyncio.gather(*(h.result() for h in handles))
        seconds = time.perf_counter() - started
        one = await client.start_workflow(BareSteps.run, 1, id=f"{queue}-one", task_queue=queue)
        await one.result()
    return runs / seconds, [await one.fetch_history(), await handles[0].fetch_history()]


async def replay_ms_per_step(histories: list[WorkflowHistory], replayer: Replayer) -> tuple[float, float]:
    """(ms per step, ms per run before its steps) from replays of a 1-step and a STEPS-step history: the
    difference is workflow code per step only (sandbox set-up, input decoding and the start cancel out).
    CPU time of this process (every thread), the least of REPLAYS: other load on the machine does not count."""
    medians = []
    for history in histories:
        times = []
        for _ in range(REPLAYS):
            started = time.process_time()
            await replayer.replay_workflow(history)
            times.append(time.process_time() - started)
        medians.append(min(times) * 1000)
    per_step = (medians[1] - medians[0]) / (STEPS - 1)
    return per_step, medians[0] - per_step


async def measure() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with DevServer(data_dir=root / "temporal", port=free_port(), headless=True) as server:
            client = await connect(TemporalSettings(address=server.address))
            context = WorkerContext(registry=TenantRegistry(), data_dir=root / "data", playbooks={})
            rates: dict[int, tuple[list[float], list[float], list[float]]] = {}
            for runs in CONCURRENCY:
                ours, bare, lazy = rates.setdefault(runs, ([], [], []))
                for _ in range(ROUNDS):
                    rate, mendflow_history = await mendflow_rate(client, context, runs)
                    ours.append(rate)
                    rate, bare_history = await bare_rate(client, runs)
                    bare.append(rate)
                    lazy.append((await bare_rate(client, runs, eager=False))[0])
            items_rate, run_bytes, page_bytes = await for_each_rate(client, context)
    mendflow_step, mendflow_fixed = await replay_ms_per_step(
        mendflow_history, Replayer(workflows=[ResponseWorkflow], data_converter=pydantic_data_converter)
    )
    bare_step, bare_fixed = await replay_ms_per_step(bare_history, Replayer(workflows=[BareSteps]))
    for runs, (ours, bare, lazy) in rates.items():
        m, b, n = statistics.median(ours), statistics.median(bare), statistics.median(lazy)
        print(
            f"response workflows ({STEPS} no-wait steps, {runs} runs at once, {ROUNDS} alternating rounds, tuned dev "
            f"server): mendflow {m:.1f} runs/s ({m * STEPS:.0f} steps/s), bare Temporal with {STEPS} no-op "
            f"activities {b:.1f} runs/s, ratio {m / b:.2f} (target ≥ 0.7; rounds: {', '.join(f'{x:.1f}' for x in ours)}"
            f" vs {', '.join(f'{x:.1f}' for x in bare)}); bare without eager activity dispatch {n:.1f} runs/s, "
            f"ratio {m / n:.2f}"
        )
    print(
        f"workflow side by replay (1- vs {STEPS}-step histories, CPU): per step interpreter {mendflow_step:.2f} ms, "
        f"bare {bare_step:.2f} ms; per run before its steps (sandbox, input) {mendflow_fixed:.1f} ms vs "
        f"{bare_fixed:.1f} ms"
    )
    print(
        f"for_each over {ITEMS} items (1-step notify body, 100 at once, pages of 100 as child runs): "
        f"{items_rate:.0f} items/s; history {run_bytes / 1000:.0f} kB for the run, at most {page_bytes / 1000:.0f} kB "
        f"for a page (a campaign's budget: 2000 kB)"
    )


def main(argv: list[str] | None = None) -> None:
    del argv
    configure_logging(level="ERROR")
    asyncio.run(measure())


if __name__ == "__main__":
    main(sys.argv[1:])
