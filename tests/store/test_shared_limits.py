"""Two worker processes on one PostgreSQL share a tenant's limits: together they stay within the vendor's rate
window (no request refused for the rate limit) and within the tenant's concurrency of writes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
from temporalio.testing import WorkflowEnvironment

from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.redaction import register_secret
from mendflow.runtime.loopback import serve_in_thread
from mendflow.runtime.scans import wait_idle
from mendflow.sim.generate import github_tenant
from mendflow.sim.github import create_github_app
from mendflow.store import DATABASE_URL_ENV
from mendflow.tenant import parse_tenant
from mendflow.workflow_types import RemediationResult
from tests.store.postgres import PostgresServer
from tests.workflows.campaigns import findings_for
from tests.workflows.scale import campaign_input

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]
PLAYBOOK = "github.repo_hook.insecure_ssl"
LIMIT = 60
"""Requests per simulator window (about a second): the campaigns need several windows."""
TENANT_CONCURRENCY = 4
"""`changes.default_concurrency`: the workers' default."""


@dataclass
class Meter:
    """ASGI wrapper in front of the simulator: requests per rate window, refusals, writes in flight."""

    app: Any
    write_delay: float = 0.1
    per_window: Counter[int] = field(default_factory=Counter)
    refused: int = 0
    inflight: int = 0
    max_inflight: int = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.per_window[self.app.state.rate.snapshot()["reset"]] += 1

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] in (403, 429):
                self.refused += 1
            await send(message)

        writing = scope["method"] == "PATCH"
        if writing:
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
            await asyncio.sleep(self.write_delay)  # writes overlap, so a missing concurrency limit would show
        try:
            await self.app(scope, receive, watch)
        finally:
            self.inflight -= writing


def _worker_errors(tmp_path: Path) -> list[str]:
    return [w.read_text()[-2000:] for w in sorted(tmp_path.glob("w*.err"))]


def _spawn(args: list[str], errors: IO[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.store.cluster_worker", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True, env=env,
    )  # fmt: skip


async def test_two_workers_stay_within_the_vendor_window_and_the_tenant_concurrency(
    dev_env: WorkflowEnvironment, postgres: PostgresServer, tmp_path: Path
) -> None:
    """Two campaigns of one tenant on two workers: every window's requests ≤ its limit, none refused, at most the
    tenant's concurrency of writes at once, every target verified."""
    document = github_tenant(repos=48, members=5)  # 24 insecure webhooks
    token = "ghp_" + secrets.token_hex(18)
    register_secret(token)
    app = create_github_app(parse_tenant(document, source="generated"), token=token, rate_limit=LIMIT, rate_window=1)
    meter = Meter(app)
    hooks = [
        f"/repos/acme/{repo['name']}/hooks/{hook['id']}"
        for repo in document["github"]["repos"]
        for hook in repo["_hooks"]
        if hook["config"].get("insecure_ssl") == "1"
    ]
    [playbook] = [p for p in load_playbooks([bundled_playbook_dir()]).playbooks if p.id == PLAYBOOK]
    token_env = f"MENDFLOW_LIMITS_TOKEN_{secrets.token_hex(3).upper()}"
    env = {**os.environ, token_env: token, DATABASE_URL_ENV: postgres.create_database()}
    address = dev_env.client.service_client.config.target_host
    queue = f"limits-{uuid.uuid4()}"
    procs: list[subprocess.Popen[str]] = []
    with serve_in_thread(meter) as server, contextlib.ExitStack() as stack:
        try:
            for n in range(2):
                errors = stack.enter_context((tmp_path / f"w{n}.err").open("w"))
                procs.append(_spawn([address, queue, str(tmp_path / f"w{n}"), server.base_url, token_env], errors, env))
            for proc in procs:
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            halves = [hooks[::2], hooks[1::2]]
            handles = []
            for half in halves:
                request = campaign_input(playbook, findings=findings_for(playbook, half))
                handles.append(
                    await dev_env.client.start_workflow(
                        "RemediationWorkflow",
                        request,
                        id=request.campaign_id,
                        task_queue=queue,
                        result_type=RemediationResult,
                    )
                )
            async with asyncio.timeout(240):
                results = [await wait_idle(dev_env.client, h.id) for h in handles]
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
                if proc.stdout is not None:
                    proc.stdout.close()
    errors_seen = _worker_errors(tmp_path)
    assert [r.state for r in results] == ["completed", "completed"], errors_seen
    assert sum(r.totals.get("verified", 0) for r in results) == len(hooks) == 24
    assert meter.refused == 0, (meter.refused, meter.per_window)
    assert max(meter.per_window.values()) <= LIMIT
    assert max(meter.per_window.values()) >= LIMIT // 2, meter.per_window  # the windows were really contended
    assert 2 <= meter.max_inflight <= TENANT_CONCURRENCY
