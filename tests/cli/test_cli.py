"""The `mendflow` command as a user runs it: real subprocesses, real exit codes, one-line errors.

The commands that drive a running `mendflow up` (and the playbook checks) run in-process through the same entry
point: a CLI process costs ~2 s of imports, and the process boundary is what the other tests here check.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mendflow.data import demo_tenant_path
from tests.cli_in_process import Done, invoker

MENDFLOW = [str(Path(sys.executable).parent / "mendflow")]


@pytest.fixture(scope="module")
def expected() -> dict[str, int]:
    """What the shipped playbooks find in the demo org, computed in-process (so new playbooks don't break tests)."""
    from mendflow.offline import scan_tenant_file
    from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks

    playbooks = {p.id: p for p in load_playbooks([bundled_playbook_dir()]).playbooks}
    scan = scan_tenant_file(demo_tenant_path(), list(playbooks.values()))
    modes = [playbooks[f.rule].mode.value for f in scan.findings]
    acting_rules = {f.rule for f in scan.findings if playbooks[f.rule].mode.value != "notify"}
    return {
        "findings": len(scan.findings),
        "resources": len(scan.resources),
        "auto": modes.count("auto"),
        "campaigns": len(acting_rules),
    }


def run(
    *args: str, cwd: Path | None = None, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env} if env else None
    return subprocess.run([*MENDFLOW, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=full)


Run = Callable[..., Done]


@pytest.fixture
def here(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """`here("status", …, env={"MENDFLOW_TOKEN": …})`: `mendflow status …` run in this process."""
    invoke = invoker(capsys, monkeypatch)

    def run_here(*args: str, env: dict[str, str] | None = None) -> Done:
        monkeypatch.delenv("MENDFLOW_TOKEN", raising=False)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        return invoke(*args)

    return run_here


def test_scan_json_prints_one_finding_per_line_as_of_taken_at(expected: dict[str, int]) -> None:
    """`scan --format json` prints tenant-v1 findings, evaluated as of the file's taken_at."""
    done = run("scan", "--tenant-file", str(demo_tenant_path()), "--format", "json")
    assert done.returncode == 0, done.stderr
    findings = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(findings) == expected["findings"] >= 15
    for finding in findings:
        assert {"fingerprint", "rule", "title", "severity", "resource", "evidence", "compliance"} <= finding.keys()
        assert finding["observed_at"] == "2026-11-20T00:00:00Z"
        assert finding["resource"]["id"].startswith(("/orgs/acme", "/repos/acme/"))
    hook = next(f for f in findings if f["resource"]["id"] == "/repos/acme/api/hooks/11")
    assert hook["evidence"] == {"resource.config.insecure_ssl": "1"}


def test_scan_table_is_the_default_for_people(expected: dict[str, int]) -> None:
    """Without --format the output is a table with a summary line."""
    done = run("scan", "-f", str(demo_tenant_path()))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].split() == ["severity", "rule", "resource", "evidence"]
    assert f"{expected['findings']} findings in {expected['resources']} resources of acme" in done.stdout


def test_bad_tenant_file_exits_2_naming_file_and_json_path(tmp_path: Path) -> None:
    """A tenant file with a wrong shape gets file + JSON path and exit code 2, no traceback."""
    doc = json.loads(demo_tenant_path().read_text())
    doc["github"]["repos"][1]["_hooks"][0]["config"] = "not-an-object"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    done = run("scan", "--tenant-file", str(bad))
    assert done.returncode == 2
    assert str(bad) in done.stderr and "$.github.repos[1]._hooks[0].config" in done.stderr
    assert "Traceback" not in done.stderr


def test_one_bad_playbook_is_reported_and_the_others_still_load(tmp_path: Path, here: Run) -> None:
    """A broken playbook is named with file:line:column; scanning goes on with the good ones."""
    good = (Path(__file__).parents[2] / "playbooks" / "github" / "repo_hook_insecure_ssl.yaml").read_text()
    (tmp_path / "good.yaml").write_text(good)
    (tmp_path / "bad.yaml").write_text(good.replace("when:", "whn:"))
    done = here("scan", "-f", str(demo_tenant_path()), "--playbooks", str(tmp_path), "--format", "json")
    assert done.returncode == 0
    assert f"{tmp_path / 'bad.yaml'}:" in done.stderr and "did you mean 'when'" in done.stderr
    rules = {json.loads(line)["rule"] for line in done.stdout.splitlines()}
    assert rules == {"github.repo_hook.insecure_ssl"}


def test_playbooks_validate_exits_2_on_errors(tmp_path: Path, here: Run) -> None:
    """`playbooks validate` lists errors and exits 2; the shipped packs validate cleanly."""
    assert here("playbooks", "validate").returncode == 0
    (tmp_path / "x.yaml").write_text("apiVersion: mendflow/v1\nid: x\n")
    done = here("playbooks", "validate", str(tmp_path))
    assert done.returncode == 2 and "x.yaml:" in done.stderr


def test_worker_with_unreachable_temporal_is_a_one_line_error(tmp_path: Path) -> None:
    """No Temporal at the address: one line saying what to check, exit 1."""
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text("tenants: []\n")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = run("worker", "--temporal-address", f"127.0.0.1:{port}", "--tenants", str(tenants), timeout=60)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.startswith("mendflow:")]
    assert len(lines) == 1 and f"cannot reach Temporal at 127.0.0.1:{port}" in lines[0]
    assert "Traceback" not in done.stderr


def test_up_refuses_a_taken_port_clearly(tmp_path: Path) -> None:
    """`mendflow up` on a busy port says which port and which option to change."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run("up", "--temporal-port", str(port), "--data-dir", str(tmp_path), timeout=60)
    assert done.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr and "--temporal-port" in done.stderr


@pytest.mark.slow
def test_demo_runs_twice_in_a_row_and_exits_0(tmp_path: Path, expected: dict[str, int]) -> None:
    """`mendflow demo` fixes and verifies the auto findings, shuts down, and works again on the same data dir."""
    for run_number in (1, 2):
        done = run("demo", "--data-dir", str(tmp_path / "demo"), timeout=180)
        assert done.returncode == 0, (run_number, done.stdout, done.stderr)
        # The auto fixes, plus the approval-mode campaign the demo approves through the Slack simulator.
        assert f"verified fixes: {expected['auto'] + 1}; restored: 0" in done.stdout
        assert "Temporal UI" in done.stdout and "http://127.0.0.1:" in done.stdout
        assert "Slack card history: awaiting_approval" in done.stdout and "Jira ticket: SEC-" in done.stdout
        # a change made by hand reaches mendflow by webhook (no scan) and its auto playbook fixes it
        assert "by hand: detected by webhook in" in done.stdout and "resolved fixed by mendflow" in done.stdout
        rows = [line for line in done.stdout.splitlines() if line.startswith("github.")]
        verified_rows = [line for line in rows if line.rstrip().endswith("verified")]
        assert len(verified_rows) == expected["auto"] + 1 >= 7
    # Nothing left running: the dev server's port from the last run is free again.
    ui_line = next(line for line in done.stdout.splitlines() if "Temporal UI" in line)
    ui_port = int(ui_line.rsplit(":", 1)[1])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", ui_port))


@pytest.mark.slow
def test_up_serves_until_interrupted_and_scan_goes_through_it(
    tmp_path: Path, expected: dict[str, int], here: Run
) -> None:
    """`mendflow up` runs the embedded stack; `scan --tenant` fixes through it; Ctrl-C stops it cleanly."""
    from mendflow.runtime.ports import free_port

    port, ui_port, api_port = free_port(), free_port(), free_port()
    config = tmp_path / "mendflow.yaml"
    config.write_text(
        "rbac:\n"
        "  people:\n"
        "    alice: {groups: [secops-oncall]}\n"
        "    mallory: {groups: [sales]}\n"
        "  default_approvers: ['group:secops-oncall']\n"
        "schedules:\n  - {tenant: 'github:acme', interval: 1d, jitter: 1m}\n"
    )
    errors = tmp_path / "up.stderr"
    with (
        errors.open("w") as stderr,
        subprocess.Popen(
            [
                *MENDFLOW,
                "up",
                "--temporal-port",
                str(port),
                "--ui-port",
                str(ui_port),
                "--data-dir",
                str(tmp_path),
                "--config",
                str(config),
                "--api-port",
                str(api_port),
            ],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as up,
    ):
        code = _drive_up(up, port, ui_port, expected, config, api_port, tmp_path, here)
    assert code == 0, errors.read_text()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # the dev server is gone


def _drive_up(
    up: subprocess.Popen[str], port: int, ui_port: int, expected: dict[str, int], config: Path, api_port: int,
    data_dir: Path, run: Run,
) -> int:  # fmt: skip
    import signal

    try:
        assert up.stdout is not None
        seen = []
        for line in up.stdout:
            seen.append(line)
            if "Ctrl-C to stop" in line:
                break
        assert any(f"UI at http://127.0.0.1:{ui_port}" in line for line in seen), (seen, up.poll())
        assert any("scan schedules: mendflow-scan:github:acme" in line for line in seen), seen  # applied at start
        key = next(line for line in seen if "--payload-keys" in line).split("--payload-keys ")[1].strip()
        done = run("scan", "--tenant", "github:acme", "--temporal-address", f"127.0.0.1:{port}", "--payload-keys",
                   key)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.count("verified") == expected["auto"]
        assert f"{expected['campaigns']} campaign(s) started" in done.stdout
        _operate_through_the_cli(f"http://127.0.0.1:{api_port}", config, data_dir, run)
        viewer = _token("alice", "viewer", config, data_dir, run)
        listed = run("findings", "--api-url", f"http://127.0.0.1:{api_port}", "--status", "resolved", env=viewer)
        assert listed.returncode == 0 and "fixed by mendflow" in listed.stdout, listed.stderr
    finally:
        up.send_signal(signal.SIGINT)
    return up.wait(timeout=60)


def _token(person: str, role: str, config: Path, data_dir: Path, run: Run) -> dict[str, str]:
    made = run("tokens", "create", "--person", person, "--role", role, "--config", str(config),
               "--data-dir", str(data_dir), "--format", "json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    return {"MENDFLOW_TOKEN": json.loads(made.stdout)["token"]}


def _operate_through_the_cli(api: str, config: Path, data_dir: Path, run: Run) -> None:
    """Through the API with personal tokens: `status` lists the waiting campaign; mallory is refused (exit 3) even
    with an approver token; a caller's own config changes nothing; alice approves; it completes."""
    target = ["--api-url", api]
    alice, mallory = (
        _token("alice", "approver", config, data_dir, run),
        _token("mallory", "approver", config, data_dir, run),
    )
    listing = run("status", *target, "--format", "json", env=alice)
    assert listing.returncode == 0, listing.stderr
    waiting = [json.loads(line) for line in listing.stdout.splitlines()]
    campaign = next(c for c in waiting if c["playbook_id"] == "github.org.base_permission_not_strict")
    assert campaign["state"] == "awaiting_approval"
    cid = campaign["campaign_id"]
    refused = run("approve", cid, *target, env=mallory)
    assert refused.returncode == 3 and "refused: mallory may not approve" in refused.stderr, refused.stderr
    as_json = run("approve", cid, *target, "--format", "json", env=mallory)
    assert as_json.returncode == 3 and json.loads(as_json.stdout)["accepted"] is False
    no_token = run("approve", cid, *target, env={"MENDFLOW_TOKEN": "mfp_" + "x" * 43})
    assert no_token.returncode == 3 and "unknown token" in no_token.stderr
    unknown = run("suppress", "0" * 64, "--reason", "r", "--expires", "1d", *target, env=alice)
    assert unknown.returncode == 3 and "refused: alice may not accept risks" in unknown.stderr, unknown.stderr
    approved = run("approve", cid, "--reason", "base permission read is policy", *target, env=alice)
    assert approved.returncode == 0 and "approved" in approved.stdout, approved.stderr
    for _ in range(600):
        shown = run("status", cid, *target, env=alice)
        if "completed" in shown.stdout.splitlines()[1]:
            break
        time.sleep(0.1)
    assert "default_repository_permission: write → read" in shown.stdout and "verified" in shown.stdout
    assert "decision: approve by alice via api" in shown.stdout


@pytest.mark.parametrize(
    ("vendor", "path", "scheme"), [("github", "/orgs/acme", "Bearer"), ("okta", "/api/v1/users?limit=1", "SSWS")]
)
def test_sim_command_serves_the_vendor_api_until_stopped(vendor: str, path: str, scheme: str) -> None:
    """`mendflow sim github|okta --generate` answers the vendor's API with the given token, and stops on SIGINT."""
    import signal

    import httpx

    from mendflow.runtime.ports import free_port

    port = free_port()
    env = {**os.environ, "MENDFLOW_SIM_TOKEN": "sim-token-123456"}
    args = [*MENDFLOW, "sim", vendor, "--generate", "--port", str(port)]
    if vendor == "okta":
        args += ["--users", "20"]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env) as sim:
        assert sim.stdout is not None
        assert f"at http://127.0.0.1:{port}" in sim.stdout.readline()
        url = f"http://127.0.0.1:{port}{path}"
        for _ in range(100):
            try:
                ok = httpx.get(url, headers={"Authorization": f"{scheme} sim-token-123456"})
                break
            except httpx.TransportError:
                time.sleep(0.05)
        denied = httpx.get(url, headers={"Authorization": f"{scheme} wrong"})
        sim.send_signal(signal.SIGINT)
        sim.wait(timeout=20)
    assert ok.status_code == 200 and ok.json()
    assert denied.status_code == 401
