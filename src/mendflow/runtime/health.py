"""A worker's liveness and readiness over HTTP, for container orchestrators (`mendflow worker --health-port`).

A Temporal worker serves nothing of its own, so a wedged process would look alive to Kubernetes. These two
answers come from the worker's own event loop, the one that runs its activities and workflow tasks:

- `GET /healthz` → 200 as long as that loop turns (a blocked loop cannot answer, and the probe times out);
- `GET /readyz`  → 200 when the Temporal frontend answers a health check over the worker's own connection,
  503 otherwise. Readiness, not liveness: restarting a worker cannot repair its cluster.

It is a few lines of asyncio rather than uvicorn because uvicorn's server takes over SIGINT/SIGTERM, which the
worker needs for its own graceful shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from mendflow.runtime.loopback import bind_listening_socket

CHECK_TIMEOUT = 2.0
"""Seconds the readiness check waits for Temporal; probes usually time out after a few seconds."""

ReadyCheck = Callable[[], Awaitable[bool]]

_STATUS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


async def _answer(ready: ReadyCheck, method: str, path: str) -> tuple[int, bytes]:
    if path not in ("/healthz", "/readyz"):
        return 404, b'{"ok": false}'
    if method not in ("GET", "HEAD"):
        return 405, b'{"ok": false}'
    if path == "/healthz":
        return 200, b'{"ok": true}'
    try:
        ok = await asyncio.wait_for(ready(), timeout=CHECK_TIMEOUT)
    except Exception:  # any failure to reach Temporal means "not ready", never a crash of the probe server
        ok = False
    return (200, b'{"ok": true}') if ok else (503, b'{"ok": false}')


def _handler(ready: ReadyCheck) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=CHECK_TIMEOUT)
            method, _, rest = request_line.decode("latin-1").partition(" ")
            path = rest.partition(" ")[0].partition("?")[0]
            status, body = await _answer(ready, method, path)
            head = (
                f"HTTP/1.1 {status} {_STATUS[status]}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("ascii") + (b"" if method == "HEAD" else body))
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    return handle


@contextlib.asynccontextmanager
async def health_server(ready: ReadyCheck, *, host: str, port: int) -> AsyncIterator[int]:
    """Serve /healthz and /readyz on host:port in the current event loop while the block runs; yields the port."""
    sock = bind_listening_socket(host, port)
    server = await asyncio.start_server(_handler(ready), sock=sock)
    try:
        yield int(sock.getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()
