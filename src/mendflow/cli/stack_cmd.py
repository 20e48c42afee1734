"""`mendflow demo`, `mendflow up` and `mendflow worker`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated

import typer

from mendflow.auth.refusals import audit_refusals
from mendflow.cli.environment import (
    ConfigFile,
)
from mendflow.cli.options import (
    DatabaseUrl,
    DataDir,
    PlaybookPaths,
    load_all_or_fail,
    load_or_fail,
    temporal_options,
)
from mendflow.codec import EMBEDDED_KEY_ID, KEY_FILE
from mendflow.config import TenantRegistry
from mendflow.data import demo_tenant_path
from mendflow.doctor import log_checkup
from mendflow.routing import EVERY_ROLE, parse_roles
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.devserver import DevServer
from mendflow.runtime.health import health_server
from mendflow.runtime.ports import ensure_free
from mendflow.runtime.stack import embedded_stack
from mendflow.runtime.worker import build_worker
from mendflow.scheduling import manage as schedules
from mendflow.settings import Settings
from mendflow.telemetry import configure_logging
from mendflow.telemetry.setup import start_telemetry
from mendflow.worker_context import WorkerContext


def demo(
    data_dir: DataDir = Path(".mendflow/demo"),
    playbooks: PlaybookPaths = None,
) -> None:
    """Run the whole loop once on the embedded stack against a simulated GitHub org, then shut down."""
    from mendflow.demo import render_report, run_demo  # the demo runs simulators: loaded only when asked for

    configure_logging(level="WARNING")
    loaded = load_or_fail(playbooks)
    typer.echo(
        "mendflow demo: starting Temporal dev server, worker, API and simulated GitHub org 'acme', Slack and Jira …"
    )
    report = asyncio.run(run_demo(data_dir, loaded))
    typer.echo(render_report(report))


async def _until_interrupted() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def up(
    data_dir: DataDir = Path(".mendflow/up"),
    temporal_port: Annotated[int, typer.Option("--temporal-port", help="Temporal frontend gRPC port.")] = 7233,
    ui_port: Annotated[int, typer.Option("--ui-port", help="Temporal Web UI port.")] = 8233,
    tenants: Annotated[
        Path | None, typer.Option("--tenants", help="Tenants config (YAML); default: the simulated demo org.")
    ] = None,
    playbooks: PlaybookPaths = None,
    config: Annotated[Path | None, typer.Option("--config", help="mendflow.yaml (rbac, changes, slack, jira).")] = None,
    api_port: Annotated[
        int, typer.Option("--api-port", help="Port of the HTTP API (operator API; Slack interactivity if configured).")
    ] = 8088,
) -> None:
    """Run the embedded stack (Temporal dev server, a worker and the HTTP API on loopback) in the foreground until
    Ctrl-C."""
    from mendflow.demo import simulated_github, with_webhooks  # serves a simulated org: loaded only here

    configure_logging()
    everything = load_all_or_fail(playbooks)
    loaded = everything.playbooks
    settings = Settings.load(config)
    start_telemetry(settings.telemetry)  # before the first client: traces, metrics (the API serves /metrics)

    async def serve(registry: TenantRegistry, settings: Settings) -> None:
        known = [s for s in settings.schedules if s.tenant in registry.tenants]
        for item in settings.schedules:
            if item not in known:  # e.g. the example config's Okta tenant on the demo stack: say so, scan the rest
                typer.echo(f"mendflow: not scheduling {item.tenant}: not a tenant of this stack", err=True)
        server = DevServer(data_dir=data_dir / "temporal", port=temporal_port, ui_port=ui_port)
        context = WorkerContext(
            registry=registry, data_dir=data_dir, playbooks={p.id: p for p in loaded}, settings=settings,
            responses={w.id: w for w in everything.workflows},  # finding triggers of loaded workflow playbooks
        )  # fmt: skip
        async with embedded_stack(server, context, api_port=api_port) as stack:
            typer.echo(f"Temporal at {server.address}, UI at {server.ui_url}; tenants: {', '.join(registry.tenants)}")
            applied = await schedules.apply(stack.client, known)  # config is the truth, even when empty
            if known or applied.deleted:
                made = applied.created + applied.updated + applied.unchanged
                typer.echo(f"scan schedules: {', '.join(made) or 'none'} (mendflow schedules list)")
            if stack.api is not None:
                slack = f"; Slack interactivity: {stack.interactivity_url}" if stack.interactivity_url else ""
                typer.echo(f"mendflow API at {stack.api.base_url} (operator API: /v1/{slack})")
                hooked = [t.tenant for t in settings.webhooks.tenants] if settings.webhooks else []
                if hooked:
                    typer.echo(f"webhooks: {stack.api.base_url}/webhooks/github|okta → targeted rescans of "
                               f"{', '.join(hooked)}")  # fmt: skip
                where = f" --data-dir {data_dir}" + (f" --config {config}" if config else "")
                typer.echo(f"operators: mendflow tokens create --person NAME --role approver{where}, then "
                           f"export MENDFLOW_TOKEN=… and mendflow status --api-url {stack.api.base_url}")  # fmt: skip
                typer.echo(f"payloads are encrypted; to read them in the UI, sign in with a token at "
                           f"{stack.api.base_url}/codec/login")  # fmt: skip
            key = (data_dir / KEY_FILE).resolve()
            typer.echo(f"scan with: mendflow scan --tenant KEY --temporal-address {server.address} "
                       f"--payload-keys {EMBEDDED_KEY_ID}=file:{key}")  # fmt: skip
            typer.echo("Ctrl-C to stop.")
            await _until_interrupted()

    if tenants is not None:
        asyncio.run(serve(TenantRegistry.from_file(tenants), settings))
        return
    # the simulated org delivers GitHub's signed webhooks for every change, by mendflow or by hand
    hooked, target = with_webhooks(settings, "github:acme", f"http://127.0.0.1:{api_port}")
    with simulated_github(demo_tenant_path(), webhook=target) as (sim, connection):
        typer.echo(f"simulated GitHub org '{connection.tenant}' at {sim.base_url} (its writes deliver webhooks)")
        registry = TenantRegistry()
        registry.add(connection)
        asyncio.run(serve(registry, hooked))


@temporal_options(address=None, before="tenants")
def worker(
    tenants: Annotated[
        Path,
        typer.Option("--tenants", envvar="MENDFLOW_TENANTS", help="Tenants config (YAML) with secret references."),
    ],
    data_dir: Annotated[
        Path,
        typer.Option("--data-dir", envvar="MENDFLOW_DATA_DIR", help="Local scratch and the embedded stores' files."),
    ] = Path(".mendflow/worker"),
    playbooks: Annotated[
        list[Path] | None,
        typer.Option(
            "--playbooks", "-p", envvar="MENDFLOW_PLAYBOOKS", help="Playbook files or folders (default: shipped)."
        ),
    ] = None,
    config: ConfigFile = None,
    health_port: Annotated[
        int | None,
        typer.Option(
            "--health-port", envvar="MENDFLOW_HEALTH_PORT", help="Serve GET /healthz and /readyz (probes) here."
        ),
    ] = None,
    health_host: Annotated[
        str, typer.Option("--health-host", envvar="MENDFLOW_HEALTH_HOST", help="Interface of the probe endpoint.")
    ] = "127.0.0.1",
    database_url: DatabaseUrl = None,
    queues: Annotated[
        str,
        typer.Option(
            "--queues",
            envvar="MENDFLOW_QUEUES",
            help="Roles this worker serves, comma-separated: scan, remediation, integrations (default: all).",
        ),
    ] = EVERY_ROLE,
    *,
    temporal: TemporalSettings,
) -> None:
    """Run only a worker against an existing Temporal cluster."""
    configure_logging()
    roles = parse_roles(queues)  # an unknown role is the user's mistake: exit 2, one line
    everything = load_all_or_fail(playbooks)
    registry = TenantRegistry.from_file(tenants)

    if health_port is not None:
        ensure_free(health_host, health_port, what="worker probes", option="--health-port")

    # The shared store first: a wrong --database-url or an unreachable database is reported before Temporal.
    context = WorkerContext(
        registry=registry,
        data_dir=data_dir,
        playbooks={p.id: p for p in everything.playbooks},
        settings=Settings.load(config),
        database_url=database_url,
        responses={w.id: w for w in everything.workflows},  # finding triggers of loaded workflow playbooks
    )
    start_telemetry(context.settings.telemetry, serve=True)  # /metrics on telemetry.metrics_address

    async def run() -> None:
        client = await connect(temporal)
        async with build_worker(client, context, roles=roles) as workers:
            for queue in workers.task_queues:  # validators' refusals (even of requests sent straight to Temporal)
                audit_refusals(queue, context.audit)
            typer.echo(
                f"worker connected to {temporal.address} ({temporal.namespace}), "
                f"polling {', '.join(workers.task_queues)}; Ctrl-C to stop."
            )
            # Least privilege, checked at start and logged (never blocking: scans report the same gaps again).
            checkup = asyncio.create_task(log_checkup(list(registry.tenants.values()), everything.playbooks))
            try:
                if health_port is None:
                    await _until_interrupted()
                    return
                async with health_server(client.service_client.check_health, host=health_host, port=health_port) as at:
                    typer.echo(f"probes at http://{health_host}:{at}/healthz and /readyz")
                    await _until_interrupted()
            finally:
                checkup.cancel()

    asyncio.run(run())
