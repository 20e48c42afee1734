"""Progress of a long scan: heartbeated by the collect activity, redrawn by `mendflow scan --tenant` on a terminal's
stderr only — nothing extra with `--format json` or when stderr is not a terminal."""

from __future__ import annotations

import asyncio
import io
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from mendflow.cli.progress import CLEAR, terminal_progress
from mendflow.cli.scan_cmd import OutputFormat, _scan_through_temporal
from mendflow.config import TenantConnection, TenantRegistry
from mendflow.connectors.http import OKTA_LIMITS, VendorHttp
from mendflow.playbooks.model import Playbook
from mendflow.redaction import register_secret
from mendflow.runtime.client import TASK_QUEUE, TemporalSettings
from mendflow.runtime.loopback import serve_in_thread
from mendflow.runtime.scans import run_scan_and_wait
from mendflow.runtime.worker import build_worker
from mendflow.scan_progress import ProgressMeter, ScanProgress
from mendflow.secrets import SecretRef
from mendflow.sim.common import FaultPlan
from mendflow.sim.generate import okta_tenant
from mendflow.sim.okta import create_okta_app
from mendflow.tenant import parse_tenant
from mendflow.worker_context import WorkerContext

# --- the pieces ------------------------------------------------------------------------------------------------


@dataclass
class _Http:
    requests_made: int = 0
    rate_waited_seconds: float = 0.0


def test_meter_reports_counts_requests_and_waiting_at_most_once_per_interval() -> None:
    """Resources per type in arrival order, the client's requests and waits; no more than one report a second."""
    now = [0.0]
    http = _Http()
    reports: list[ScanProgress] = []
    meter = ProgressMeter(http, reports.append, every=1.0, clock=lambda: now[0])
    meter.add("okta.policy")  # first report at once
    http.requests_made, http.rate_waited_seconds = 7, 2.5
    meter.add("okta.user")
    meter.tick(30.0)  # a rate-limit wait calls back: still within the second
    now[0] = 1.5
    meter.tick(29.0)
    assert [r.resources for r in reports] == [{"okta.policy": 1}, {"okta.policy": 1, "okta.user": 1}]
    assert reports[-1].line() == "collecting: 1 okta.policy · 1 okta.user | 7 requests | 2 s waiting on rate limits"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_only_a_terminal_with_the_table_format_gets_a_progress_line() -> None:
    """JSON output or a redirected stderr: no progress at all; a terminal: one redrawn line, erased at the end."""
    assert terminal_progress(io.StringIO(), table=True) is None
    assert terminal_progress(_Tty(), table=False) is None
    stream = _Tty()
    progress = terminal_progress(stream, table=True)
    assert progress is not None
    progress.show(ScanProgress(resources={"okta.user": 200}, requests=3))
    progress.show(ScanProgress(resources={"okta.user": 400}, requests=4))
    progress.close()
    assert stream.getvalue() == (
        f"{CLEAR}collecting: 200 okta.user | 3 requests | 0 s waiting on rate limits"
        f"{CLEAR}collecting: 400 okta.user | 4 requests | 0 s waiting on rate limits{CLEAR}"
    )


async def test_waits_the_vendor_asked_for_are_counted() -> None:
    """A 429 with a reset 2 s ahead is waited for; concurrent waits for the same reset are one wait as a person
    watching sees it (the clock stands still here, so every wait ends at the same moment)."""
    limited = {"left": 1}

    def answer(request: httpx.Request) -> httpx.Response:
        if limited["left"] > 0:
            limited["left"] -= 1
            return httpx.Response(429, headers={"x-rate-limit-reset": "1002"}, json={"errorCode": "E0000047"})
        return httpx.Response(200, json={"ok": True})

    async def sleep(seconds: float) -> None:
        return None

    http = VendorHttp(
        base_url="https://okta.example",
        auth_header="SSWS t",
        vendor="Okta",
        rate_limits=OKTA_LIMITS,
        sleep=sleep,
        clock=lambda: 1000.0,
        transport=httpx.MockTransport(answer),
    )
    async with http:
        assert await http.get_json("/api/v1/users") == {"ok": True}
        limited["left"] = 2  # two requests limited at once, both told to wait for the same reset
        await asyncio.gather(http.get_json("/api/v1/users"), http.get_json("/api/v1/groups"))
    assert http.limited_seconds == pytest.approx(3 * (2.0 + OKTA_LIMITS.reset_margin))
    assert http.rate_waited_seconds == pytest.approx(2.0 + OKTA_LIMITS.reset_margin)  # overlapping waits count once


# --- end to end: a rate-limited Okta org, a worker on the dev server, the scan command on a terminal or not -------


@pytest.fixture
def okta_context(
    monkeypatch: pytest.MonkeyPatch, shipped_playbooks: list[Playbook], tmp_path: Path
) -> Iterator[WorkerContext]:
    """A 400-user generated Okta org behind tight rate limits (20 requests per endpoint per second), and a worker
    context with the shipped notify-only Okta playbooks."""
    tenant = parse_tenant(okta_tenant(users=400), source="test")
    token = secrets.token_urlsafe(24)
    register_secret(token)
    env_name = f"MENDFLOW_TEST_TOKEN_{secrets.token_hex(4).upper()}"
    monkeypatch.setenv(env_name, token)
    app = create_okta_app(tenant, token=token, faults=FaultPlan(rate_limit=20, rate_window=1.0))
    with serve_in_thread(app) as server:
        registry = TenantRegistry()
        registry.add(
            TenantConnection(
                key="okta:progress",
                provider="okta",
                tenant=tenant.tenant,
                base_url=server.base_url,
                token=SecretRef(ref=f"env:{env_name}"),
            )
        )
        notify_only = {p.id: p for p in shipped_playbooks if p.resource.startswith("okta.") and p.respond is None}
        assert notify_only  # no campaign to wait for: the test measures the scan
        context = WorkerContext(registry=registry, data_dir=tmp_path / "data", playbooks=notify_only)
        yield context
        context.close()


async def _cli_scan(
    env: WorkflowEnvironment, stderr: io.StringIO, *, json_output: bool, capsys: pytest.CaptureFixture[str]
) -> tuple[str, str]:
    """`mendflow scan --tenant okta:progress` (the command's own code, in this process) with `stderr` as the
    process's stderr; what it printed to stdout and to `stderr`."""
    capsys.readouterr()
    settings = TemporalSettings(address=env.client.service_client.config.target_host)
    output = OutputFormat.json if json_output else OutputFormat.table
    real = sys.stderr
    sys.stderr = stderr
    try:
        await _scan_through_temporal("okta:progress", settings, output)
    finally:
        sys.stderr = real
    return capsys.readouterr().out, stderr.getvalue()


@pytest.mark.slow
async def test_progress_reaches_a_terminal_and_nothing_else(
    dev_env: WorkflowEnvironment, okta_context: WorkerContext, capsys: pytest.CaptureFixture[str]
) -> None:
    """The collect activity's progress arrives while the rate-limited scan runs (resources per collection,
    requests, waiting); `mendflow scan` redraws it on a terminal's stderr and erases it before the summary;
    `--format json` on a terminal and the table with stderr redirected get nothing extra."""
    async with build_worker(dev_env.client, okta_context, task_queue=TASK_QUEUE):
        seen: list[ScanProgress] = []
        result, _ = await run_scan_and_wait(dev_env.client, "okta:progress", on_progress=seen.append, poll=0.2)
        assert max(p.resources.get("okta.user", 0) for p in seen) > 0 and result.resources > 0
        assert max(p.waited_seconds for p in seen) > 0  # the tight limits were waited on, and it showed
        assert [p.requests for p in seen] == sorted(p.requests for p in seen)

        out, err = await _cli_scan(dev_env, _Tty(), json_output=False, capsys=capsys)
        assert err.startswith(f"{CLEAR}collecting: ") and err.endswith(CLEAR)
        assert "scanned " in out and "collecting" not in out

        out, err = await _cli_scan(dev_env, _Tty(), json_output=True, capsys=capsys)
        assert err == "" and out.splitlines() and all(line.startswith("{") for line in out.splitlines())

        out, err = await _cli_scan(dev_env, io.StringIO(), json_output=False, capsys=capsys)
        assert err == "" and "scanned " in out
