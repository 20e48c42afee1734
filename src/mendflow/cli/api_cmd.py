"""`mendflow api`: serve the HTTP API (operator endpoints, Slack interactivity, health) and, optionally, Slack
Socket Mode.

Operators authenticate with personal tokens (`mendflow tokens`) or OIDC JWTs; Slack clicks with Slack's signed
requests. People and groups come from the RBAC config (`rbac.people`, plus Slack user groups given with
`--usergroup S…=GROUP`). Every request is signed with the API's Ed25519 key (`security.signing_key`, else a key
generated in the data directory, whose public half the workers must trust) and sent to the campaign's workflow
as an update; every decision and refusal is appended to the hash-chained audit log.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated

import typer

from mendflow.api.app import create_api_app, temporal_decider
from mendflow.api.assemble import build_operator, build_webhooks, payload_codec, signer_for
from mendflow.api.operations import Operations
from mendflow.audit import AuditLog
from mendflow.cli.environment import (
    CodecOrigins,
    ConfigFile,
)
from mendflow.cli.options import DatabaseUrl, temporal_options
from mendflow.integrations.slack import DEFAULT_BASE_URL, SlackCards, SlackDirectory
from mendflow.integrations.slack_socket import SlackSocketMode
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.loopback import LoopbackServer, serve_async
from mendflow.runtime.ports import ensure_free
from mendflow.secrets import SecretRef
from mendflow.settings import Settings
from mendflow.store import Database, StoredReplayCache, database_url
from mendflow.telemetry import configure_logging
from mendflow.telemetry.setup import start_telemetry


@temporal_options(before="host")
def api(
    signing_secret: Annotated[
        str | None,
        typer.Option(
            "--slack-signing-secret",
            envvar="MENDFLOW_SLACK_SIGNING_SECRET",
            help="Reference to the Slack app's signing secret (env:/file:); unset: no Slack interactivity.",
        ),
    ] = None,
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
        Path | None,
        typer.Option(
            "--audit-log",
            envvar="MENDFLOW_AUDIT_LOG",
            help="Append the hash-chained audit log to this JSONL file instead of the shared database.",
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", envvar="MENDFLOW_API_HOST", help="Interface to listen on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", envvar="MENDFLOW_API_PORT", help="Port to listen on.")] = 8088,
    data_dir: Annotated[
        Path,
        typer.Option("--data-dir", envvar="MENDFLOW_DATA_DIR", help="Token store and the generated signing key."),
    ] = Path(".mendflow/api"),
    api_tls_cert: Annotated[
        Path | None,
        typer.Option("--api-tls-cert", envvar="MENDFLOW_API_TLS_CERT", help="Serve HTTPS with this certificate (PEM)."),
    ] = None,
    api_tls_key: Annotated[
        Path | None,
        typer.Option("--api-tls-key", envvar="MENDFLOW_API_TLS_KEY", help="Private key of --api-tls-cert (PEM)."),
    ] = None,
    database: DatabaseUrl = None,
    codec_origins: CodecOrigins = None,
    *,
    temporal: TemporalSettings,
) -> None:
    """Serve the operator API (/v1/…), POST /slack/interactivity, vendor webhooks and GET /healthz until Ctrl-C."""
    configure_logging()
    settings = Settings.load(config)
    start_telemetry(settings.telemetry)  # before the client connects: traces and the pipeline /metrics serves
    if (api_tls_cert is None) != (api_tls_key is None):
        raise typer.BadParameter("give both --api-tls-cert and --api-tls-key", param_hint="--api-tls-cert")
    tls_files = (str(api_tls_cert), str(api_tls_key)) if api_tls_cert and api_tls_key else None
    signer = signer_for(settings, data_dir)
    groups: dict[str, str] = {}
    for entry in usergroup or []:
        key, sep, name = entry.partition("=")
        if not sep or not key or not name:
            raise typer.BadParameter(f"expected S…=GROUP, got {entry!r}", param_hint="--usergroup")
        groups[key] = name
    secret = SecretRef(ref=signing_secret).resolve() if signing_secret else None
    cards = SlackCards(SecretRef(ref=bot_token), base_url=slack_url) if bot_token else None
    directory = SlackDirectory.from_rbac(cards, settings.rbac, usergroups=groups)
    ensure_free(host, port, what="mendflow API", option="--port")

    async def run() -> None:
        client = await connect(temporal)
        db = Database.open(database_url(data_dir, database))
        # The database's chain by default: every API replica and worker appends to the same one.
        audit = AuditLog(audit_log) if audit_log is not None else AuditLog(db)
        ops = Operations(client, signer, audit)
        app = create_api_app(
            slack_signing_secret=secret,
            decide=temporal_decider(ops),
            directory=directory,
            audit=audit,
            cards=cards,
            operator=build_operator(settings, ops, db),
            # Signed Slack requests already received, shared by every replica and kept across restarts.
            replay=StoredReplayCache(db),
            # Operators' Temporal UI and CLI decrypt payloads here (only when they are encrypted).
            codec=payload_codec(client),
            codec_origins=codec_origins or (),
            # Vendor webhooks of the `webhooks:` section: each delivery a targeted rescan (docs/webhooks.md).
            webhooks=build_webhooks(settings, ops, db, audit),
        )
        if cards is not None:
            await cards.check_auth()

        def ready(server: LoopbackServer) -> None:
            scheme = "https" if tls_files else "http"
            hooks = ", webhooks: /webhooks/github|okta" if settings.webhooks and settings.webhooks.tenants else ""
            typer.echo(
                f"mendflow API at {scheme}://{server.host}:{server.port} (operator API: /v1/, Slack interactivity: "
                f"/slack/interactivity{hooks}); signing key {signer.key_id} (workers trust: {signer.public_key}); "
                "Ctrl-C to stop."
            )

        async with contextlib.AsyncExitStack() as stack:
            if app_token and app.state.slack is not None:
                await stack.enter_async_context(
                    SlackSocketMode(
                        app_token=SecretRef(ref=app_token), interactions=app.state.slack, base_url=slack_url
                    )
                )
                typer.echo("Slack Socket Mode connected.")
            try:
                await serve_async(app, host=host, port=port, ready=ready, tls=tls_files)
            finally:
                if app.state.slack is not None:
                    await app.state.slack.drain()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
