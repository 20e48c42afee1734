"""What several benchmarks share: waiting for a simulator process to listen, and the webhook playbook they run.

The benchmarks are scripts (`python bench/scan.py`); this file sits next to them, so they import it by name.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

from mendflow.runtime.ports import is_listening


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
