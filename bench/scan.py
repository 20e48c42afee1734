"""Scans at scale (`make bench`, or `python bench/scan.py`): prints figures, asserts nothing.

For each large generated tenant — a GitHub org with 300 repositories and 1,500 members, an Okta org with 20,000
users — the simulator runs in its own process (`mendflow sim … --tenant-file`) and the scan in another, which
streams the inventory into a snapshot store and evaluates the shipped rules over it. Printed per tenant:

- wall time of the scan;
- requests made vs the minimum possible (every collection the connector reads, at the vendor's maximum page size);
- peak RSS of the scanning process (its own `ru_maxrss`);
- the same scan under a tight rate limit (one-second windows) with 5% injected 5xx: requests, wall time, and
  whether the inventory is identical (same snapshot digest = zero lost resources).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TARGETS = {"requests_ratio": 1.05, "okta_rss_mb": 250}
TOKEN_ENV = "MENDFLOW_BENCH_SIM_TOKEN"
UNLIMITED = ["--fault-rate-limit", "1000000"]
"""The clean run: the simulators' realistic defaults (Okta 1,200/min per endpoint) would only measure waiting."""
FAULTS = {  # tight limits: a few hundred requests per one-second window, plus 5% 5xx
    "github": [
        "--fault-rate-limit",
        "300",
        "--fault-rate-window",
        "1",
        "--fault-5xx-rate",
        "0.05",
        "--fault-seed",
        "1",
    ],
    "okta": ["--fault-rate-limit", "500", "--fault-rate-window", "1", "--fault-5xx-rate", "0.05", "--fault-seed", "1"],
}


# ---- the minimum: what the connector must read, at the vendor's largest pages ------------------------------------
def _pages(count: int, size: int) -> int:
    return max(1, math.ceil(count / size))


def minimum_requests(document: dict[str, Any]) -> int:
    """Requests a perfect client needs for the collections the connector reads (no retries, full pages)."""
    if document["provider"] == "okta":
        okta = document["okta"]
        listed = [u for u in okta["users"] if u.get("status") != "DEPROVISIONED"]
        admins = [uid for uid, roles in okta.get("user_roles", {}).items() if roles]
        by_type: dict[str, int] = {}
        for policy in okta["policies"]:
            by_type[policy["type"]] = by_type.get(policy["type"], 0) + 1
        return (
            _pages(len(admins), 100) + len(admins)  # role assignees, then each admin's roles
            + sum(_pages(by_type.get(t, 0), 200) for t in ("OKTA_SIGN_ON", "PASSWORD", "MFA_ENROLL", "ACCESS_POLICY"))
            + sum(_pages(len(p.get("_rules", [])), 200) for p in okta["policies"])
            + _pages(len(okta.get("api_tokens", [])), 200) + _pages(len(okta.get("apps", [])), 200)
            + _pages(len(okta.get("groups", [])), 10000)
            + _pages(len(listed), 200) + len(listed)  # users, then each user's factors
        )  # fmt: skip
    gh = document["github"]
    admins = [login for login, m in gh.get("memberships", {}).items() if m.get("role") == "admin"]
    total = 1 + _pages(len(gh["members"]), 100) + _pages(len(gh.get("members_2fa_disabled", [])), 100)
    total += _pages(len(admins), 100) + 2 + 1  # outside collaborators (+ 2FA filter), org hooks
    total += _pages(len(gh["repos"]), 100)
    for repo in gh["repos"]:
        active = [r for r in repo.get("_rulesets", []) if r.get("enforcement") == "active"]
        total += 5 + len(active)  # hooks, keys, collaborators, protection, rulesets (+ each active one)
    return total


# ---- the scanning child process ------------------------------------------------------------------------------------
def _peak_rss_mb() -> float:
    """This process's own peak RSS. Linux keeps `ru_maxrss` across fork+exec, so a child started by a big
    parent (bench/run.py after the rule benchmark) would report the parent's peak; VmHWM starts afresh at exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _child_scan(provider: str, base_url: str, tenant: str, token: str, data: Path) -> dict[str, Any]:
    from mendflow.config import TenantConnection
    from mendflow.connectors.registry import open_session
    from mendflow.evidence.snapshots import SnapshotStore
    from mendflow.models import Resource
    from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
    from mendflow.rules import compile_rules
    from mendflow.secrets import SecretRef

    connection = TenantConnection(
        key=f"{provider}:{tenant}", provider=provider, tenant=tenant, base_url=base_url,  # type: ignore[arg-type]
        token=SecretRef(ref=f"env:{TOKEN_ENV}"),
    )  # fmt: skip
    store = SnapshotStore(data)
    writer = store.writer()
    started = time.perf_counter()
    async with open_session(connection, token=token) as session:
        async for item in session.collector.collect():
            writer.write(item.model_dump(mode="json"))  # streamed: no inventory list is kept
        requests, coverage = session.http.requests_made, session.collector.coverage.fraction
        gaps = [f"{g.endpoint}: {g.reason}" for g in session.collector.gaps]
    digest = writer.close()
    collected = time.perf_counter() - started
    rss_collect = _peak_rss_mb()
    playbooks = [p for p in load_playbooks([bundled_playbook_dir()]).playbooks if p.resource.startswith(provider)]
    resources = (Resource.model_validate(line) for line in store.read_lines(digest))
    result = compile_rules(playbooks).evaluate(resources, tenant=tenant, provider=provider, as_of=datetime.now(UTC))
    return {
        "collect_s": collected,
        "wall_s": time.perf_counter() - started,
        "requests": requests,
        "resources": writer.count,
        "digest": digest,
        "coverage": coverage,
        "gaps": gaps,
        "findings": len(result.findings),
        "rss_mb": _peak_rss_mb(),
        "rss_collect_mb": rss_collect,
        "errors": len(result.errors),
    }


# ---- orchestration -------------------------------------------------------------------------------------------------
def run_scan(provider: str, tenant_file: Path, tenant: str, faults: list[str]) -> dict[str, Any]:
    """Start the simulator process, run one scan in a child process, stop the simulator; the child's report."""
    from harness import wait_for  # imported here, like mendflow below, to keep the child process's RSS its own

    from mendflow.runtime.ports import free_port

    token = secrets.token_urlsafe(24)
    env = {**os.environ, TOKEN_ENV: token}
    port = free_port()
    launcher = "import sys; from mendflow.cli.main import main; main()"
    sim = subprocess.Popen(
        [sys.executable, "-c", launcher, "sim", provider, "--tenant-file", str(tenant_file), "--port", str(port),
         "--token-env", TOKEN_ENV, *faults],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(port, sim, timeout=120.0)
        with tempfile.TemporaryDirectory() as data:
            child = subprocess.run(
                [sys.executable, __file__, "--child", provider, f"http://127.0.0.1:{port}", tenant, data],
                env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
        if child.returncode != 0:
            return {"failed": True, "error": child.stderr.strip().splitlines()[-1:] or ["?"]}
        report: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
        return report
    finally:
        sim.terminate()
        sim.wait(10)


def bench_tenant(provider: str, document: dict[str, Any], label: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{provider}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        minimum = minimum_requests(document)
        clean = run_scan(provider, path, document["tenant"], UNLIMITED)
        faulty = run_scan(provider, path, document["tenant"], FAULTS[provider])
    if clean.get("failed"):
        print(f"{label}: scan FAILED: {clean['error']}", flush=True)
        return
    ratio = clean["requests"] / minimum
    print(
        f"{label}: {clean['resources']:,} resources in {clean['wall_s']:.1f}s "
        f"(collect {clean['collect_s']:.1f}s), {clean['requests']:,} requests vs minimum {minimum:,} "
        f"= {ratio:.3f}x (target <= {TARGETS['requests_ratio']}), peak RSS {clean['rss_mb']:.0f} MB "
        f"({clean['rss_collect_mb']:.0f} MB after collecting), "
        f"coverage {clean['coverage']:.0%}, {clean['findings']:,} findings",
        flush=True,
    )
    if faulty.get("failed"):
        print(f"  under faults ({' '.join(FAULTS[provider])}): scan FAILED: {faulty['error']}", flush=True)
        return
    lost = "zero lost resources" if faulty["digest"] == clean["digest"] else "INVENTORY DIFFERS"
    print(
        f"  under faults ({' '.join(FAULTS[provider])}): {faulty['wall_s']:.1f}s, {faulty['requests']:,} requests "
        f"({faulty['requests'] / minimum:.3f}x minimum), 0 failed scans, {lost}, coverage {faulty['coverage']:.0%}, "
        f"peak RSS {faulty['rss_mb']:.0f} MB",
        flush=True,
    )


def main() -> None:
    from mendflow.sim.generate import github_tenant, okta_tenant

    bench_tenant("github", github_tenant(repos=300, members=1_500), "github org (300 repos, 1,500 members)")
    bench_tenant("okta", okta_tenant(users=20_000), "okta org (20,000 users)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=4, metavar=("PROVIDER", "BASE_URL", "TENANT", "DATA_DIR"))
    args = parser.parse_args()
    if args.child:
        from mendflow.telemetry import configure_logging

        configure_logging(level="ERROR")
        provider, base_url, tenant, data = args.child
        report = asyncio.run(_child_scan(provider, base_url, tenant, os.environ[TOKEN_ENV], Path(data)))
        print(json.dumps(report))
    else:
        main()
