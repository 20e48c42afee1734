"""`mendflow evidence export|verify`: signed evidence bundles for auditors (see docs/evidence.md).

Export runs where the shared database is (the data directory of `mendflow up`, or `MENDFLOW_DATABASE_URL`).
Verify needs nothing but the bundle and, to know who signed it, the public key the exporter printed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from mendflow.cli.options import DatabaseUrl
from mendflow.errors import InputError
from mendflow.evidence import (
    KEY_FILE,
    Framework,
    export_evidence,
    fingerprint,
    parse_public_key,
    public_text,
    read_bundle,
    signing_key,
    verify_bundle,
    write_bundle,
)
from mendflow.store import Database, database_url
from mendflow.telemetry.metrics import record_evidence_export

app = typer.Typer(help="Signed evidence bundles: export a window for auditors, verify one.", no_args_is_help=True)

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="MENDFLOW_DATA_DIR",
        help=f"The stack's data directory (its database, and {KEY_FILE} when no --signing-key is given).",
        metavar="PATH",
    ),
]


def _when(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"{option} {value!r}: expected an ISO date or time, e.g. 2026-11-01 or 2026-11-01T09:00Z"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


@app.command("export")
def export(
    since: Annotated[
        str, typer.Option("--since", help="Start of the window (UTC unless a zone is given).", metavar="WHEN")
    ],
    out: Annotated[Path, typer.Option("--out", help="New directory, or a file ending .tar.gz.", metavar="BUNDLE")],
    until: Annotated[
        str | None, typer.Option("--until", help="End of the window, exclusive (default: now).", metavar="WHEN")
    ] = None,
    framework: Annotated[
        Framework | None, typer.Option("--framework", help="Map controls of one framework (default: every one).")
    ] = None,
    signing_key_ref: Annotated[
        str | None,
        typer.Option(
            "--signing-key",
            envvar="MENDFLOW_EVIDENCE_SIGNING_KEY",
            help=f"Secret reference (env:NAME or file:/path) of the Ed25519 key; default: {KEY_FILE} in the data "
            "directory, created (0600) on first use.",
            metavar="REF",
        ),
    ] = None,
    data_dir: DataDir = Path(".mendflow/up"),
    db_url: DatabaseUrl = None,
) -> None:
    """Export findings, decisions, changes, snapshots, the audit segment and the compliance mapping, signed."""
    start = _when(since, "--since")
    end = _when(until, "--until") if until else datetime.now(UTC)
    key = signing_key(data_dir, signing_key_ref)
    db = Database.open(database_url(data_dir, db_url))
    try:
        started = time.perf_counter()
        exported = export_evidence(db, since=start, until=end, framework=framework, key=key)
        write_bundle(out, exported.files)
        seconds = time.perf_counter() - started
    finally:
        db.dispose()
    record_evidence_export(seconds, framework=framework.value if framework else None)
    counts = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in exported.counts.items())
    typer.echo(f"exported {out} in {seconds:.2f}s: {counts}")
    typer.echo(f"signed by {exported.signature.key_id}; public key (give it to verifiers): {public_text(key)}")


@app.command("verify")
def verify(
    bundle: Annotated[Path, typer.Argument(help="A bundle directory or .tar.gz.", metavar="BUNDLE")],
    public_key: Annotated[
        str | None,
        typer.Option(
            "--public-key",
            help="The signer's public key (or a file of it); without it the bundle's own key is reported, which "
            "proves integrity but not who signed.",
            metavar="KEY",
        ),
    ] = None,
) -> None:
    """Check the signature, every digest, the audit chain and the recomputed mapping; exit 3 at the first mismatch."""
    expected = parse_public_key(public_key)[0] if public_key else None
    verified = verify_bundle(read_bundle(bundle), public=expected)
    manifest = verified.manifest
    counts = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in manifest.counts.items())
    typer.echo(f"verified {bundle}: {manifest.since} → {manifest.until}, {manifest.framework}: {counts}")
    if expected is None:
        typer.echo(f"signed by {verified.key_id} (not checked against a key you hold: pass --public-key)")
    else:
        typer.echo(f"signed by {fingerprint(expected)}, the key given")
    if manifest.missing_snapshots:
        typer.echo(f"{len(manifest.missing_snapshots)} snapshots were past retention at export (listed, signed)")
