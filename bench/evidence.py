"""M9: how long `mendflow evidence export` takes for a month with 10,000 audit events, and how long verify takes.

The database is filled the way a busy month fills it: 10,000 chained audit records (2,000 decisions, 1,000
campaign changes whose before/after states are 100 distinct snapshots, the rest refusals and token events) and
2,000 ledger findings carrying compliance references. The chain is inserted in one transaction (appending one by
one would measure the audit log, not the export). Export and verify are each timed on SQLite and, with
`--postgres`, on the suite's throw-away PostgreSQL server, as wall time and as this process's CPU time (the
figure that does not depend on what else the machine runs). Prints figures; asserts nothing.

    python bench/evidence.py [--events 10000] [--postgres]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests.store.postgres: the suite's throw-away server

from mendflow.audit import GENESIS
from mendflow.evidence.bundle import canonical, read_bundle, sha256, write_bundle
from mendflow.evidence.changes import CHANGE_KIND
from mendflow.evidence.compliance import Framework
from mendflow.evidence.export import export_evidence
from mendflow.evidence.snapshots import DatabaseSnapshotStore
from mendflow.evidence.verify import verify_bundle
from mendflow.findings.store import FindingsLedger
from mendflow.models import Finding, ResourceRef, Severity, fingerprint
from mendflow.store import Database
from mendflow.store.schema import audit_log
from mendflow.telemetry import configure_logging

START = datetime(2026, 11, 1, tzinfo=UTC)
MONTH = timedelta(days=30)
RUNS = 3
REFS = ("SOC2:CC6.1", "SOC2:CC6.7", "CIS-v8:3.10", "ISO27001:A.8.24", "NIST-CSF:PR.DS-02")


def fill(db: Database, events: int) -> None:
    """`events` chained audit records over the month, and 2,000 findings seen in it."""
    store = DatabaseSnapshotStore(db)
    digests = [store.put_lines([{"config": {"insecure_ssl": str(i % 2), "n": i}}]) for i in range(100)]
    rows = []
    prev = GENESIS
    step = MONTH / events
    for i in range(events):
        at = (START + step * i).isoformat()
        if i % 10 == 0:
            record = {
                "kind": CHANGE_KIND,
                "outcome": "accepted",
                "campaign_id": f"remediate/github:acme/hook/{i // 100}",
                "details": {
                    "tenant": "github:acme",
                    "fingerprint": f"{i:064x}",
                    "resource": f"/repos/acme/r{i}/hooks/1",
                    "resource_type": "github.repo_hook",
                    "action": "github.hook.secure_ssl",
                    "result": "verified",
                    "before": digests[(i // 10) % 100],
                    "after": digests[(i // 10 + 1) % 100],
                },
            }
        elif i % 5 == 0:
            record = {"kind": "decision", "outcome": "accepted", "actor": "alice", "details": {"verdict": "approve"}}
        else:
            record = {"kind": "workflow.refusal", "outcome": "refused", "reason": "not an approver", "actor": "bob"}
        record |= {"at": at, "prev": prev, "channel": "cli", "channel_user": "", "reason": record.get("reason", "")}
        line = canonical(record).decode()
        rows.append({"prev": prev, "line": line})
        prev = sha256(line.encode())
    with db.write() as conn:
        conn.execute(sa.insert(audit_log), rows)
    ledger = FindingsLedger(db)
    findings = [
        Finding(
            fingerprint=fingerprint("acme", "hook", f"/repos/acme/r{i}/hooks/1"),
            tenant="acme",
            provider="github",
            rule="hook",
            title="insecure webhook",
            severity=Severity.high,
            resource=ResourceRef(type="github.repo_hook", id=f"/repos/acme/r{i}/hooks/1"),
            evidence={"config.insecure_ssl": "1"},
            compliance=REFS[: 1 + i % len(REFS)],
            observed_at=START,
        )
        for i in range(2000)
    ]
    ledger.reconcile("github:acme", findings, rules=["hook"], seen_at=START + timedelta(days=1))


def measure(db: Database, root: Path, label: str, events: int) -> None:
    fill(db, events)
    key = Ed25519PrivateKey.generate()
    exports, cpu, verifies = [], [], []
    for run in range(RUNS):
        started, started_cpu = time.perf_counter(), time.process_time()
        exported = export_evidence(db, since=START, until=START + MONTH, framework=Framework.soc2, key=key)
        bundle = root / f"{label}-{run}.tar.gz"
        write_bundle(bundle, exported.files)
        exports.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        started = time.perf_counter()
        verify_bundle(read_bundle(bundle))
        verifies.append(time.perf_counter() - started)
    counts = exported.counts
    print(
        f"evidence (M9) on {label}: export of {counts['audit_events']:,} audit events, {counts['findings']:,} "
        f"findings, {counts['snapshots']} snapshots to .tar.gz ({bundle.stat().st_size / 1e6:.1f} MB): median "
        f"{statistics.median(exports):.2f}s ({statistics.median(cpu):.2f}s CPU) of {RUNS}; verify median "
        f"{statistics.median(verifies):.2f}s"
    )


@contextmanager
def postgres_url() -> Iterator[str]:
    from tests.store.postgres import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        yield server.create_database()
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--postgres", action="store_true", help="also on a throw-away PostgreSQL server")
    args = parser.parse_args(argv)
    configure_logging(level="ERROR")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = Database.open(f"sqlite:///{root / 'mendflow.sqlite3'}")
        measure(db, root, "SQLite", args.events)
        db.dispose()
        if args.postgres:
            with postgres_url() as url:
                db = Database.open(url)
                measure(db, root, "PostgreSQL", args.events)
                db.dispose()


if __name__ == "__main__":
    main()
