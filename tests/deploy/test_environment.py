"""`mendflow worker` and `mendflow api` configured only through `MENDFLOW_*` variables, as a container runs them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from mendflow.audit import AuditLog
from mendflow.cli.environment import PREFIX, environment_settings, known_variables, required_variables
from mendflow.store import Database

MENDFLOW = str(Path(sys.executable).parent / "mendflow")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env(**settings: str) -> dict[str, str]:
    """The parent's environment without any MENDFLOW_* leftovers, plus the given settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
    env.update(settings)
    return env


async def _wait_for_line(proc: asyncio.subprocess.Process, needle: str) -> str:
    assert proc.stdout is not None and proc.stderr is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(60):
            while line := (await proc.stdout.readline()).decode():
                seen.append(line)
                if needle in line:
                    return line
    except TimeoutError:
        pass
    proc.kill()
    err = (await proc.stderr.read()).decode()
    raise AssertionError(f"{needle!r} never printed; stdout={seen!r} stderr={err[-2000:]!r}")


async def _start(command: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        MENDFLOW, command, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def _stop(proc: asyncio.subprocess.Process, sig: int) -> str:
    """Send `sig`, wait for the exit and return stderr."""
    assert proc.stderr is not None
    proc.send_signal(sig)
    async with asyncio.timeout(60):
        err = (await proc.stderr.read()).decode()
        await proc.wait()
    return err


def test_every_option_of_worker_and_api_has_a_mendflow_variable() -> None:
    """No setting of a long-running command is reachable only through a flag."""
    settings = environment_settings()
    assert {s.command for s in settings} == {"worker", "api"}
    missing = [f"{s.command} {s.option}" for s in settings if not s.envvar.startswith(PREFIX)]
    assert missing == []
    for command in ("worker", "api"):
        names = [s.envvar for s in settings if s.command == command]
        assert len(names) == len(set(names)), f"{command}: two options share a variable"


def test_one_meaning_has_one_variable_across_commands() -> None:
    """The same flag on the worker and the API reads the same variable, and a variable means one flag."""
    flags_of: dict[str, set[str]] = defaultdict(set)
    variables_of: dict[str, set[str]] = defaultdict(set)
    for s in environment_settings():
        flags_of[s.envvar].add(s.option)
        variables_of[s.option].add(s.envvar)
    assert all(len(flags) == 1 for flags in flags_of.values()), flags_of
    assert all(len(names) == 1 for names in variables_of.values()), variables_of
    assert {"MENDFLOW_TEMPORAL_ADDRESS", "MENDFLOW_TEMPORAL_NAMESPACE", "MENDFLOW_TEMPORAL_TLS"} <= known_variables()
    assert required_variables("worker") >= {"MENDFLOW_TEMPORAL_ADDRESS", "MENDFLOW_TENANTS"}


def test_worker_without_its_required_variables_exits_2_naming_them(tmp_path: Path) -> None:
    """A worker started with no settings says which variable is missing and exits 2, no traceback."""
    done = subprocess.run(
        [MENDFLOW, "worker"], env=_clean_env(), capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 2
    assert "MENDFLOW_TEMPORAL_ADDRESS" in done.stderr or "--temporal-address" in done.stderr
    assert "Traceback" not in done.stderr


async def test_worker_configured_only_by_environment_connects_and_stops_on_sigterm(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """Temporal, tenants, data dir and probe port from the environment; probes answer; SIGTERM exits 0."""
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text("tenants: []\n")
    address = dev_env.client.service_client.config.target_host
    health_port = _free_port()
    env = _clean_env(
        MENDFLOW_TEMPORAL_ADDRESS=address,
        MENDFLOW_TEMPORAL_NAMESPACE="default",
        MENDFLOW_TEMPORAL_TLS="false",
        MENDFLOW_TENANTS=str(tenants),
        MENDFLOW_DATA_DIR=str(tmp_path / "data"),
        MENDFLOW_HEALTH_HOST="127.0.0.1",
        MENDFLOW_HEALTH_PORT=str(health_port),
    )
    proc = await _start("worker", env, tmp_path)
    try:
        line = await _wait_for_line(proc, "worker connected to")
        assert address in line and "(default)" in line
        await _wait_for_line(proc, f"127.0.0.1:{health_port}/healthz")
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"http://127.0.0.1:{health_port}/healthz")).status_code == 200
            assert (await http.get(f"http://127.0.0.1:{health_port}/readyz")).status_code == 200
        err = await _stop(proc, signal.SIGTERM)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_api_configured_only_by_environment_serves_healthz(dev_env: WorkflowEnvironment, tmp_path: Path) -> None:
    """Listen address, Temporal, database and signing-secret reference from the environment; audit in the database."""
    port = _free_port()
    database = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    env = _clean_env(
        MENDFLOW_API_HOST="127.0.0.1",
        MENDFLOW_API_PORT=str(port),
        MENDFLOW_TEMPORAL_ADDRESS=dev_env.client.service_client.config.target_host,
        MENDFLOW_SLACK_SIGNING_SECRET="env:DEPLOY_TEST_SIGNING",
        DEPLOY_TEST_SIGNING="not-a-real-signing-secret",
        MENDFLOW_DATABASE_URL=database,
    )
    proc = await _start("api", env, tmp_path)
    try:
        line = await _wait_for_line(proc, "mendflow API at")
        assert f"127.0.0.1:{port}" in line
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"http://127.0.0.1:{port}/healthz")
            unsigned = await http.post(f"http://127.0.0.1:{port}/slack/interactivity", content=b"payload=%7B%7D")
        assert answer.status_code == 200
        assert unsigned.status_code in (400, 401, 403)
        err = await _stop(proc, signal.SIGINT)
        assert proc.returncode == 0, err
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    # The refusal went to the database's audit chain, the one every replica and worker shares.
    db = Database.open(database)
    try:
        records = AuditLog(db).records()
    finally:
        db.dispose()
    assert [r["outcome"] for r in records] == ["refused"]
    assert not (tmp_path / ".mendflow" / "audit.jsonl").exists()
