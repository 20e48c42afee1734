"""The vendor clients' socket layer (httpx over aiohttp): what `VendorHttp` relies on still holds — an unverified
certificate is never accepted, a silent server is a timeout, a dropped connection is retried and then named, and
connections are reused — over real sockets on loopback."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import httpx
import pytest
from httpx_aiohttp import AiohttpTransport

from mendflow.connectors.http import RetryPolicy, VendorHttp
from mendflow.connectors.transport import AiohttpAnswers, environment_proxy
from mendflow.errors import ConnectionProblem
from tests.auth.test_api_tls import self_signed

QUICK = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.01)
BODY = b'{"ok": true}'
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serving(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[tuple[int, list[str]]]:
    """A raw server on loopback; yields its port and the peers (one entry per accepted connection)."""
    peers: list[str] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(str(writer.get_extra_info("peername")))
        try:
            if tls is not None:  # after the TCP accept, so a failed handshake still counts as a connection
                await writer.start_tls(tls)
            await handler(reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], peers


async def answer_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer every request of a kept-alive connection with a small JSON body."""
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        if not head:
            return
        writer.write(ANSWER)
        await writer.drain()


def client(base_url: str, **extra: object) -> VendorHttp:
    return VendorHttp(base_url=base_url, auth_header="token t", vendor="Example", retries=QUICK, **extra)  # type: ignore[arg-type]


async def test_a_self_signed_certificate_is_refused(tmp_path: Path) -> None:
    """TLS is verified with mendflow's context: a server whose certificate no CA vouches for never gets a request."""
    cert, key = self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    requests: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))

    async with serving(record, tls) as (port, peers), client(f"https://127.0.0.1:{port}") as http:
        with pytest.raises(ConnectionProblem, match="did not answer GET /x"):
            await http.get_json("/x")
    assert peers and not requests  # connections were made, the handshake failed, nothing was sent


async def test_a_server_that_never_answers_is_a_timeout_named_in_the_error() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(5)

    async with serving(silent) as (port, peers), client(f"http://127.0.0.1:{port}", timeout=0.2) as http:
        with pytest.raises(ConnectionProblem, match=r"did not answer GET /slow \(ReadTimeout\)"):
            await http.get_json("/slow")
    assert len(peers) == QUICK.attempts  # each attempt asked again


async def test_a_dropped_connection_is_retried_and_then_answered() -> None:
    """The first connection is closed without an answer (a transport error): the retry gets the answer."""
    calls = 0

    async def drop_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await reader.readuntil(b"\r\n\r\n")
            return  # closed without a word
        await answer_each(reader, writer)

    async with serving(drop_first) as (port, _), client(f"http://127.0.0.1:{port}") as http:
        assert await http.get_json("/flaky") == {"ok": True}
    assert calls == 2


async def test_connections_are_kept_alive_and_capped_by_the_concurrency() -> None:
    """Many requests on a session reuse a handful of sockets, never more than `max_concurrency` of them."""
    async with serving(answer_each) as (port, peers), client(f"http://127.0.0.1:{port}", max_concurrency=3) as http:
        answers = await asyncio.gather(*(http.get_json(f"/r/{i}") for i in range(60)))
    assert answers == [{"ok": True}] * 60
    assert 1 <= len(peers) <= 3


async def test_requests_go_through_the_proxy_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """`HTTP_PROXY` is honoured (the proxy receives the absolute URL), and `NO_PROXY` exempts a host."""
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            seen.append((await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")[0])
            writer.write(ANSWER)
            await writer.drain()

    async with serving(proxy) as (port, _):
        for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{port}")
        assert environment_proxy("http://vendor.example:8080/api") == f"http://127.0.0.1:{port}"
        async with client("http://vendor.example:8080") as http:
            assert await http.get_json("/api/v1/users") == {"ok": True}
        assert seen == [b"GET http://vendor.example:8080/api/v1/users HTTP/1.1"]
        monkeypatch.setenv("no_proxy", "vendor.example")
        assert environment_proxy("http://vendor.example:8080/api") is None
        assert environment_proxy("http://other.example/api") == f"http://127.0.0.1:{port}"


async def test_a_malformed_answer_is_retried_and_then_named_never_a_raw_aiohttp_error() -> None:
    """An answer that is not HTTP (aiohttp's own parser error, which the adapter does not translate) counts as no
    answer: asked again, then a ConnectionProblem naming the request."""

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()

    async with serving(garbage) as (port, peers), client(f"http://127.0.0.1:{port}") as http:
        with pytest.raises(ConnectionProblem, match="did not answer GET /broken"):
            await http.get_json("/broken")
    assert len(peers) == QUICK.attempts


def test_a_proxy_named_without_a_scheme_is_http(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("https_proxy", "proxy.internal:3128")
    assert environment_proxy("https://api.github.com") == "http://proxy.internal:3128"


async def test_the_wire_and_the_answer_are_the_httpx_aiohttp_adapters() -> None:
    """`AiohttpAnswers` sends the bytes `httpx_aiohttp.AiohttpTransport` sends for the same request (a JSON PATCH
    with the session's headers) and answers alike: status, headers, a gzip body decoded by httpx."""
    body = gzip.compress(b'{"insecure_ssl": "0"}')
    answer = (
        b"HTTP/1.1 201 Created\r\nContent-Encoding: gzip\r\nX-RateLimit-Remaining: 9\r\nContent-Length: %d\r\n\r\n%s"
    )
    heads: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1])
            heads.append(head + await reader.readexactly(length))
            writer.write(answer % (len(body), body))
            await writer.drain()

    def request(port: int) -> httpx.Request:
        headers = {"Accept": "application/json", "Authorization": "token t", "User-Agent": "ua"}
        return httpx.Request(
            "PATCH", f"http://127.0.0.1:{port}/repos/a/b/hooks/1/config", headers=headers, json={"insecure_ssl": "0"},
            extensions={"timeout": httpx.Timeout(5.0).as_dict()},
        )  # fmt: skip

    answers = []
    async with serving(record) as (port, _):
        for transport in (
            AiohttpTransport(client=aiohttp.ClientSession),
            AiohttpAnswers(aiohttp.ClientSession, proxy=None),
        ):
            response = await transport.handle_async_request(request(port))
            await response.aread()
            answers.append(
                (response.status_code, response.reason_phrase, response.headers.multi_items(), response.json())
            )
            await transport.aclose()
    assert heads[0] == heads[1]
    assert (
        heads[0].startswith(b"PATCH /repos/a/b/hooks/1/config HTTP/1.1\r\n") and b"authorization: token t" in heads[0]
    )
    assert answers[0] == answers[1]
    assert answers[0][0] == 201 and answers[0][3] == {"insecure_ssl": "0"}


async def test_a_cookie_the_vendor_sets_is_never_sent_back() -> None:
    """Over real sockets, neither httpx nor aiohttp keeps a `Set-Cookie`: every request stands on its credentials."""
    heads: list[bytes] = []
    cookie = b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=s3cr3t; Path=/\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)

    async def set_cookie(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            heads.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(cookie)
            await writer.drain()

    async with serving(set_cookie) as (port, _), client(f"http://localhost:{port}") as http:  # an IP keeps no cookie
        for _ in range(2):
            assert await http.get_json("/session") == {"ok": True}
    assert len(heads) == 2 and not any(b"cookie" in head.lower() for head in heads)
