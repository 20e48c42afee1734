"""The embedded stack: Temporal dev server + a worker in this process, torn down cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from temporalio.client import Client

from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.devserver import DevServer
from mendflow.runtime.worker import build_worker
from mendflow.worker_context import WorkerContext


@dataclass(frozen=True)
class RunningStack:
    client: Client
    server: DevServer


@asynccontextmanager
async def embedded_stack(server: DevServer, context: WorkerContext) -> AsyncIterator[RunningStack]:
    """Start the dev server and a worker; on exit drain the worker, then stop the server."""
    await asyncio.to_thread(server.start)
    try:
        client = await connect(TemporalSettings(address=server.address))
        worker = build_worker(client, context)
        async with worker:
            yield RunningStack(client=client, server=server)
    finally:
        await asyncio.to_thread(server.stop)
