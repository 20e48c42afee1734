"""`mendflow tokens`: created once in clear, stored hashed, listed without the secret, revoked; all audited."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mendflow.audit import AuditLog
from mendflow.auth.tokens import StoredTokens
from mendflow.store import Database, database_url
from tests.cli_in_process import Done, invoker

MENDFLOW = str(Path(sys.executable).parent / "mendflow")
Run = Callable[..., Done]


def run_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MENDFLOW, "tokens", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """`run("create", …)`: `mendflow tokens create …` in this process (a process costs ~2 s of imports)."""
    invoke = invoker(capsys, monkeypatch)
    return lambda *args: invoke("tokens", *args)


def test_token_lifecycle_is_hashed_listed_revoked_and_audited(tmp_path: Path, run: Run) -> None:
    """The token appears once; the database holds only its sha256; revocation takes effect; both audited."""
    config = tmp_path / "mendflow.yaml"
    config.write_text("rbac:\n  people:\n    alice: {groups: [secops-oncall]}\n")
    where = ["--data-dir", str(tmp_path)]
    made = run("create", "--person", "alice", "--role", "approver", "--config", str(config), "--format", "json", *where)
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    secret = created["token"]
    assert secret.startswith("mfp_") and created["role"] == "approver"
    assert secret.encode() not in (tmp_path / "mendflow.sqlite3").read_bytes()
    listed = run("list", *where)
    assert created["token_id"] in listed.stdout and "active" in listed.stdout and secret not in listed.stdout
    assert run("revoke", created["token_id"], *where).returncode == 0
    store = StoredTokens(Database.open(database_url(tmp_path)))
    info = store.lookup(secret)
    assert info is not None and info.state(0) == "revoked"
    again = run("revoke", created["token_id"], *where)
    assert again.returncode == 2 and "already revoked" in again.stderr and "Traceback" not in again.stderr
    kinds = [r["kind"] for r in AuditLog(Database.open(database_url(tmp_path))).records()]
    assert kinds == ["token.created", "token.revoked"]


def test_a_token_for_someone_outside_the_rbac_config_is_refused(tmp_path: Path) -> None:
    """Tokens are bound to a person of the RBAC config: a made-up name is bad input (exit 2), from a real process."""
    made = run_process("create", "--person", "nobody", "--data-dir", str(tmp_path))
    assert made.returncode == 2 and "not in rbac.people" in made.stderr and "Traceback" not in made.stderr


def test_an_unknown_format_is_bad_input_before_anything_runs(tmp_path: Path, run: Run) -> None:
    """`--format yaml` was accepted and printed a table; it is refused (exit 2) and nothing is created."""
    config = tmp_path / "mendflow.yaml"
    config.write_text("rbac:\n  people:\n    alice: {groups: [secops-oncall]}\n")
    made = run("create", "--person", "alice", "--config", str(config), "--format", "yaml", "--data-dir", str(tmp_path))
    assert made.returncode == 2 and "use table or json" in made.stderr and "Traceback" not in made.stderr
    listed = run("list", "--format", "json", "--data-dir", str(tmp_path))
    assert listed.returncode == 0 and listed.stdout == ""  # JSON lines: no token, no line
