"""The operator verbs as API clients: honest exit codes and one-line errors, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli_in_process import Done, invoker

MENDFLOW = str(Path(sys.executable).parent / "mendflow")
FAKE_TOKEN = "mfp_" + "x" * 43
Run = Callable[..., Done]


def run_process(*args: str, token: str | None = FAKE_TOKEN) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MENDFLOW_TOKEN"}
    if token is not None:
        env["MENDFLOW_TOKEN"] = token
    return subprocess.run([MENDFLOW, *args], capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """`run("approve", …, token=None)`: the CLI in this process (a process costs ~2 s of imports)."""
    invoke = invoker(capsys, monkeypatch)

    def run_here(*args: str, token: str | None = FAKE_TOKEN) -> Done:
        monkeypatch.delenv("MENDFLOW_TOKEN", raising=False)
        if token is not None:
            monkeypatch.setenv("MENDFLOW_TOKEN", token)
        return invoke(*args)

    return run_here


@pytest.mark.parametrize("verb", ["approve", "reject", "pause", "resume", "abort", "rollback"])
def test_without_a_token_a_verb_is_bad_input(verb: str, run: Run) -> None:
    """No MENDFLOW_TOKEN and no --token-file: exit 2 saying how to get one."""
    done = run(verb, "remediate/x", "--reason", "r", token=None)
    assert done.returncode == 2 and "mendflow tokens create" in done.stderr and "Traceback" not in done.stderr


def test_an_unreachable_api_is_mendflows_failure() -> None:
    """The API cannot be reached: exit 1, one line naming the URL (from a real process)."""
    done = run_process("status", "--api-url", "http://127.0.0.1:9")
    assert done.returncode == 1 and "http://127.0.0.1:9 cannot be reached" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_an_unknown_format_is_bad_input(run: Run) -> None:
    """`--format yaml`: exit 2 before anything is sent."""
    done = run("approve", "remediate/x", "--format", "yaml")
    assert done.returncode == 2 and "table or json" in done.stderr


def test_an_unreadable_token_file_is_bad_input(tmp_path: Path, run: Run) -> None:
    """A binary token file is a clear error, not a traceback."""
    bad = tmp_path / "token"
    bad.write_bytes(b"\xff\xfe\x00")
    done = run("status", "--token-file", str(bad), token=None)
    assert done.returncode == 2 and "cannot read a token" in done.stderr and "Traceback" not in done.stderr


def test_a_caller_cannot_name_themselves_or_bring_a_config(tmp_path: Path, run: Run) -> None:
    """The old attack (`--as` someone, with one's own `--config` granting groups) is not even an option any more."""
    evil = tmp_path / "mendflow.yaml"
    evil.write_text("rbac:\n  people:\n    eve: {groups: [secops-oncall]}\n")
    for option in (["--as", "eve"], ["--config", str(evil)]):
        done = run("approve", "remediate/x", *option)
        assert done.returncode == 2 and "No such option" in done.stderr, done.stderr
