"""Options shared by several commands."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from mendflow.cli.environment import (
    PayloadKeysText,
    TemporalAddress,
    TemporalNamespace,
    TemporalTls,
    TemporalTlsCa,
    TemporalTlsCert,
    TemporalTlsKey,
    temporal_settings,
)
from mendflow.errors import InputError
from mendflow.playbooks.loader import LoadResult, bundled_playbook_dir, load_playbooks
from mendflow.playbooks.model import Playbook
from mendflow.responses.triggers import dead_triggers


class OutputFormat(StrEnum):
    """`--format` of the commands that print results: table for people, json for tools."""

    table = "table"
    json = "json"


PlaybookPaths = Annotated[
    list[Path] | None,
    typer.Option(
        "--playbooks", "-p", help="Playbook files or folders (default: the shipped rule packs).", metavar="PATH"
    ),
]
DataDir = Annotated[
    Path, typer.Option("--data-dir", help="Where Temporal's SQLite file, snapshots and the ledger live.")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="MENDFLOW_DATABASE_URL",
        help="Shared state (ledger, snapshots, audit, idempotency keys): postgresql://user@host/db, or "
        "sqlite:///path. Default: SQLite in the data directory.",
        show_default=False,
    ),
]


def load_or_fail(paths: list[Path] | None, *, strict: bool = False) -> list[Playbook]:
    """Load playbooks; report each broken file on stderr and carry on with the good ones."""
    return load_all_or_fail(paths, strict=strict).playbooks


def load_all_or_fail(paths: list[Path] | None, *, strict: bool = False) -> LoadResult:
    """`load_or_fail`, keeping the workflow playbooks too (a worker runs their finding triggers; one naming a
    detection playbook that is not loaded is reported, since it can never fire)."""
    result = load_playbooks(paths or [bundled_playbook_dir()])
    for error in result.errors:
        typer.echo(f"mendflow: {error}", err=True)
    for warning in dead_triggers(result.workflows, (p.id for p in result.playbooks)):
        typer.echo(f"mendflow: {warning}", err=True)
    if result.errors and (strict or not result.playbooks):
        raise InputError(f"{len(result.errors)} playbook file(s) could not be loaded")
    return result


DEFAULT_ADDRESS = "127.0.0.1:7233"
"""The Temporal a command reaches when --temporal-address is not given (the dev server's)."""
Result = TypeVar("Result")


def temporal_options(
    *, address: str | None = DEFAULT_ADDRESS, before: str | None = None
) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """Give a command the Temporal connection options (`--temporal-address`, `--namespace`, `--tls*`,
    `--payload-keys`) and hand it their `TemporalSettings` as its `temporal` argument: one definition of the options,
    for every command that reaches Temporal. `address`: the default address (None: the option is required);
    `before`: the command's parameter the options are listed before in --help and checked before (None: last)."""
    empty = inspect.Parameter.empty
    options = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        for name, annotation, default in (
            ("temporal_address", TemporalAddress, empty if address is None else address),
            ("namespace", TemporalNamespace, "default"),
            ("tls", TemporalTls, False),
            ("tls_ca", TemporalTlsCa, None),
            ("tls_cert", TemporalTlsCert, None),
            ("tls_key", TemporalTlsKey, None),
            ("payload_keys_text", PayloadKeysText, None),
        )
    ]

    def decorate(body: Callable[..., Result]) -> Callable[..., Result]:
        @functools.wraps(body)
        def command(
            *args: Any,
            temporal_address: str,
            namespace: str,
            tls: bool,
            tls_ca: Path | None,
            tls_cert: Path | None,
            tls_key: Path | None,
            payload_keys_text: str | None,
            **kwargs: Any,
        ) -> Result:
            temporal = temporal_settings(temporal_address, namespace, tls, tls_ca, tls_cert, tls_key, payload_keys_text)
            return body(*args, temporal=temporal, **kwargs)

        own = inspect.signature(body, eval_str=True)
        kept = [p for p in own.parameters.values() if p.name != "temporal"]
        at = next((i for i, p in enumerate(kept) if p.name == before), len(kept))
        merged = [*kept[:at], *options, *kept[at:]]  # typer passes every option by name: all keyword-only
        signature = own.replace(parameters=[p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in merged])
        setattr(command, "__signature__", signature)  # typer reads the options from the signature  # noqa: B010
        return command

    return decorate
