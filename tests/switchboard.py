"""One loopback server per simulator kind per test process, into which each test plugs its own fresh app.

Stopping a uvicorn server costs ~0.15 s (its shutdown pauses 0.1 s, and it notices `should_exit` on a 0.1 s
tick); the Slack, Jira and GitHub fixtures paid that after every test that used them. A test still gets a fresh
simulator (its own app and state); only the socket and the serving thread outlive it. A request arriving between
tests is answered 503. The fixtures' tests stop their workers before the fixture ends, so no client of an earlier
test is left to call a later test's simulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.types import ASGIApp

from mendflow.runtime.loopback import LoopbackServer, serve_in_thread


class Switchboard:
    """An ASGI app that hands each request to the app plugged in now."""

    def __init__(self) -> None:
        self._app: ASGIApp | None = None
        self.server: LoopbackServer | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        app = self._app
        if app is None:
            if scope["type"] == "http":
                await send({"type": "http.response.start", "status": 503, "headers": []})
                await send({"type": "http.response.body", "body": b"no simulator plugged in"})
            return
        await app(scope, receive, send)

    @contextmanager
    def plugged(self, app: ASGIApp) -> Iterator[LoopbackServer]:
        """Serve `app` until the block exits; yields where it listens (the same place for every test)."""
        assert self.server is not None, "the switchboard is not serving"
        assert self._app is None, "another simulator is still plugged in"
        self._app = app
        try:
            yield self.server
        finally:
            self._app = None


@contextmanager
def serving_switchboard() -> Iterator[Switchboard]:
    """A switchboard on a free loopback port, served from a background thread until the block exits."""
    board = Switchboard()
    with serve_in_thread(board) as server:
        board.server = server
        yield board
