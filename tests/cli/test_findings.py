"""`mendflow findings` and `GET /v1/findings`: the ledger through the real API on loopback, filters, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mendflow.api.assemble import build_api
from mendflow.auth.signing import DecisionSigner
from mendflow.auth.tokens import Role, StoredTokens
from mendflow.findings.risk import Criticality, risk_score
from mendflow.findings.store import FindingsLedger
from mendflow.models import Finding, Severity
from mendflow.rbac import Person, RbacConfig
from mendflow.runtime.client import TemporalSettings
from mendflow.runtime.loopback import serve_in_thread
from mendflow.settings import Settings
from mendflow.store import Database, database_url
from tests.cli_in_process import Done, invoker
from tests.findings import HOOK_RULE, T0, hook_finding

MENDFLOW = str(Path(sys.executable).parent / "mendflow")
TWO_FA_RULE = "github.org.two_factor_not_required"


def finding(resource: str, *, rule: str = HOOK_RULE, org: str = "acme", severity: Severity = Severity.high) -> Finding:
    return hook_finding(
        resource,
        rule=rule,
        org=org,
        severity=severity,
        risk=risk_score(severity, Criticality.medium),
        compliance=("SOC2:CC6.7",),
    )


@dataclass
class Api:
    url: str
    ledger: FindingsLedger
    viewer: str
    """A viewer's token."""
    invoke: Callable[..., Done] | None = None
    """Runs `mendflow …` in this process (one CLI process per call cost ~2 s of imports)."""
    monkeypatch: pytest.MonkeyPatch | None = None

    def run(self, *args: str, token: str | None = None) -> Done:
        assert self.invoke is not None and self.monkeypatch is not None
        self.monkeypatch.setenv("MENDFLOW_TOKEN", token or self.viewer)
        return self.invoke("findings", "--api-url", self.url, *args)

    def rows(self, *args: str) -> list[dict[str, object]]:
        done = self.run(*args, "--format", "json")
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The real API (tokens, roles, the shared SQLite store) on loopback, with a ledger two scans filled.

    One per module: every test only reads it.
    """
    data = tmp_path_factory.mktemp("findings") / "data"
    db = Database.open(database_url(data))
    ledger = FindingsLedger(db)
    # github:acme: three findings; the second scan fixed /b by hand (read, rule silent) and deleted /c
    first = [finding("/a"), finding("/b"), finding("/c", severity=Severity.low), finding("/org", rule=TWO_FA_RULE)]
    ledger.reconcile("github:acme", first, rules=[HOOK_RULE, TWO_FA_RULE], seen_at=T0, read={"/a", "/b", "/c", "/org"})
    later = T0 + timedelta(hours=1)
    ledger.reconcile("github:acme", [first[0], first[3]], rules=[HOOK_RULE, TWO_FA_RULE], seen_at=later,
                     read={"/a", "/b", "/org"})  # fmt: skip
    # a second GitHub host whose organisation has the same name
    ledger.reconcile("github:ghe-acme", [finding("/a")], rules=[HOOK_RULE], seen_at=T0, read={"/a"})
    settings = Settings(rbac=RbacConfig(people={"vera": Person(groups=("auditors",))}))
    signer = DecisionSigner(Ed25519PrivateKey.generate())
    app = build_api(settings, TemporalSettings(address="127.0.0.1:1"), data_dir=data, signer=signer)
    viewer, _ = StoredTokens(db).create(person="vera", role=Role.viewer, name="t", ttl_seconds=3600)
    with serve_in_thread(app) as server:
        yield Api(server.base_url, ledger, viewer)
    db.dispose()


@pytest.fixture
def api(served: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Api:
    return replace(served, invoke=invoker(capsys, monkeypatch), monkeypatch=monkeypatch)


def test_the_table_shows_every_column_and_whole_fingerprints(api: Api) -> None:
    """Table output: each full 64-character fingerprint, tenant key, risk, status, dates, resolution."""
    done = api.run()
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0].split()
    assert header[:5] == ["fingerprint", "tenant", "rule", "resource", "severity"] and "resolution" in header
    for fp in (finding("/a").fingerprint, finding("/b").fingerprint, finding("/org", rule=TWO_FA_RULE).fingerprint):
        assert fp in done.stdout and len(fp) == 64
    line_b = next(line for line in done.stdout.splitlines() if finding("/b").fingerprint in line)
    assert "github:acme" in line_b and "resolved" in line_b and "fixed elsewhere" in line_b
    assert "2026-11-20T00:00:00Z" in line_b and " 40 " in line_b
    assert "5 finding(s)" in done.stdout


def test_json_lines_carry_the_lifecycle_of_each_finding(api: Api) -> None:
    """JSON: first/last seen, status and the reason each finding resolved (fixed elsewhere, resource deleted)."""
    by_resource = {(r["tenant"], r["resource"]): r for r in api.rows()}
    assert len(by_resource) == 5  # the two hosts' `/a` do not collide
    a, b, c = (by_resource[("github:acme", r)] for r in ("/a", "/b", "/c"))
    assert (a["status"], a["resolution"], a["last_seen"]) == ("open", None, "2026-11-20T01:00:00Z")
    assert (b["status"], b["resolution"]) == ("resolved", "fixed elsewhere")
    assert (c["status"], c["resolution"]) == ("resolved", "resource deleted")
    assert a["risk"] == 40 and a["compliance"] == ["SOC2:CC6.7"] and a["first_seen"] == "2026-11-20T00:00:00Z"


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--tenant", "github:ghe-acme"], {("github:ghe-acme", "/a")}),
        (["--severity", "low"], {("github:acme", "/c")}),
        (["--status", "open"], {("github:acme", "/a"), ("github:acme", "/org"), ("github:ghe-acme", "/a")}),
        (["--rule", TWO_FA_RULE], {("github:acme", "/org")}),
        (["--tenant", "github:acme", "--status", "resolved", "--severity", "high"], {("github:acme", "/b")}),
        (["--tenant", "github:nobody"], set()),
    ],
)
def test_filters_narrow_the_list(api: Api, args: list[str], expect: set[tuple[str, str]]) -> None:
    """Every filter given must match; no match is an empty list with exit 0."""
    assert {(r["tenant"], r["resource"]) for r in api.rows(*args)} == expect


def test_a_limit_says_more_findings_match(api: Api) -> None:
    """`--limit 2` shows two and says on stderr that more match."""
    done = api.run("--limit", "2", "--format", "json")
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 2 and "more than 2" in done.stderr


@pytest.mark.parametrize(
    ("args", "flag"),
    [(["--severity", "urgent"], "--severity"), (["--status", "closed"], "--status"), (["--limit", "0"], "--limit"),
     (["--tenant", " "], "--tenant"), (["--format", "yaml"], "--format")],
)  # fmt: skip
def test_a_bad_filter_value_is_exit_2_naming_the_flag(api: Api, args: list[str], flag: str) -> None:
    """A bad value: exit 2, one line naming the flag, no traceback."""
    done = api.run(*args)
    assert done.returncode == 2 and flag in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_api_refuses_bad_filters_and_missing_credentials(api: Api) -> None:
    """GET /v1/findings: 400 naming the parameter, 401 without a token, and the CLI exits 3 on a refused token."""
    auth = {"Authorization": f"Bearer {api.viewer}"}
    bad = httpx.get(f"{api.url}/v1/findings", params={"severity": "urgent"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["error"].startswith("severity 'urgent'")
    unknown = httpx.get(f"{api.url}/v1/findings", params={"owner": "x"}, headers=auth)
    assert unknown.status_code == 400 and "owner" in unknown.json()["error"]
    assert httpx.get(f"{api.url}/v1/findings").status_code == 401
    refused = api.run(token="mfp_" + "x" * 43)
    assert refused.returncode == 3 and "refused" in refused.stderr and "Traceback" not in refused.stderr


def test_an_unreachable_api_is_exit_1() -> None:
    """No API at the URL: exit 1, one line (from a real `mendflow` process, as the other tests' runs are not)."""
    env = os.environ | {"MENDFLOW_TOKEN": "mfp_" + "x" * 43}
    done = subprocess.run([MENDFLOW, "findings", "--api-url", "http://127.0.0.1:9"], capture_output=True, text=True,
                          timeout=60, env=env)  # fmt: skip
    assert done.returncode == 1 and "cannot be reached" in done.stderr
