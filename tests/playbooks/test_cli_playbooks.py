"""`mendflow plan`, `mendflow playbooks test|schema|validate` as a user runs them: output and exit codes.

The CLI's entry point runs in-process (a process costs ~2 s of imports); `validate` runs as a real process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mendflow.data import demo_tenant_path
from mendflow.playbooks.json_schema import render_schema
from tests.cli_in_process import Done, invoker

MENDFLOW = [str(Path(sys.executable).parent / "mendflow")]
SHIPPED = Path(__file__).parents[2] / "playbooks" / "github"


def run_process(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MENDFLOW, *args], capture_output=True, text=True, timeout=timeout)


Run = Callable[..., Done]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """`run("plan", …)`: `mendflow plan …` in this process."""
    return invoker(capsys, monkeypatch)


def test_plan_prints_the_dry_run_grouped_by_playbook(run: Run) -> None:
    """`plan -f` lists acting playbooks with mode, approvers, rollout and diffs, then the report-only findings."""
    done = run("plan", "--tenant-file", str(demo_tenant_path()))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("Dry run: ") and "nothing was written" in out
    assert "github.org.members_can_create_public_repos — Members must not be able to create public repositories" in out
    assert "members_can_create_public_repositories: true → false" in out
    assert "1 approval(s) from group:secops-oncall" in out
    assert "Report only (notify or detect-only: nothing is changed)" in out
    assert (
        "18 finding(s); 7 playbook(s) would change 9 resource(s) (6 automatically, 3 after approval or ticket)" in out
    )


def test_plan_json_is_one_document_with_every_playbook(run: Run) -> None:
    """`--format json` prints the TenantPlan: every loaded playbook, findings with risk, changes with before/after."""
    done = run("plan", "-f", str(demo_tenant_path()), "--format", "json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["tenant"] == "acme" and len(plan["playbooks"]) >= 15
    findings = [f for p in plan["playbooks"] for f in p["findings"]]
    assert len(findings) == 18 and all(f["risk"]["score"] > 0 for f in findings)
    public = next(p for p in plan["playbooks"] if p["playbook_id"] == "github.repo.public_not_allowed")
    assert [f["resource"]["id"] for f in public["findings"]] == ["/repos/acme/docs"]  # not on the empty allow-list
    hooks = next(p for p in plan["playbooks"] if p["playbook_id"] == "github.org_hook.insecure_ssl")
    assert [(c["resource"]["id"], c["before"], c["after"]) for c in hooks["changes"]] == [
        ("/orgs/acme/hooks/301", {"insecure_ssl": "1"}, {"insecure_ssl": "0"})
    ]


def test_plan_with_criticality_file_changes_risk(tmp_path: Path, run: Run) -> None:
    """`--criticality` marks assets critical; their findings score higher."""
    levels = tmp_path / "criticality.yaml"
    levels.write_text("resources:\n  /repos/acme/infra*: critical\n", encoding="utf-8")
    done = run("plan", "-f", str(demo_tenant_path()), "--format", "json", "--criticality", str(levels))
    assert done.returncode == 0, done.stderr
    risks = {
        (f["rule"], f["resource"]["id"]): f["risk"]["score"]
        for p in json.loads(done.stdout)["playbooks"]
        for f in p["findings"]
    }
    assert risks[("github.repo.default_branch_unprotected", "/repos/acme/infra")] == 60


def test_playbooks_test_runs_every_shipped_case_and_exits_0(run: Run) -> None:
    """Without --tenant-file every case of every shipped playbook runs; all pass (companions: test_shapes.py)."""
    done = run("playbooks", "test", "--no-shapes")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("PASS  github.")
    assert not [line for line in lines if line.startswith("FAIL")]
    assert ", 0 failed (" in done.stdout


def test_playbooks_test_exits_1_and_names_the_failing_case(tmp_path: Path, run: Run) -> None:
    """A case whose expectation is wrong prints FAIL with the difference, and the exit code is 1."""
    playbook = (SHIPPED / "deploy_key_write_access.yaml").read_text(encoding="utf-8")
    (tmp_path / "keys.yaml").write_text(playbook, encoding="utf-8")
    cases = (SHIPPED / "deploy_key_write_access.tests.yaml").read_text(encoding="utf-8")
    (tmp_path / "keys.tests.yaml").write_text(cases.replace("findings: [/repos/acme/api/keys/7]", "findings: []"))
    done = run("playbooks", "test", str(tmp_path))
    assert done.returncode == 1
    assert "FAIL  github.deploy_key.write_access › a deploy key that can push is reported" in done.stdout
    assert "findings: unexpected /repos/acme/api/keys/7" in done.stdout
    assert "0 passed, 1 failed" in done.stdout


def test_playbooks_test_with_tenant_file_shows_findings_and_plan_for_named_playbooks(run: Run) -> None:
    """A shipped playbook named by id, tried on a tenant file: its findings and planned diffs."""
    done = run("playbooks", "test", "github.repo_hook.insecure_ssl", "--tenant-file", str(demo_tenant_path()))
    assert done.returncode == 0, done.stderr
    assert "Dry run: 1 playbook(s) against github acme" in done.stdout
    assert "/repos/acme/api/hooks/11  canary" in done.stdout and "insecure_ssl: 1 → 0" in done.stdout


def test_playbooks_test_with_an_unknown_id_exits_2_with_a_suggestion(run: Run) -> None:
    """A misspelt id is an input error that names the closest shipped playbook."""
    done = run("playbooks", "test", "github.repo_hook.insecure_sssl")
    assert done.returncode == 2
    assert "did you mean 'github.repo_hook.insecure_ssl'?" in done.stderr


def test_schema_command_prints_the_committed_schema(run: Run) -> None:
    """`playbooks schema` output is the generated schema, byte for byte."""
    done = run("playbooks", "schema")
    assert done.returncode == 0 and done.stdout == render_schema()


def test_validate_reports_positions_and_counts_files(tmp_path: Path) -> None:
    """`validate` prints each error with file:line:column and exits 2; good files still count as valid."""
    good = (SHIPPED / "repo_hook_insecure_ssl.yaml").read_text(encoding="utf-8")
    (tmp_path / "good.yaml").write_text(good, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(
        good.replace("resource.config", "resource.confg").replace("id: github.", "id: x.")
    )
    done = run_process("playbooks", "validate", str(tmp_path))
    assert done.returncode == 2
    assert f"{tmp_path / 'bad.yaml'}:14:25: detect.when: unknown field 'resource.confg'" in done.stderr
    assert "1 playbook(s) valid; 1 error(s) in 1 file(s)" in done.stdout
