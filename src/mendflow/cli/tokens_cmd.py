"""`mendflow tokens create|list|revoke`: personal API tokens, managed on the API's host.

Run where the API's data directory (or `MENDFLOW_DATABASE_URL`) is: this is an administrator's tool, not an API
call. A token is printed once; only its sha256 is stored. Creation and revocation are audited.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from mendflow.audit import AuditEvent, AuditLog
from mendflow.auth.tokens import Role, StoredTokens, TokenInfo
from mendflow.cli.api_client import Format
from mendflow.cli.environment import ConfigFile
from mendflow.cli.operate_cmd import parse_expiry
from mendflow.errors import InputError
from mendflow.render import table
from mendflow.settings import Settings
from mendflow.store import Database, database_url

app = typer.Typer(help="Personal API tokens (viewer, operator, approver, admin).", no_args_is_help=True)

DataDir = Annotated[
    Path,
    typer.Option("--data-dir", envvar="MENDFLOW_DATA_DIR", help="The API's data directory.", metavar="PATH"),
]
DEFAULT_DIR = Path(".mendflow/up")


def _database(data_dir: Path) -> Database:
    return Database.open(database_url(data_dir))


def _audit(db: Database, kind: str, info: TokenInfo, by: str) -> None:
    """Into the shared audit chain (the database the API and workers use)."""
    AuditLog(db).append(
        AuditEvent(
            kind=kind,
            outcome="accepted",
            actor=by,
            channel="cli",
            details={"token_id": info.token_id, "person": info.person, "role": info.role.value, "auth": "host"},
        )
    )


def _when(stamp: float | None) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if stamp is not None else ""


@app.command("create")
def create(
    person: Annotated[str, typer.Option("--person", help="A person of rbac.people.", metavar="NAME")],
    role: Annotated[Role, typer.Option("--role", help="What the token may do.")] = Role.viewer,
    expires: Annotated[str, typer.Option("--expires", help="30d, 12h, 2w or an ISO date.", metavar="WHEN")] = "30d",
    name: Annotated[str, typer.Option("--name", help="A label to recognise it by.", metavar="TEXT")] = "",
    config: ConfigFile = None,
    data_dir: DataDir = DEFAULT_DIR,
    output: Format = "table",
) -> None:
    """Create a token for PERSON with ROLE; it is printed once."""
    settings = Settings.load(config)
    if person not in settings.rbac.people:
        known = ", ".join(sorted(settings.rbac.people)) or "none: pass --config with an rbac section"
        raise InputError(f"--person {person!r} is not in rbac.people (known: {known})")
    now = datetime.now(UTC)
    ttl = (parse_expiry(expires, now=now) - now).total_seconds()
    if ttl <= 0:
        raise InputError(f"--expires {expires!r} is in the past")
    db = _database(data_dir)
    secret, info = StoredTokens(db).create(
        person=person, role=role, name=name or f"{person}-{role.value}", ttl_seconds=ttl
    )
    _audit(db, "token.created", info, by="host-admin")
    if output == "json":
        typer.echo(json.dumps({"token": secret, **info.model_dump(mode="json")}))
        return
    typer.echo(f"token {info.token_id} for {person} ({role.value}), expires {_when(info.expires_at)}:")
    typer.echo(secret)
    typer.echo("It is shown once. Use it with: export MENDFLOW_TOKEN=<token>")


@app.command("list")
def list_(data_dir: DataDir = DEFAULT_DIR, output: Format = "table") -> None:
    """List tokens (never the tokens themselves)."""
    now = datetime.now(UTC).timestamp()
    tokens = StoredTokens(_database(data_dir)).list()
    if output == "json":
        for info in tokens:
            typer.echo(json.dumps({**info.model_dump(mode="json"), "state": info.state(now)}))
        return
    rows = [[t.token_id, t.person, t.role.value, t.state(now), _when(t.expires_at), t.name] for t in tokens]
    typer.echo(table(["id", "person", "role", "state", "expires", "name"], rows, max_width=[20, 30, 10, 8, 20, 40]))


@app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (tok_…).", metavar="TOKEN_ID")],
    data_dir: DataDir = DEFAULT_DIR,
) -> None:
    """Revoke a token at once."""
    db = _database(data_dir)
    info = StoredTokens(db).revoke(token_id)
    _audit(db, "token.revoked", info, by="host-admin")
    typer.echo(f"revoked {info.token_id} ({info.person}, {info.role.value})")
