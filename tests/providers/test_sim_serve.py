"""`mendflow sim serve PROVIDER -f FILE` serves any registered provider's simulator, with no vendor command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from mendflow.runtime.ports import free_port

MENDFLOW = [str(Path(sys.executable).parent / "mendflow")]
DEMO_OKTA = Path(__file__).parents[2] / "src" / "mendflow" / "data" / "demo-okta.json"


def test_serve_answers_with_the_providers_simulator_until_stopped() -> None:
    """The Okta demo tenant served through the provider's factory: its users for the token, 401 for another."""
    port = free_port()
    env = {**os.environ, "MENDFLOW_SIM_TOKEN": "sim-token-123456"}
    args = [*MENDFLOW, "sim", "serve", "okta", "-f", str(DEMO_OKTA), "--port", str(port)]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env) as sim:
        assert sim.stdout is not None
        assert f"at http://127.0.0.1:{port}" in sim.stdout.readline()
        url = f"http://127.0.0.1:{port}/api/v1/users"
        for _ in range(100):
            try:
                ok = httpx.get(url, headers={"Authorization": "SSWS sim-token-123456"})
                break
            except httpx.TransportError:
                time.sleep(0.05)
        denied = httpx.get(url, headers={"Authorization": "SSWS wrong"})
        sim.send_signal(signal.SIGINT)
        sim.wait(timeout=20)
    assert ok.status_code == 200 and [u["id"] for u in ok.json()]
    assert denied.status_code == 401


def test_an_unknown_provider_is_bad_input() -> None:
    """Exit 2, naming the registered providers."""
    done = subprocess.run(
        [*MENDFLOW, "sim", "serve", "gitlab", "-f", str(DEMO_OKTA)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "unknown provider 'gitlab' (known: github, okta" in done.stderr + done.stdout
