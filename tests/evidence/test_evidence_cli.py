"""`mendflow evidence export|verify` as a person runs them: the generated key, the printed fingerprint, exit codes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mendflow.evidence.keys import KEY_FILE, fingerprint
from mendflow.store import Database, database_url
from tests.cli_in_process import invoker
from tests.evidence.scenario import SINCE, UNTIL, populate


def test_export_then_verify_from_the_command_line_with_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Export generates the data directory's key (0600) and prints its public key; verify with it exits 0, a
    tampered bundle exits 3 naming the file, a path that is no bundle exits 2."""
    for name in [k for k in os.environ if k.startswith("MENDFLOW_")]:
        monkeypatch.delenv(name)  # only what the command line says
    run = invoker(capsys, monkeypatch)  # the CLI's entry point in-process: four processes cost ~2 s each
    data = tmp_path / "data"
    db = Database.open(database_url(data))
    populate(db)
    db.dispose()
    bundle = tmp_path / "bundle"
    window = ["--since", SINCE.isoformat(), "--until", UNTIL.isoformat()]
    done = run("evidence", "export", *window, "--framework", "SOC2", "--out", str(bundle), "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((data / KEY_FILE).stat().st_mode) == 0o600
    public = done.stdout.rsplit("public key (give it to verifiers): ", 1)[1].strip()
    assert f"signed by {fingerprint(public)}" in done.stdout
    assert (data / KEY_FILE).read_text().strip() not in done.stdout + done.stderr

    ok = run("evidence", "verify", str(bundle), "--public-key", public)
    assert ok.returncode == 0, ok.stderr
    assert f"signed by {fingerprint(public)}, the key given" in ok.stdout

    (bundle / "decisions.jsonl").write_text("")
    refused = run("evidence", "verify", str(bundle), "--public-key", public)
    assert refused.returncode == 3
    assert refused.stderr.startswith("mendflow: decisions.jsonl: sha256 ")

    missing = run("evidence", "verify", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "no such evidence bundle" in missing.stderr
