"""A 20,000-user Okta scan at the simulator's default rate limits (`python bench/okta_rate_limits.py`): prints
figures, asserts nothing.

Okta limits each endpoint separately (the simulator: 1,200 requests per minute per endpoint). A full collection
reads every user's factors, one request each, so 20,000 users wait about 16 minutes on that one endpoint. Rule-
driven collection (`rules/demand.py`) reads factors only where a loaded rule could still flag the user.

Printed, with every shipped playbook loaded, each run against a freshly started simulator process (fresh rate
windows) and the scan in its own process:

- after: the rule-driven scan at the default limits: requests, wall time, time waiting on rate limits;
- before: the full collection. By default it runs with the limits lifted (`--fault-rate-limit 1000000`) and its
  waiting at the default limits is computed from its busiest endpoint (requests beyond the first window's 1,200,
  one 60 s window per 1,200); `--measure-before` runs it at the default limits instead (about 17 minutes);
- whether both found the same findings (digest of every finding's fingerprint and evidence).
Target: the rule-driven scan within 2 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TOKEN_ENV = "MENDFLOW_BENCH_SIM_TOKEN"
USERS = 20_000
OKTA_LIMIT, OKTA_WINDOW = 1_200, 60.0
"""The Okta simulator's default: requests per endpoint per window (seconds)."""
TARGET_SECONDS = 120.0
LIFTED = ["--fault-rate-limit", "1000000"]


async def _child(base_url: str, tenant: str, token: str, lean: bool) -> dict[str, Any]:
    from mendflow.config import TenantConnection
    from mendflow.connectors.registry import open_session
    from mendflow.models import Resource
    from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
    from mendflow.rules import Demand, compile_rules
    from mendflow.secrets import SecretRef

    connection = TenantConnection(
        key=f"okta:{tenant}", provider="okta", tenant=tenant, base_url=base_url, token=SecretRef(ref=f"env:{TOKEN_ENV}")
    )
    rules = compile_rules(load_playbooks([bundled_playbook_dir()]).playbooks)  # every shipped playbook
    per_bucket: Counter[str] = Counter()
    resources: list[Resource] = []
    started = time.perf_counter()
    async with open_session(connection, token=token) as session:
        http = session.http
        policy = http.rate_limits

        def counted(path: str) -> str:
            bucket = policy.bucket(path)
            per_bucket[bucket] += 1
            return bucket

        http.rate_limits = dataclasses.replace(policy, bucket=counted)
        async for resource in session.collector.collect(Demand(rules) if lean else None):
            resources.append(resource)
        waited = http.rate_waited_seconds
        requests = http.requests_made
    wall = time.perf_counter() - started
    as_of = datetime(2026, 11, 20, tzinfo=UTC)  # the generated tenant's taken_at
    result = rules.evaluate(resources, tenant=tenant, provider="okta", as_of=as_of)
    digest = hashlib.sha256(
        json.dumps([[f.fingerprint, f.evidence] for f in result.findings], sort_keys=True).encode()
    ).hexdigest()
    return {
        "wall_s": wall,
        "waited_s": waited,
        "requests": requests,
        "busiest": per_bucket.most_common(1)[0],
        "resources": len(resources),
        "findings": len(result.findings),
        "errors": len(result.errors),
        "digest": digest[:16],
    }


def _scan(tenant_file: Path, tenant: str, *, lean: bool, limits: list[str]) -> dict[str, Any]:
    """Start a simulator process with `limits`, scan it from a child process, stop the simulator."""
    from harness import wait_for

    from mendflow.runtime.ports import free_port

    token = secrets.token_urlsafe(24)
    env = {**os.environ, TOKEN_ENV: token}
    port = free_port()
    launcher = "import sys; from mendflow.cli.main import main; main()"
    sim = subprocess.Popen(
        [sys.executable, "-c", launcher, "sim", "okta", "--tenant-file", str(tenant_file), "--port", str(port),
         "--token-env", TOKEN_ENV, *limits],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(port, sim, timeout=120.0)
        mode = "lean" if lean else "full"
        child = subprocess.run(
            [sys.executable, __file__, "--child", f"http://127.0.0.1:{port}", tenant, mode],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if child.returncode != 0:
            return {"failed": True, "error": (child.stderr.strip().splitlines() or ["?"])[-1]}
        report: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
        return report
    finally:
        sim.terminate()
        sim.wait(10)


def predicted_wait(requests_on_busiest: int) -> float:
    """Least time a client waits at the default limits for this many requests on one endpoint."""
    return max(0, math.ceil(requests_on_busiest / OKTA_LIMIT) - 1) * OKTA_WINDOW


def _line(label: str, run: dict[str, Any]) -> str:
    bucket, count = run["busiest"]
    return (
        f"  {label}: {run['requests']:,} requests (busiest endpoint {bucket}: {count:,}), wall {run['wall_s']:.1f} s, "
        f"waiting on rate limits {run['waited_s']:.1f} s, {run['resources']:,} resources, {run['findings']:,} findings"
        f" ({run['errors']} rule errors)"
    )


def rule_driven_scan(users: int = USERS) -> dict[str, Any]:
    """The full (rule-driven) scan of a generated `users`-user org at the default limits: this file's "after"
    figure alone, for other benchmarks to print (bench/rescan_throughput.py)."""
    from mendflow.sim.generate import okta_tenant

    document = okta_tenant(users=users)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "okta.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        return _scan(path, document["tenant"], lean=True, limits=[])


def main(users: int = USERS, *, measure_before: bool = False) -> None:
    from mendflow.sim.generate import okta_tenant

    document = okta_tenant(users=users)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "okta.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        after = _scan(path, document["tenant"], lean=True, limits=[])
        before = _scan(path, document["tenant"], lean=False, limits=[] if measure_before else LIFTED)
    print(f"okta org ({users:,} users), every shipped playbook, simulator default limits (1,200/min per endpoint):")
    for label, run in (("before (full collection)", before), ("after (rule-driven)", after)):
        if run.get("failed"):
            print(f"  {label}: FAILED: {run['error']}")
            return
    if measure_before:
        print(_line("before (full collection, measured at the default limits)", before))
    else:
        wait = predicted_wait(before["busiest"][1])
        print(
            _line("before (full collection, limits lifted)", before)
            + f"\n    at the default limits it waits at least {wait:.0f} s ({wait / 60:.1f} min) on that endpoint"
        )
    print(_line("after (rule-driven, default limits)", after))
    same = "identical" if before["digest"] == after["digest"] else "DIFFERENT"
    verdict = "within" if after["wall_s"] <= TARGET_SECONDS else "OVER"
    print(f"  findings {same}; after: {after['wall_s']:.1f} s, {verdict} the {TARGET_SECONDS:.0f} s target")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, metavar=("BASE_URL", "TENANT", "MODE"))
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--measure-before", action="store_true", help="run the full collection at the default limits")
    args = parser.parse_args()
    if args.child:
        from mendflow.telemetry import configure_logging

        configure_logging(level="ERROR")
        base_url, tenant, mode = args.child
        print(json.dumps(asyncio.run(_child(base_url, tenant, os.environ[TOKEN_ENV], mode == "lean"))))
    else:
        main(args.users, measure_before=args.measure_before)
