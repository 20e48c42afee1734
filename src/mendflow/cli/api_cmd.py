"""`mendflow api`: serve the HTTP API (Slack interactivity, health) and, optionally, Slack Socket Mode.

Decisions go to the campaign's workflow as the `decide` update on the given Temporal cluster. People are mapped
from Slack ids through the RBAC config (`rbac.people.NAME.slack`), plus Slack user groups given with
`--usergroup S…=GROUP`. Every decision and refusal is appended to the hash-chained audit log.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated

import typer

from mendflow.api.app import create_api_app, temporal_decider
from mendflow.audit import AuditLog
from mendflow.cli.environment import (
    ConfigFile,
    TemporalAddress,
    TemporalNamespace,
    TemporalTls,
    TemporalTlsCa,
    TemporalTlsCert,
    TemporalTlsKey,
)
from mendflow.integrations.slack import DEFAULT_BASE_URL, SlackCards, SlackDirectory
from mendflow.integrations.slack_socket import SlackSocketMode
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.ports import ensure_free
from mendflow.secrets import SecretRef
from mendflow.settings import Settings
from mendflow.sim.server import LoopbackServer, serve_async
from mendflow.telemetry import configure_logging


def api(
    signing_secret: Annotated[
        str,
        typer.Option(
            "--slack-signing-secret",
            envvar="MENDFLOW_SLACK_SIGNING_SECRET",
            help="Reference to the Slack app's signing secret (env:/file:).",
        ),
    ] = "env:SLACK_SIGNING_SECRET",  # noqa: S107 - a reference, not a secret
    bot_token: Annotated[
        str | None,
        typer.Option(
            "--slack-bot-token",
            envvar="MENDFLOW_SLACK_BOT_TOKEN",
            help="Reference to the bot token (xoxb-) for private answers.",
        ),
    ] = None,
    app_token: Annotated[
        str | None,
        typer.Option(
            "--slack-app-token",
            envvar="MENDFLOW_SLACK_APP_TOKEN",
            help="Reference to an app-level token: also run Socket Mode.",
        ),
    ] = None,
    slack_url: Annotated[
        str, typer.Option("--slack-url", envvar="MENDFLOW_SLACK_URL", help="Slack Web API base URL.")
    ] = DEFAULT_BASE_URL,
    config: ConfigFile = None,
    usergroup: Annotated[
        list[str] | None,
        typer.Option(
            "--usergroup",
            envvar="MENDFLOW_SLACK_USERGROUPS",
            help="Slack user group standing for a group: S…=GROUP (in the variable: separated by spaces).",
        ),
    ] = None,
    audit_log: Annotated[
        Path, typer.Option("--audit-log", envvar="MENDFLOW_AUDIT_LOG", help="Hash-chained JSONL audit log.")
    ] = Path(".mendflow/audit.jsonl"),
    temporal_address: TemporalAddress = "127.0.0.1:7233",
    namespace: TemporalNamespace = "default",
    tls: TemporalTls = False,
    tls_ca: TemporalTlsCa = None,
    tls_cert: TemporalTlsCert = None,
    tls_key: TemporalTlsKey = None,
    host: Annotated[str, typer.Option("--host", envvar="MENDFLOW_API_HOST", help="Interface to listen on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", envvar="MENDFLOW_API_PORT", help="Port to listen on.")] = 8088,
) -> None:
    """Serve POST /slack/interactivity and GET /healthz until Ctrl-C."""
    configure_logging()
    settings = Settings.load(config)
    groups: dict[str, str] = {}
    for entry in usergroup or []:
        key, sep, name = entry.partition("=")
        if not sep or not key or not name:
            raise typer.BadParameter(f"expected S…=GROUP, got {entry!r}", param_hint="--usergroup")
        groups[key] = name
    secret = SecretRef(ref=signing_secret).resolve()
    cards = SlackCards(SecretRef(ref=bot_token), base_url=slack_url) if bot_token else None
    directory = SlackDirectory.from_rbac(cards, settings.rbac, usergroups=groups)
    ensure_free(host, port, what="mendflow API", option="--port")

    async def run() -> None:
        client = await connect(
            TemporalSettings(
                address=temporal_address,
                namespace=namespace,
                tls=tls,
                tls_ca=tls_ca,
                tls_cert=tls_cert,
                tls_key=tls_key,
            )
        )
        app = create_api_app(
            slack_signing_secret=secret,
            decide=temporal_decider(client),
            directory=directory,
            audit=AuditLog(audit_log),
            cards=cards,
        )
        if cards is not None:
            await cards.check_auth()

        def ready(server: LoopbackServer) -> None:
            typer.echo(
                f"mendflow API at {server.base_url} (Slack interactivity: /slack/interactivity); Ctrl-C to stop."
            )

        async with contextlib.AsyncExitStack() as stack:
            if app_token:
                await stack.enter_async_context(
                    SlackSocketMode(
                        app_token=SecretRef(ref=app_token), interactions=app.state.slack, base_url=slack_url
                    )
                )
                typer.echo("Slack Socket Mode connected.")
            try:
                await serve_async(app, host=host, port=port, ready=ready)
            finally:
                await app.state.slack.drain()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
