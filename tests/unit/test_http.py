"""The shared HTTP layer: pagination, rate limits, retries, and errors that never carry the token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from mendflow.connectors.http import RateLimitPolicy, VendorHttp, parse_link_header
from mendflow.errors import AuthError, ConnectionProblem, VendorError

TOKEN = "ghp_canaryTOKENcanaryTOKEN0123456789"


async def run_with(transport: httpx.MockTransport, sleeps: list[float], call: Callable[[VendorHttp], Awaitable[Any]]):
    """Run `call` on a VendorHttp routed through `transport`, recording sleeps instead of sleeping."""

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    http = VendorHttp(
        base_url="https://api.example",
        auth_header=f"Bearer {TOKEN}",
        vendor="GitHub",
        sleep=fake_sleep,
        transport=transport,
    )
    async with http:
        return await call(http), http


def test_link_header_is_parsed_like_rfc8288() -> None:
    """`Link` relations map to their URLs."""
    value = '<https://a/x?page=2>; rel="next", <https://a/x?page=5>; rel="last"'
    assert parse_link_header(value) == {"next": "https://a/x?page=2", "last": "https://a/x?page=5"}


async def test_paginate_follows_next_links_to_the_end() -> None:
    """Every item of every page is yielded once, in order."""
    pages = {
        "1": ([1, 2], '<https://api.example/items?page=2>; rel="next"'),
        "2": ([3], ""),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        items, link = pages[request.url.params.get("page", "1")]
        return httpx.Response(200, json=items, headers={"link": link} if link else {})

    async def collect(http: VendorHttp) -> list[int]:
        return [item async for item in http.paginate("/items")]

    items, http = await run_with(httpx.MockTransport(handler), [], collect)
    assert items == [1, 2, 3]
    assert http.requests_made == 2


async def test_pagination_never_follows_a_link_to_another_host() -> None:
    """A `next` link off the base URL is refused, so the token is not sent elsewhere."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[1], headers={"link": '<https://evil.example/x>; rel="next"'})

    async def collect(http: VendorHttp) -> list[int]:
        return [item async for item in http.paginate("/items")]

    with pytest.raises(VendorError, match="leaves the API base URL"):
        await run_with(httpx.MockTransport(handler), [], collect)


async def test_primary_rate_limit_waits_until_reset_then_succeeds() -> None:
    """403 with remaining 0 waits for x-ratelimit-reset, then retries."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            import time

            reset = str(int(time.time()) + 5)
            return httpx.Response(
                403,
                json={"message": "API rate limit exceeded"},
                headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
            )
        return httpx.Response(200, json={"ok": True})

    sleeps: list[float] = []
    body, _ = await run_with(httpx.MockTransport(handler), sleeps, lambda http: http.get_json("/x"))
    assert body == {"ok": True}
    assert len(sleeps) == 1 and 4.0 <= sleeps[0] <= 7.0


async def test_secondary_rate_limit_honours_retry_after() -> None:
    """A 429 with retry-after waits exactly that long."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(429, json={"message": "secondary rate limit"}, headers={"retry-after": "7"})
        return httpx.Response(200, json=[])

    sleeps: list[float] = []
    await run_with(httpx.MockTransport(handler), sleeps, lambda http: http.get_json("/x"))
    assert sleeps == [7.0]


def test_secondary_limit_without_headers_waits_at_least_a_minute() -> None:
    """GitHub's rule: no retry-after and remaining > 0 → wait at least 60 s."""
    response = httpx.Response(
        403, json={"message": "You have exceeded a secondary rate limit"}, headers={"x-ratelimit-remaining": "4000"}
    )
    assert RateLimitPolicy().wait_seconds(response, now=0) == 60.0


def test_plain_permission_denied_is_not_a_rate_limit() -> None:
    """A 403 that is not about rate limits is not retried as one."""
    response = httpx.Response(
        403, json={"message": "Must have admin rights"}, headers={"x-ratelimit-remaining": "4000"}
    )
    assert RateLimitPolicy().wait_seconds(response, now=0) is None


async def test_server_errors_are_retried_with_backoff() -> None:
    """5xx is retried; the call succeeds when the server recovers."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(502 if len(calls) < 3 else 200, json={"n": len(calls)})

    sleeps: list[float] = []
    body, _ = await run_with(httpx.MockTransport(handler), sleeps, lambda http: http.get_json("/x"))
    assert body == {"n": 3}
    assert len(sleeps) == 2


async def test_client_errors_are_not_retried_and_name_no_secret() -> None:
    """401 raises AuthError at once; its text has the path but never the token."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(401, json={"message": "Bad credentials"})

    with pytest.raises(AuthError) as caught:
        await run_with(httpx.MockTransport(handler), [], lambda http: http.get_json("/orgs/acme"))
    assert len(calls) == 1
    assert "/orgs/acme" in str(caught.value) and "Bad credentials" in str(caught.value)
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value.__dict__)


async def test_unreachable_host_is_a_one_line_connection_problem() -> None:
    """Connection errors are retried, then reported with what to check."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(ConnectionProblem, match="check the base URL") as caught:
        await run_with(httpx.MockTransport(handler), [], lambda http: http.get_json("/x"))
    assert "\n" not in str(caught.value)
