"""`--payload-keys` on the command line: a malformed ring or an unreadable key is bad input (exit 2), named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MENDFLOW = str(Path(sys.executable).parent / "mendflow")


def _scan(*args: str) -> subprocess.CompletedProcess[str]:
    command = [MENDFLOW, "scan", "--tenant", "github:acme", "--temporal-address", "127.0.0.1:9", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_a_malformed_ring_exits_2_naming_the_entry() -> None:
    """A key given as a value instead of a reference is refused before anything connects, without echoing it."""
    done = _scan("--payload-keys", "k1=env:A,k2=hunter2-not-a-reference")
    assert done.returncode == 2, done.stderr
    assert "key 'k2'" in done.stderr and "hunter2" not in done.stderr + done.stdout


def test_a_key_that_is_not_32_bytes_exits_2_naming_its_id(tmp_path: Path) -> None:
    """A key file holding the wrong thing is named by key id; its content is never printed."""
    key = tmp_path / "payload.key"
    key.write_text("c2hvcnQta2V5LXRleHQ\n")
    done = _scan("--payload-keys", f"old=file:{key}")
    assert done.returncode == 2, done.stderr
    assert "'old'" in done.stderr and "c2hvcnQta2V5LXRleHQ" not in done.stderr + done.stdout
