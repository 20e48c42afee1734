"""`mendflow plan --tenant-file` reads big tenant files a chunk of repositories at a time."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from mendflow.playbooks.model import Playbook
from mendflow.playbooks.plan import TenantPlan, plan_tenant, plan_tenant_file
from mendflow.sim.generate import github_tenant
from mendflow.tenant import load_tenant_file

ROOT = Path(__file__).resolve().parents[2]


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


MEASURE = """
import json, sys
from pathlib import Path
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from tests.playbooks.test_plan_streamed import _planned_peak
playbooks = load_playbooks([bundled_playbook_dir()]).playbooks
folder = Path(sys.argv[1])
_planned_peak(folder, 32, playbooks)  # warm first: caches, lazy imports (compiled from source without .pyc files)
print(json.dumps([_planned_peak(folder, 4, playbooks), _planned_peak(folder, 32, playbooks)]))
"""


@pytest.mark.slow
def test_planning_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """Eight times the repositories (4 → 32 MB of tenant file) add less than a quarter of the extra bytes to the
    peak: the file is never held, only a chunk (a whole load grew 52 MB here; figures: bench/big_tenant.py).

    Measured in a process of its own, warmed by a plan of the bigger file: in the test process other tests'
    threads (loopback servers) allocate while tracing, and without .pyc files (CI) a module first imported during
    the measured plan is compiled there (a 16-repository plan peaked 4 MB higher for that alone). A chunk's
    transient answers (~1 MB a repository, decoded and parsed) stay well below the threshold at 32 repositories."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(tmp_path)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    (small_size, small_peak), (big_size, big_peak) = json.loads(done.stdout.strip().splitlines()[-1])
    grew = big_peak - small_peak
    assert grew < (big_size - small_size) / 4, f"peak {small_peak / 1e6:.0f} → {big_peak / 1e6:.0f} MB"
