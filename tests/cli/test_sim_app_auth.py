"""`mendflow sim okta --service-app …` as a real process, and `mendflow doctor` against it: real exit codes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from mendflow.runtime.ports import free_port
from tests.cli_in_process import invoker
from tests.connectors.keys import rsa_pair

ROOT = Path(__file__).resolve().parents[2]
MENDFLOW = str(Path(sys.executable).parent / "mendflow")


@contextmanager
def simulator(*args: str, port: int) -> Iterator[None]:
    env = {**os.environ, "MENDFLOW_SIM_TOKEN": "sim-static-token-not-given-to-mendflow"}
    with subprocess.Popen([MENDFLOW, "sim", *args, "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL) as process:  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.1)
            yield
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.mark.slow  # the simulator's process starts (~3 s idle, more on a loaded machine)
def test_doctor_against_a_simulated_okta_service_app(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service app the simulator grants only user scopes: doctor exits 1, naming the missing policy scopes."""
    private, public = rsa_pair()
    (tmp_path / "public.pem").write_text(public)
    (tmp_path / "private.pem").write_text(private)
    tenant_file = ROOT / "examples" / "acme-okta.tenant.json"
    port = free_port()
    args = ["okta", "--tenant-file", str(tenant_file), "--service-app", "0oaCLI", "--service-app-public-key",
            str(tmp_path / "public.pem"), "--service-app-scopes", "okta.users.read,okta.users.manage"]  # fmt: skip
    auth = {"kind": "okta_service_app", "client_id": "0oaCLI", "private_key": {"ref": f"file:{tmp_path}/private.pem"}}
    entry = {"key": "okta:cli", "provider": "okta", "tenant": json.loads(tenant_file.read_text())["tenant"],
             "base_url": f"http://127.0.0.1:{port}", "auth": auth}  # fmt: skip
    (tmp_path / "tenants.yaml").write_text(yaml.safe_dump({"tenants": [entry]}))
    with simulator(*args, port=port):  # doctor runs in-process: a second CLI process costs ~2 s of imports
        done = invoker(capsys, monkeypatch)("doctor", "--tenants", str(tmp_path / "tenants.yaml"), "--format", "json")
    assert done.returncode == 1, done.stdout + done.stderr
    statuses = {r["needed"]: r["status"] for r in json.loads(done.stdout)["tenants"][0]["rows"]}
    assert statuses["okta.policies.read"] == "missing" and statuses["okta.policies.manage"] == "missing"
    assert statuses["okta.users.read"] == "ok" and statuses["okta.users.manage"] == "ok"
    assert private.splitlines()[3] not in done.stdout + done.stderr
