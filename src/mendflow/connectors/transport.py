"""The socket layer under every vendor client: httpx's API over aiohttp's connection handling.

httpx stays the client connectors program against (requests, responses, errors: `VendorHttp` catches httpx's
timeout and transport errors); aiohttp only moves bytes (`AiohttpAnswers`, sending what `httpx-aiohttp`'s adapter
sends, with its error translation). On loopback it costs 0.45-0.6 ms of CPU
per request where httpx's own pool costs 1.0-1.7 ms (httpcore checks every pooled connection's socket before each
request), and a campaign target takes three requests: in a worker that is most of what a target costs.

The session verifies TLS with mendflow's one context, holds at most `max_connections` sockets (the tenant's
concurrency) and goes through the proxy the environment names for the vendor's host (`HTTPS_PROXY`, `NO_PROXY`
…), looked up once per session: aiohttp's own `trust_env` looks it up for every request, in a thread. What the
adapter does not translate into httpx's errors (a malformed answer, a timeout of its own) is caught as a
transport error too (`TRANSPORT_ERRORS`): the HTTP layer retries it like a dropped connection.

`Exchange` sends each request straight to that transport, without `httpx.AsyncClient`: its client layer (URL
merging and parsing, cookie jar, auth and redirect wrappers) cost more CPU per request than the transport itself.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import urllib.request
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp.transport import map_aiohttp_exceptions

TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    httpx.TimeoutException,
    httpx.TransportError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
)
"""Errors of an exchange that got no usable answer: worth asking again (httpx's, and aiohttp's the adapter lets
through)."""
KEEPALIVE_SECONDS = 5.0
"""How long an idle connection is kept for the next request (httpx's default)."""


def vendor_transport(base_url: str, tls: ssl.SSLContext, *, max_connections: int) -> httpx.AsyncBaseTransport:
    """A transport for one `VendorHttp` session; its aiohttp session is made on first use (inside the loop)."""

    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(ssl=tls, limit=max_connections, keepalive_timeout=KEEPALIVE_SECONDS)
        # No cookie jar: vendor APIs authenticate each request; a session cookie sent back would only add state.
        return aiohttp.ClientSession(connector=connector, trust_env=False, cookie_jar=aiohttp.DummyCookieJar())

    proxy = environment_proxy(base_url)
    return AiohttpAnswers(session, proxy=httpx.Proxy(proxy) if proxy else None)


class AiohttpAnswers(httpx.AsyncBaseTransport):
    """httpx's transport interface over an aiohttp session, answering with the whole body read.

    What `httpx_aiohttp.AiohttpTransport` sends, the same way (headers as httpx holds them, no redirects, no
    decompression: httpx decodes), with its translation of aiohttp's errors into httpx's; but the body is read
    in one call inside the exchange, where the adapter handed httpx a stream that `aread` pulled through four
    layers of async iterators, and the proxy and timeouts are converted once rather than on every request.
    """

    def __init__(self, session: Callable[[], aiohttp.ClientSession], *, proxy: httpx.Proxy | None) -> None:
        self._make_session = session
        self._session: aiohttp.ClientSession | None = None
        self._proxy = str(proxy.url) if proxy else None
        self._proxy_auth = aiohttp.BasicAuth(*proxy.auth) if proxy and proxy.auth else None
        self._proxy_headers = proxy.headers.multi_items() if proxy else None
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    def _timeout(self, timeout: dict[str, float | None]) -> aiohttp.ClientTimeout:
        key = (timeout.get("connect"), timeout.get("read"), timeout.get("pool"))
        found = self._timeouts.get(key)
        if found is None:
            found = self._timeouts[key] = aiohttp.ClientTimeout(sock_connect=key[0], sock_read=key[1], connect=key[2])
        return found

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._session is None:
            self._session = self._make_session()
        with map_aiohttp_exceptions():
            async with self._session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=request.content or None,  # `VendorHttp` sends JSON bodies, read when the request is built
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=self._timeout(request.extensions.get("timeout", {})),
                server_hostname=request.extensions.get("sni_hostname"),
                proxy=self._proxy,
                proxy_auth=self._proxy_auth,
                proxy_headers=self._proxy_headers,
            ) as answer:
                body = await answer.read()
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if answer.reason:
            extensions["reason_phrase"] = answer.reason.encode()
        return httpx.Response(
            answer.status,
            headers=answer.raw_headers,
            stream=httpx.ByteStream(body),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (`<scheme>_proxy`, `all_proxy`; None where `no_proxy` exempts
    its host, or none is set), as httpx and curl read it."""
    target = httpx.URL(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(target.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(target.host):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"  # `proxy:3128` means http, as curl reads it


class Exchange:
    """One session's requests, sent straight through its transport: httpx's `Request` and `Response` (what
    connectors and the HTTP layer read, and httpx's errors, which it catches) without httpx's client layer, which
    on every request merged the URL into the base URL (parsing both), merged headers, cookies and query
    parameters, ran the auth and redirect loops and copied each answer's cookies into a jar nobody reads.

    What the client did that matters is done here once: the base URL with its trailing slash (a path is appended
    to it, as `AsyncClient(base_url=…)` does), the default headers (httpx's own, then the session's), the timeout.
    Redirects are not followed, as before (`follow_redirects=False`); the body is read before returning.
    """

    def __init__(
        self, *, base_url: str, headers: dict[str, str], timeout: float, transport: httpx.AsyncBaseTransport
    ) -> None:
        self.transport = transport
        base = str(httpx.URL(base_url))
        self._prefix = base if base.endswith("/") else base + "/"
        self._headers = httpx.Headers(_HTTPX_DEFAULTS)
        self._headers.update(headers)
        self._extensions: dict[str, Any] = {"timeout": httpx.Timeout(timeout).as_dict()}

    def url(self, path: str, params: dict[str, Any] | None = None) -> httpx.URL:
        """`path` under the base URL (an absolute URL, a pagination link, as it is); `params` replace its query."""
        full = path if path.startswith(("https://", "http://")) else self._prefix + path.lstrip("/")
        return httpx.URL(full, params=params) if params else _parsed(full)

    async def send(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
        authorization: str | None = None,
    ) -> httpx.Response:  # fmt: skip
        """One exchange, its body read; `authorization` replaces the session's `Authorization` header."""
        headers = self._headers
        if authorization is not None:
            headers = headers.copy()
            headers["Authorization"] = authorization
        request = httpx.Request(method, self.url(path, params), headers=headers, json=json, extensions=self._extensions)
        response = await self.transport.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        except BaseException:
            await response.aclose()
            raise
        return response


_parsed = functools.lru_cache(maxsize=1024)(httpx.URL)
"""URLs parsed lately (httpx's parser is pure Python, ~13 µs a URL): a change reads, writes and verifies the same
URL, its capture and its write in two activities of this process. `httpx.URL` is immutable, so one is shared."""

_HTTPX_DEFAULTS = {
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
    "User-Agent": f"python-httpx/{httpx.__version__}",
}
"""The headers `httpx.AsyncClient` sends unless told otherwise (GitHub refuses a request without a User-Agent);
the session's own override them."""
