"""openapi-core adapters over recorded HTTP exchanges, and an ASGI recorder that captures them.

Wrap a simulator app in `Recorder`, let the real client library talk to it, then validate every recorded
request and response against the vendor's description with `openapi.validate_request(SpecRequest(x))` and
`openapi.validate_response(SpecRequest(x), SpecResponse(x))`. Requests are re-addressed to the description's
server (`host_url`), so loopback URLs match the vendor's paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from openapi_core.datatypes import RequestParameters
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from werkzeug.datastructures import Headers, ImmutableMultiDict


@dataclass
class Exchange:
    """One request the app under test sent and the simulator's answer, as bytes on the wire."""

    method: str
    path: str
    query: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status}"


class Recorder:
    """ASGI middleware: records every HTTP exchange passing through (`exchanges`), changes nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.exchanges: list[Exchange] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        exchange = Exchange(scope["method"], scope["path"], scope["query_string"].decode(), headers, body)
        self.exchanges.append(exchange)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                exchange.response_headers = {
                    k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])
                }
            elif message["type"] == "http.response.body":
                exchange.response_body += message.get("body", b"")
            await send(message)

        await self.app(scope, replay, capture)


class SpecRequest:
    """openapi-core's Request protocol over a recorded exchange, addressed to the description's server."""

    def __init__(self, exchange: Exchange, *, host_url: str, method: str | None = None) -> None:
        self.host_url = host_url
        self.path = exchange.path
        self.method = (method or exchange.method).lower()
        self.body: bytes | None = exchange.request_body or None
        self.content_type = exchange.request_headers.get("content-type", "application/json").split(";")[0].strip()
        query: dict[str, Any] = parse_qs(exchange.query, keep_blank_values=True)
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(query),
            header=Headers(exchange.request_headers),
            cookie=ImmutableMultiDict(),
        )


class SpecResponse:
    """openapi-core's Response protocol over a recorded exchange (or a doctored body)."""

    def __init__(self, exchange: Exchange, data: bytes | None = None, *, status: int | None = None) -> None:
        self.status_code = exchange.status if status is None else status
        self.content_type = exchange.response_headers.get("content-type", "").split(";")[0].strip()
        self.headers = Headers(exchange.response_headers)
        self.data = exchange.response_body if data is None else data
