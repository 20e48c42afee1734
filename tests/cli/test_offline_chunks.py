"""Offline scans of big tenant files, served and evaluated a chunk of repositories at a time."""

from __future__ import annotations

import json
from pathlib import Path

from mendflow.config import TenantRegistry
from mendflow.offline import scan_tenant_file
from mendflow.playbooks.model import Playbook
from mendflow.settings import Settings
from mendflow.sim.generate import github_tenant
from mendflow.tenant_stream import check, repo_chunks

ROOT = Path(__file__).parents[2]


def test_chunked_scan_finds_exactly_what_a_whole_scan_finds(tmp_path: Path, shipped_playbooks: list[Playbook]) -> None:
    """120 repositories in chunks of 25 give the same findings, resources and gaps as one chunk."""
    path = tmp_path / "org.json"
    path.write_text(json.dumps(github_tenant(repos=120, members=60)))
    chunked = scan_tenant_file(path, shipped_playbooks, chunk=25, keep_resources=False)
    whole = scan_tenant_file(path, shipped_playbooks, chunk=1_000, keep_resources=False)
    assert sorted(f.fingerprint for f in chunked.findings) == sorted(f.fingerprint for f in whole.findings)
    assert chunked.resource_count == whole.resource_count > 120
    assert chunked.gaps == whole.gaps and len(whole.findings) > 120


def test_checked_tenant_keeps_the_org_and_streams_the_repositories(tmp_path: Path) -> None:
    """The check pass keeps no repository; the chunks hand them out in file order, each with the org."""
    path = tmp_path / "org.json"
    path.write_text(json.dumps(github_tenant(repos=7, members=3)))
    checked = check(path)
    assert checked.streamed == 7 and checked.head.section()["repos"] == []
    chunks = list(repo_chunks(checked, 3))
    assert [len(c.section()["repos"]) for c in chunks] == [3, 3, 1]
    assert [r["name"] for c in chunks for r in c.section()["repos"]] == [f"svc-{n:03d}" for n in range(7)]
    assert all(c.section()["org"]["login"] == "acme" for c in chunks)


def test_shipped_examples_load() -> None:
    """examples/mendflow.yaml and examples/tenants.yaml are valid as shipped."""
    settings = Settings.load(ROOT / "examples" / "mendflow.yaml")
    assert settings.rbac.groups_of("alice") == ("secops-oncall", "secops-leads")
    registry = TenantRegistry.from_file(ROOT / "examples" / "tenants.yaml")
    assert sorted(registry.tenants) == ["github:acme", "okta:acme.okta.com"]
