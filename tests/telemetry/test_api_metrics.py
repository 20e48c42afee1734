"""The API serves `/metrics` (SSPM gauges from the shared store) and lets operators mark false positives."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client.parser import text_string_to_metric_families

from mendflow.api.assemble import build_api
from mendflow.auth.signing import DecisionSigner
from mendflow.auth.tokens import Role, StoredTokens
from mendflow.findings.store import FindingsLedger
from mendflow.rbac import Person, RbacConfig
from mendflow.runtime.client import TemporalSettings
from mendflow.runtime.loopback import serve_in_thread
from mendflow.settings import Settings
from mendflow.store import Database, database_url
from tests.cli_in_process import Done, invoker
from tests.findings import T0, hook_finding

TENANT = "github:metrics-api"
MENDFLOW = str(Path(sys.executable).parent / "mendflow")


@dataclass
class Api:
    base: str
    operator: dict[str, str]
    viewer: dict[str, str]
    fingerprint: str


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """The real API on loopback (no Temporal behind it) over a ledger holding one open finding."""
    db = Database.open(database_url(tmp_path))
    finding = hook_finding("/repos/acme/api/hooks/1")
    FindingsLedger(db).reconcile(TENANT, [finding], rules=[finding.rule], seen_at=T0)
    people = {"olga": Person(groups=("secops-oncall",)), "vera": Person(groups=("sales",))}
    settings = Settings(rbac=RbacConfig(people=people))
    app = build_api(settings, TemporalSettings(address="127.0.0.1:1"), data_dir=tmp_path,
                    signer=DecisionSigner(Ed25519PrivateKey.generate()))  # fmt: skip
    tokens = StoredTokens(db)
    operator, _ = tokens.create(person="olga", role=Role.operator, name="t", ttl_seconds=3600)
    viewer, _ = tokens.create(person="vera", role=Role.viewer, name="t", ttl_seconds=3600)
    with serve_in_thread(app) as server:
        yield Api(server.base_url, {"Authorization": f"Bearer {operator}"}, {"Authorization": f"Bearer {viewer}"},
                  finding.fingerprint)  # fmt: skip
    db.dispose()


def _open_high(base: str) -> float:
    answer = httpx.get(f"{base}/metrics", timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "mendflow_findings_open"
                and labels.get("tenant") == TENANT
                and labels["severity"] == "high"
            ):
                return sample.value
    return 0.0


def test_marking_a_false_positive_takes_it_out_of_the_open_gauge(api: Api) -> None:
    """An operator's mark is answered 200 and the next scrape no longer counts the finding as open."""
    assert _open_high(api.base) == 1
    url = f"{api.base}/v1/findings/{api.fingerprint}/false-positive"
    answer = httpx.post(url, json={"reason": "test fixture repo"}, headers=api.operator, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"] == f"marked a false positive in {TENANT}"
    assert _open_high(api.base) == 0
    undo = httpx.post(url, json={"reason": "it was real", "false_positive": False}, headers=api.operator, timeout=30)
    assert undo.status_code == 200 and _open_high(api.base) == 1


def test_a_viewer_cannot_mark_and_an_unknown_finding_is_a_404(api: Api) -> None:
    """Marking needs the operator role; a fingerprint the ledger lacks changes nothing."""
    url = f"{api.base}/v1/findings/{api.fingerprint}/false-positive"
    refused = httpx.post(url, json={"reason": "x"}, headers=api.viewer, timeout=30)
    assert refused.status_code == 403 and "needs operator" in refused.json()["error"]
    missing = httpx.post(f"{api.base}/v1/findings/{'0' * 64}/false-positive", json={"reason": "x"},
                         headers=api.operator, timeout=30)  # fmt: skip
    assert missing.status_code == 404 and _open_high(api.base) == 1


def test_the_cli_marks_through_the_api_with_its_exit_codes(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mendflow mark-false-positive`: 0 marked, 2 no such finding, 3 refused (a viewer's token)."""
    invoke = invoker(capsys, monkeypatch)  # the CLI's entry point in-process (a process costs ~2 s of imports)

    def run(fingerprint: str, headers: dict[str, str], *more: str) -> Done:
        monkeypatch.setenv("MENDFLOW_TOKEN", headers["Authorization"].removeprefix("Bearer "))
        return invoke("mark-false-positive", fingerprint, "--reason", "lab", "--api-url", api.base, *more)

    marked = run(api.fingerprint, api.operator, "--tenant", TENANT)
    assert marked.returncode == 0 and marked.stdout.strip() == f"marked a false positive in {TENANT}", marked.stderr
    assert _open_high(api.base) == 0
    missing = run("0" * 64, api.operator)
    assert missing.returncode == 2 and f"no finding {'0' * 64}" in missing.stderr
    refused = run(api.fingerprint, api.viewer, "--undo")
    assert refused.returncode == 3 and _open_high(api.base) == 0


def test_findings_show_and_filter_the_label(api: Api) -> None:
    """`GET /v1/findings?false_positive=yes` and `mendflow findings --false-positive yes` list the marked ones."""
    url = f"{api.base}/v1/findings/{api.fingerprint}/false-positive"
    assert httpx.post(url, json={"reason": "lab"}, headers=api.operator, timeout=30).status_code == 200
    marked = httpx.get(f"{api.base}/v1/findings?false_positive=yes", headers=api.viewer, timeout=30).json()
    assert [(f["fingerprint"], f["false_positive"]) for f in marked["findings"]] == [(api.fingerprint, True)]
    others = httpx.get(f"{api.base}/v1/findings?false_positive=no", headers=api.viewer, timeout=30).json()
    assert others["findings"] == []
    env = {k: v for k, v in os.environ.items() if k != "MENDFLOW_TOKEN"}
    env["MENDFLOW_TOKEN"] = api.viewer["Authorization"].removeprefix("Bearer ")
    listed = subprocess.run([MENDFLOW, "findings", "--false-positive", "yes", "--api-url", api.base],
                            capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert listed.returncode == 0 and "false positive" in listed.stdout.splitlines()[0], listed.stderr
    assert listed.stdout.splitlines()[2].split()[6:8] == ["open", "yes"], listed.stdout
    bad = subprocess.run([MENDFLOW, "findings", "--false-positive", "maybe", "--api-url", api.base],
                         capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert bad.returncode == 2 and "--false-positive 'maybe': use yes or no" in bad.stderr
