"""The embedded stack: Temporal dev server + a worker in this process (+ the HTTP API when Slack is configured),
torn down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from temporalio.client import Client

from mendflow.api.app import create_api_app, temporal_decider
from mendflow.api.slack_interactivity import Decide
from mendflow.audit import AuditLog
from mendflow.integrations.slack import SlackCards, SlackDirectory
from mendflow.models import Decision, DecisionOutcome
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.devserver import DevServer
from mendflow.runtime.worker import build_worker
from mendflow.settings import Settings
from mendflow.sim.server import LoopbackServer, serve_in_thread
from mendflow.worker_context import WorkerContext


@dataclass(frozen=True)
class RunningStack:
    client: Client
    server: DevServer
    api: LoopbackServer | None = None
    """The HTTP API (Slack interactivity at `/slack/interactivity`), when Slack is configured."""
    app: Starlette | None = None

    @property
    def interactivity_url(self) -> str:
        return f"{self.api.base_url}/slack/interactivity" if self.api else ""


def connecting_decider(temporal: TemporalSettings) -> Decide:
    """`temporal_decider(client)` for an app served on another thread's event loop: the Temporal client is
    connected on first use, in the loop that serves the requests."""
    decider: list[Decide] = []
    lock = asyncio.Lock()

    async def decide(campaign_id: str, decision: Decision) -> DecisionOutcome:
        async with lock:
            if not decider:
                decider.append(temporal_decider(await connect(temporal)))
        return await decider[0](campaign_id, decision)

    return decide


def build_api_app(settings: Settings, decide: Decide, audit_path: Path) -> Starlette | None:
    """The API app wired to Slack (cards for private answers, people from the RBAC config); None without Slack."""
    slack = settings.slack
    if slack is None:
        return None
    cards = SlackCards(slack.bot_token, base_url=slack.base_url, timeout=slack.timeout, max_retries=slack.max_retries)
    directory = SlackDirectory.from_rbac(cards, settings.rbac, usergroups=slack.usergroups)
    return create_api_app(
        slack_signing_secret=slack.signing_secret.resolve(),
        decide=decide,
        directory=directory,
        audit=AuditLog(audit_path),
        cards=cards,
    )


@contextlib.contextmanager
def api_in_thread(
    settings: Settings, temporal: TemporalSettings, audit_path: Path, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[tuple[LoopbackServer | None, Starlette | None]]:
    """Serve the API (uvicorn in a thread) while the block runs, if Slack is configured."""
    app = build_api_app(settings, connecting_decider(temporal), audit_path)
    if app is None:
        yield None, None
        return
    with serve_in_thread(app, host=host, port=port) as server:
        yield server, app


@asynccontextmanager
async def embedded_stack(
    server: DevServer, context: WorkerContext, *, api_host: str = "127.0.0.1", api_port: int = 0
) -> AsyncIterator[RunningStack]:
    """Start the dev server, a worker and (with Slack configured) the API; on exit stop the API, drain the worker,
    then stop the server."""
    await asyncio.to_thread(server.start)
    try:
        temporal = TemporalSettings(address=server.address)
        client = await connect(temporal)
        worker = build_worker(client, context)
        audit = context.data_dir / "audit.jsonl"
        with api_in_thread(context.settings, temporal, audit, host=api_host, port=api_port) as (api, app):
            async with worker:
                yield RunningStack(client=client, server=server, api=api, app=app)
    finally:
        await asyncio.to_thread(server.stop)
