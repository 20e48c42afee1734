"""The socket layer under every vendor client: httpx's API over aiohttp's connection handling.

httpx stays the client connectors program against (requests, responses, errors: `VendorHttp` catches httpx's
timeout and transport errors); `httpx-aiohttp` swaps only what moves bytes. On loopback it costs 0.45-0.6 ms of CPU
per request where httpx's own pool costs 1.0-1.7 ms (httpcore checks every pooled connection's socket before each
request), and a campaign target takes three requests: in a worker that is most of what a target costs.

The session verifies TLS with mendflow's one context, holds at most `max_connections` sockets (the tenant's
concurrency) and goes through the proxy the environment names for the vendor's host (`HTTPS_PROXY`, `NO_PROXY`
…), looked up once per session: aiohttp's own `trust_env` looks it up for every request, in a thread. What the
adapter does not translate into httpx's errors (a malformed answer, a timeout of its own) is caught as a
transport error too (`TRANSPORT_ERRORS`): the HTTP layer retries it like a dropped connection.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

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
        return aiohttp.ClientSession(connector=connector, trust_env=False)

    proxy = environment_proxy(base_url)
    return AiohttpTransport(verify=tls, client=session, proxy=httpx.Proxy(proxy) if proxy else None)


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (`<scheme>_proxy`, `all_proxy`; None where `no_proxy` exempts
    its host, or none is set), as httpx and curl read it."""
    target = httpx.URL(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(target.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(target.host):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"  # `proxy:3128` means http, as curl reads it
