"""`mendflow plan --tenant-file` reads big tenant files a chunk of repositories at a time."""

from __future__ import annotations

import json
import re
import tracemalloc
from pathlib import Path

import pytest

from mendflow.playbooks.model import Playbook
from mendflow.playbooks.plan import TenantPlan, plan_tenant, plan_tenant_file
from mendflow.sim.generate import github_tenant
from mendflow.tenant import load_tenant_file


def test_chunked_plan_is_the_plan_of_the_whole_file(tmp_path: Path, shipped_playbooks: list[Playbook]) -> None:
    """60 repositories planned 25 at a time give the plan the whole tenant gives: findings, before → after,
    rollout batches (split over all findings), resource count and gaps (URLs differ only by the port)."""
    path = tmp_path / "org.json"
    path.write_text(json.dumps(github_tenant(repos=60, members=30)))
    chunked = plan_tenant_file(path, shipped_playbooks, chunk=25)
    whole = plan_tenant(load_tenant_file(path), shipped_playbooks, as_of=chunked.as_of)

    def served(plan: TenantPlan) -> str:
        return re.sub(r"http://127\.0\.0\.1:\d+", "http://sim", plan.model_dump_json())

    assert served(chunked) == served(whole)
    assert chunked.resources > 60 and sum(len(p.changes) for p in chunked.playbooks) > 60
    assert {c.batch for p in chunked.playbooks for c in p.changes} >= {"canary", "batch 2"}


def _planned_peak(folder: Path, repos: int, playbooks: list[Playbook]) -> tuple[int, int]:
    """(file size, peak of traced memory while planning it 2 repositories at a time); each repository 1 MB."""
    document = github_tenant(repos=repos, members=10)
    for repo in document["github"]["repos"]:
        repo["description"] = "x" * 1_000_000
    path = folder / f"org-{repos}.json"
    path.write_text(json.dumps(document))
    del document
    tracemalloc.start()
    try:
        plan = plan_tenant_file(path, playbooks, chunk=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert plan.resources > repos and plan.findings
    return path.stat().st_size, peak


@pytest.mark.slow
def test_planning_memory_does_not_grow_with_the_file(tmp_path: Path, shipped_playbooks: list[Playbook]) -> None:
    """Four times the repositories (4 → 16 MB of tenant file) add less than a quarter of the extra bytes to the
    peak: the file is never held, only a chunk (a whole load grew 52 MB here; figures: bench/big_tenant.py)."""
    small_size, small_peak = _planned_peak(tmp_path, 4, shipped_playbooks)
    big_size, big_peak = _planned_peak(tmp_path, 16, shipped_playbooks)
    grew = big_peak - small_peak
    assert grew < (big_size - small_size) / 4, f"peak {small_peak / 1e6:.0f} → {big_peak / 1e6:.0f} MB"
