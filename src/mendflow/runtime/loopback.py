"""Run an ASGI app (the API, a health endpoint, a vendor simulator) on a loopback socket: in a background thread
for tests and in-process scans, or in the foreground for `mendflow api`, `mendflow sim …`.

We bind the socket ourselves before uvicorn starts, so port 0 yields the real port up front and a port that is
already taken becomes one clear `ConnectionProblem` instead of a uvicorn log line and `SystemExit`.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from mendflow.errors import ConnectionProblem

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class LoopbackServer:
    """Where a running simulator listens."""

    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def bind_listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port; connections queue in the backlog until the server accepts them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this: without it, uvicorn's separate header and body writes meet the client's
    # delayed ACK and every response waits ~40 ms (Nagle).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise ConnectionProblem(f"port {port} on {host} is already in use; pick another with --port") from None
        raise ConnectionProblem(f"cannot listen on {host}:{port}: {err.strerror}") from None
    sock.setblocking(False)
    return sock


def _config(app: ASGIApp, *, tls: tuple[str, str] | None = None) -> uvicorn.Config:
    # log_config=None: leave the host program's logging setup alone; only uvicorn's own levels are set.
    return uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
    )


@contextmanager
def serve_in_thread(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[LoopbackServer]:
    """Serve `app` from a background thread until the block exits; the server accepts requests on entry."""
    sock = bind_listening_socket(host, port)
    server = uvicorn.Server(_config(app))
    where = LoopbackServer(host, int(sock.getsockname()[1]))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"sim-{where.port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise ConnectionProblem(f"the simulator on {host}:{where.port} did not start")
            time.sleep(0.005)
        yield where
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        sock.close()


async def serve_async(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    ready: Callable[[LoopbackServer], None] | None = None,
    tls: tuple[str, str] | None = None,
) -> None:
    """Serve `app` in the current event loop until cancelled (or interrupted), then shut down gracefully.

    `ready` is called once the socket listens, with the actual port (useful with port 0). `tls` = (certificate
    file, key file) serves HTTPS.
    """
    sock = bind_listening_socket(host, port)
    server = uvicorn.Server(_config(app, tls=tls))
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        if ready is not None:
            ready(LoopbackServer(host, int(sock.getsockname()[1])))
        await asyncio.shield(serving)
    finally:
        if not serving.done():
            # Cancelled (or `ready` failed): let uvicorn close its connections instead of abandoning them.
            server.should_exit = True
            await serving
        sock.close()
