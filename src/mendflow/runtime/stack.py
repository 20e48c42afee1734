"""The embedded stack: Temporal dev server + a worker + the HTTP API in this process, torn down cleanly.

Payloads are encrypted with a key generated in the data directory on first start (`payload-codec.key`), and the
dev server's UI is pointed at the API's codec endpoint, so an authenticated operator sees them decrypted there.

The API signs every decision with a key kept in the data directory (generated on first start, unless
`security.signing_key` names one); the worker is given its public half as a trusted key, so the quick path works
with no key management while a decision sent straight to Temporal is still refused.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from temporalio.client import Client

from mendflow.api.assemble import build_api, signer_for, trusting
from mendflow.api.codec import PREFIX as CODEC_PREFIX
from mendflow.auth.refusals import audit_refusals
from mendflow.auth.signing import DecisionSigner
from mendflow.codec import embedded_keys
from mendflow.runtime.client import TASK_QUEUE, TemporalSettings, connect
from mendflow.runtime.devserver import DevServer
from mendflow.runtime.loopback import LoopbackServer, serve_in_thread
from mendflow.runtime.ports import free_port
from mendflow.runtime.worker import build_worker
from mendflow.settings import Settings
from mendflow.worker_context import WorkerContext


@dataclass(frozen=True)
class RunningStack:
    client: Client
    server: DevServer
    api: LoopbackServer | None = None
    """The HTTP API (operator endpoints under `/v1/`, Slack interactivity when Slack is configured)."""
    app: Starlette | None = None
    signer: DecisionSigner | None = None

    @property
    def interactivity_url(self) -> str:
        slack = self.app.state.slack if self.app is not None else None
        return f"{self.api.base_url}/slack/interactivity" if self.api and slack is not None else ""


@contextlib.contextmanager
def api_in_thread(
    settings: Settings,
    temporal: TemporalSettings,
    data_dir: Path,
    signer: DecisionSigner,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    codec_origins: tuple[str, ...] = (),
) -> Iterator[tuple[LoopbackServer, Starlette]]:
    """Serve the API (uvicorn in a thread; its Temporal client connects in that thread's loop) while the block
    runs."""
    app = build_api(settings, temporal, data_dir=data_dir, signer=signer, codec_origins=codec_origins)
    with serve_in_thread(app, host=host, port=port) as server:
        yield server, app


def ui_origins(server: DevServer) -> tuple[str, ...]:
    """Where the dev server's UI is served from (the browser may call it by address or by `localhost`)."""
    if server.headless:
        return ()
    hosts = dict.fromkeys([server.host, "localhost" if server.host == "127.0.0.1" else server.host])
    return tuple(f"http://{host}:{server.ui_port}" for host in hosts)


@asynccontextmanager
async def embedded_stack(
    server: DevServer, context: WorkerContext, *, api_host: str = "127.0.0.1", api_port: int = 0
) -> AsyncIterator[RunningStack]:
    """Start the dev server, a worker and the API; on exit stop the API, drain the worker, then stop the server."""
    signer = signer_for(context.settings, context.data_dir)
    context.settings = trusting(context.settings, signer)
    keys = embedded_keys(context.data_dir)
    api_port = api_port or free_port(api_host)  # the UI must know the codec endpoint before the server starts
    if not server.codec_endpoint:
        server.codec_endpoint = f"http://{api_host}:{api_port}{CODEC_PREFIX}"
    origins = ui_origins(server)
    await asyncio.to_thread(server.start)
    try:
        temporal = TemporalSettings(address=server.address, payload_keys=keys)
        client = await connect(temporal)
        worker = build_worker(client, context)
        audit_refusals(TASK_QUEUE, context.audit)  # refusals of requests sent straight to Temporal too
        with api_in_thread(context.settings, temporal, context.data_dir, signer, host=api_host, port=api_port,
                           codec_origins=origins) as (api, app):  # fmt: skip
            async with worker:
                yield RunningStack(client=client, server=server, api=api, app=app, signer=signer)
    finally:
        await asyncio.to_thread(server.stop)
