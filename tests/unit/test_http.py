"""The shared HTTP layer: pagination, rate limits, retries, and errors that never carry the token."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from mendflow.config import TenantConnection
from mendflow.connectors.http import (
    OKTA_LIMITS,
    RateLimitPolicy,
    RateState,
    RequestBudgetExceeded,
    VendorHttp,
    okta_bucket,
    parse_link_header,
)
from mendflow.errors import AuthError, ConnectionProblem, InputError, VendorError
from mendflow.secrets import SecretRef

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


# ---- Okta rate limits, pacing, budgets, concurrency caps, broken bodies -----------------------------------------
async def run_okta(
    transport: httpx.MockTransport, sleeps: list[float], call: Callable[[VendorHttp], Awaitable[Any]], **options: Any
) -> tuple[Any, VendorHttp]:
    """Like run_with, configured as the Okta connector configures the layer, on a fixed clock."""

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    http = VendorHttp(
        base_url="https://acme.okta.example",
        auth_header=f"SSWS {TOKEN}",
        vendor="Okta",
        rate_limits=OKTA_LIMITS,
        sleep=fake_sleep,
        clock=lambda: 1000.0,
        transport=transport,
        **options,
    )
    async with http:
        return await call(http), http


def _okta_headers(remaining: int, reset: int = 1010, limit: int = 600) -> dict[str, str]:
    return {
        "x-rate-limit-limit": str(limit),
        "x-rate-limit-remaining": str(remaining),
        "x-rate-limit-reset": str(reset),
    }


async def test_okta_429_waits_until_x_rate_limit_reset_then_succeeds() -> None:
    """Okta's 429 carries no Retry-After: the layer waits for X-Rate-Limit-Reset (plus a margin), then retries."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(429, json={"errorCode": "E0000047"}, headers=_okta_headers(0, reset=1005))
        return httpx.Response(200, json={"id": "00u1"}, headers=_okta_headers(599))

    sleeps: list[float] = []
    body, _ = await run_okta(httpx.MockTransport(handler), sleeps, lambda http: http.get_json("/api/v1/users/00u1"))
    assert body == {"id": "00u1"} and sleeps == [5.25]


def test_okta_concurrency_429_with_remaining_left_still_waits_for_the_reset() -> None:
    """A 429 for too many simultaneous requests (remaining > 0) also waits for the reset, not a blind minute."""
    response = httpx.Response(429, json={"errorCode": "E0000047"}, headers=_okta_headers(12, reset=1003))
    assert OKTA_LIMITS.wait_seconds(response, now=1000.0) == 3.25


def test_okta_403_is_a_permission_problem_not_a_rate_limit() -> None:
    """Only 429 is Okta's rate-limit signal; a 403 with a full bucket is raised as a permission error."""
    response = httpx.Response(403, json={"errorCode": "E0000006"}, headers=_okta_headers(500))
    assert OKTA_LIMITS.wait_seconds(response, now=1000.0) is None


def test_okta_endpoints_map_to_their_rate_limit_buckets() -> None:
    """Ids in paths collapse to `{id}`, so each Okta endpoint is paced on its own bucket."""
    assert okta_bucket("/api/v1/users/00u1ab/factors") == "/api/v1/users/{id}/factors"
    assert okta_bucket("/api/v1/users/00u1ab/lifecycle/suspend") == "/api/v1/users/{id}/lifecycle/suspend"
    assert okta_bucket("/api/v1/policies/00p9/rules/0pr2") == "/api/v1/policies/{id}/rules/{id}"
    assert okta_bucket("/api/v1/users?limit=200") == "/api/v1/users"


def test_pacing_slows_down_when_the_bucket_runs_low_before_its_reset() -> None:
    """Plenty left: no delay. Under 10% left: spread what remains over the time to reset. Nothing left: wait."""
    assert OKTA_LIMITS.pace_seconds(RateState(limit=600, remaining=300, reset=1030.0), now=1000.0) == 0.0
    assert OKTA_LIMITS.pace_seconds(RateState(limit=600, remaining=30, reset=1030.0), now=1000.0) == 1.0
    assert OKTA_LIMITS.pace_seconds(RateState(limit=600, remaining=0, reset=1030.0), now=1000.0) == 30.25
    assert OKTA_LIMITS.pace_seconds(RateState(limit=600, remaining=0, reset=990.0), now=1000.0) == 0.0


async def test_requests_are_paced_before_the_wall_is_hit() -> None:
    """Once the answers say the bucket is nearly empty, the next requests wait instead of drawing a 429."""
    remaining = iter([10, 2, 1, 0])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[], headers=_okta_headers(next(remaining), reset=1020, limit=100))

    async def four(http: VendorHttp) -> None:
        for _ in range(4):
            await http.get_json("/api/v1/groups")

    sleeps: list[float] = []
    _, http = await run_okta(httpx.MockTransport(handler), sleeps, four)
    assert sleeps and all(wait > 0 for wait in sleeps)
    assert http.paced_seconds == pytest.approx(sum(sleeps))


async def test_request_budget_is_enforced_and_named() -> None:
    """The request after the budget raises RequestBudgetExceeded naming the number; retries count too."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(502 if len(calls) == 1 else 200, json={})

    async def three(http: VendorHttp) -> None:
        for _ in range(3):
            await http.get_json("/api/v1/apps")

    with pytest.raises(RequestBudgetExceeded, match="request budget of 3 requests"):
        await run_okta(httpx.MockTransport(handler), [], three, request_budget=3)
    assert len(calls) == 3


def test_concurrency_above_the_vendor_ceiling_is_refused() -> None:
    """Okta allows 75 simultaneous requests, GitHub 100: a higher setting is an input error, in the layer and in
    the tenant config."""
    with pytest.raises(InputError, match="at most 75"):
        VendorHttp(base_url="https://x", auth_header="SSWS t", vendor="Okta", rate_limits=OKTA_LIMITS,
                   max_concurrency=76)  # fmt: skip
    VendorHttp(base_url="https://x", auth_header="Bearer t", vendor="GitHub", max_concurrency=100)
    with pytest.raises(ValidationError, match="exceeds okta's limit of 75"):
        TenantConnection(key="okta:a", provider="okta", tenant="a.okta.com", token=SecretRef(ref="env:X"),
                         max_concurrency=80)  # fmt: skip
    okta = TenantConnection(key="okta:a", provider="okta", tenant="a.okta.com", token=SecretRef(ref="env:X"))
    assert okta.base_url == "https://a.okta.com"


async def test_concurrency_cap_bounds_requests_in_flight() -> None:
    """No more than max_concurrency requests are ever in flight at once."""
    in_flight = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json={})

    async def many(http: VendorHttp) -> None:
        await asyncio.gather(*(http.get_json(f"/api/v1/users/{i}") for i in range(20)))

    await run_okta(httpx.MockTransport(handler), [], many, max_concurrency=3)
    assert peak == 3


async def test_truncated_json_body_is_retried_as_transient() -> None:
    """A 200 whose body is cut off is asked again; the second, whole answer is returned."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(200, content=b'[{"id": "00u1", "sta', headers={"content-type": "application/json"})
        return httpx.Response(200, json=[{"id": "00u1"}])

    sleeps: list[float] = []
    body, _ = await run_okta(httpx.MockTransport(handler), sleeps, lambda http: http.get_json("/api/v1/users"))
    assert body == [{"id": "00u1"}] and len(sleeps) == 1


async def test_persistently_broken_json_gives_up_with_a_clear_error() -> None:
    """A body that never parses fails after the retries, saying what was wrong."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"{not json", headers={"content-type": "application/json"})

    with pytest.raises(VendorError, match="not valid JSON"):
        await run_okta(httpx.MockTransport(handler), [], lambda http: http.get_json("/api/v1/users"))


async def test_okta_cursor_pagination_follows_next_links() -> None:
    """`limit` + `after` pages linked with rel="next" are read page by page to the end."""

    def handler(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("after")
        if after is None:
            link = '<https://acme.okta.example/api/v1/users?after=00u2&limit=2>; rel="next"'
            return httpx.Response(200, json=[{"id": "00u1"}, {"id": "00u2"}], headers={"link": link})
        return httpx.Response(200, json=[{"id": "00u3"}])

    async def pages(http: VendorHttp) -> list[list[Any]]:
        return [page async for page in http.pages("/api/v1/users", params={"limit": 2})]

    found, http = await run_okta(httpx.MockTransport(handler), [], pages)
    assert found == [[{"id": "00u1"}, {"id": "00u2"}], [{"id": "00u3"}]] and http.requests_made == 2
