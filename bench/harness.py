"""What several benchmarks share: a GitHub simulator in its own process, and the webhook playbook they run.

The benchmarks are scripts (`python bench/scan.py`); this file sits next to them, so they import it by name.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mendflow.config import TenantConnection
from mendflow.runtime.ports import free_port, is_listening
from mendflow.secrets import SecretRef

LAUNCHER = "import sys; from mendflow.cli.main import main; main()"


def wait_for(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Return once the simulator `process` listens on `port`; fail at once if it exits, or after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the simulator exited early with code {process.returncode}")
        if is_listening("127.0.0.1", port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the simulator did not listen on port {port} within {timeout:.0f}s")


@contextmanager
def github_sim(
    tenant_file: Path, token_env: str, *, key: str = "github:acme"
) -> Iterator[tuple[TenantConnection, subprocess.Popen[bytes]]]:
    """`mendflow sim github --tenant-file` in its own process, the vendor's rate limit lifted (these measure
    mendflow, not the vendor's window); yields the tenant connection to it (`key`, token from `token_env`) and the
    process once it listens, and stops it after."""
    port = free_port()
    sim = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, "sim", "github", "--tenant-file", str(tenant_file), "--port", str(port),
         "--token-env", token_env, "--fault-rate-limit", "100000000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(port, sim, timeout=300.0)
        base_url, token = f"http://127.0.0.1:{port}", SecretRef(ref=f"env:{token_env}")
        yield TenantConnection(key=key, provider="github", tenant="acme", base_url=base_url, token=token), sim
    finally:
        sim.terminate()
        sim.wait(30)


def hook_playbook(severity: str, **respond: Any) -> dict[str, Any]:
    """The insecure-webhook playbook (set `insecure_ssl` to "0"), with the benchmark's severity and gate/rollout."""
    return {
        "apiVersion": "mendflow/v1",
        "id": "github.repo_hook.insecure_ssl",
        "title": "Repository webhooks must verify TLS certificates",
        "resource": "github.repo_hook",
        "detect": {"when": 'string(resource.config.insecure_ssl) == "1"', "severity": severity},
        "respond": {"action": "github.repo_hook.update_config", "with": {"insecure_ssl": "0"}, **respond},
    }
