"""`mendflow schedules apply|list|pause|resume|trigger`: periodic full scans as Temporal Schedules.

Host-side admin commands against Temporal (like `mendflow scan --tenant`): a schedule only starts scans, and
every change a scan leads to still passes its campaign's approval gate. Exit 0 done, 2 bad input (bad config, a
tenant without a schedule), 3 refused (a paused schedule triggered, Temporal denied it), 1 Temporal failed.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from temporalio.client import Client

from mendflow.cli.api_client import Format
from mendflow.cli.environment import ConfigFile
from mendflow.cli.options import temporal_options
from mendflow.config import TenantRegistry
from mendflow.errors import InputError
from mendflow.render import table, timestamp
from mendflow.runtime.client import TASK_QUEUE, TemporalSettings, connect
from mendflow.scheduling import manage
from mendflow.scheduling.manage import ScheduleView
from mendflow.settings import Settings

app = typer.Typer(help="Periodic full scans per tenant (Temporal Schedules) from mendflow.yaml's `schedules:`.",
                  no_args_is_help=True)  # fmt: skip

TaskQueue = Annotated[
    str, typer.Option("--task-queue", help="Task queue the workers poll (scheduled scans run there).", metavar="NAME")
]
Tenant = Annotated[str, typer.Argument(help="Tenant key, e.g. github:acme.", metavar="TENANT")]
Note = Annotated[str, typer.Option("--note", help="Why (kept on the schedule).", metavar="TEXT")]


Work = Callable[[Client], Awaitable[None]]
"""What a command does once connected; the command itself only checks its input and returns this."""


def _temporal_command(body: Callable[..., Work]) -> Callable[..., None]:
    """Give a command the Temporal connection options (`--temporal-address`, `--namespace`, `--tls*`,
    `--payload-keys`) and run the work it returns against that Temporal: one definition of the options and of
    connecting, for every schedules command."""

    @functools.wraps(body)
    def command(*args: object, temporal: TemporalSettings, **kwargs: object) -> None:
        work = body(*args, **kwargs)

        async def main() -> None:
            await work(await connect(temporal))

        asyncio.run(main())

    return temporal_options()(command)


def _render(views: list[ScheduleView], output: str) -> None:
    if output == "json":
        for view in views:
            typer.echo(view.model_dump_json())
        return
    rows = [[v.id, v.interval, v.jitter, "paused" if v.paused else "active",
             timestamp(v.next_runs[0]) if v.next_runs and not v.paused else "-",
             v.recent_scans[-1] if v.recent_scans else "-"] for v in views]  # fmt: skip
    typer.echo(table(["schedule", "interval", "jitter", "state", "next run", "last scan"], rows,
                     max_width=[None, 12, 12, 8, 20, None]))  # fmt: skip


@app.command("apply")
@_temporal_command
def apply(
    config: ConfigFile = None,
    tenants: Annotated[
        Path | None,
        typer.Option(
            "--tenants", envvar="MENDFLOW_TENANTS", help="Tenants config: every scheduled tenant must be in it."
        ),
    ] = None,
    output: Format = "table",
    task_queue: TaskQueue = TASK_QUEUE,
) -> Work:
    """Create or update one scan schedule per tenant of `schedules:`; delete the ones mendflow made that the
    config no longer names. Running it twice changes nothing."""
    if config is None:
        raise InputError("--config: name the mendflow.yaml whose `schedules:` to apply")
    settings = Settings.load(config)
    if tenants is not None:
        known = TenantRegistry.from_file(tenants).tenants
        unknown = [s.tenant for s in settings.schedules if s.tenant not in known]
        if unknown:
            raise InputError(f"{config}: schedules name tenants not in {tenants}: {', '.join(unknown)}")

    async def work(client: Client) -> None:
        result = await manage.apply(client, settings.schedules, task_queue=task_queue)
        if output == "json":
            typer.echo(result.model_dump_json())
            return
        for outcome in ("created", "updated", "unchanged", "deleted"):
            for sid in getattr(result, outcome):
                typer.echo(f"{outcome:9}  {sid}")
        if not settings.schedules and not result.deleted:
            typer.echo("no schedules configured")

    return work


@app.command("list")
@_temporal_command
def list_(output: Format = "table") -> Work:
    """The scan schedules mendflow made: interval, jitter, state, next run, last scan."""
    return _showing(output, manage.list_all)


@app.command("pause")
@_temporal_command
def pause(tenant: Tenant, note: Note = "", output: Format = "table") -> Work:
    """Pause a tenant's scan schedule (until resumed, or until `apply` with `paused: false`)."""
    return _showing(output, lambda client: _one(manage.pause(client, tenant, note)))


@app.command("resume")
@_temporal_command
def resume(tenant: Tenant, note: Note = "", output: Format = "table") -> Work:
    """Resume a paused scan schedule."""
    return _showing(output, lambda client: _one(manage.resume(client, tenant, note)))


@app.command("trigger")
@_temporal_command
def trigger(tenant: Tenant, output: Format = "table") -> Work:
    """Start one scheduled scan now (refused while the schedule is paused)."""
    return _showing(output, lambda client: _one(manage.trigger(client, tenant)))


def _showing(output: str, views: Callable[[Client], Awaitable[list[ScheduleView]]]) -> Work:
    """Work that shows the schedules `views` returns, after the output format is checked (a bad one is input)."""

    async def work(client: Client) -> None:
        _render(await views(client), output)

    return work


async def _one(view: Awaitable[ScheduleView]) -> list[ScheduleView]:
    return [await view]


__all__ = ["app"]
