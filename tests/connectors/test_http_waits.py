"""The HTTP layer's waits call back whoever waits (activities heartbeat from it) without knowing Temporal."""

from __future__ import annotations

import asyncio

import httpx

from mendflow.connectors.http import (
    GITHUB_LIMITS,
    WORST_REQUEST_SECONDS,
    RetryPolicy,
    VendorHttp,
    heartbeat_while_waiting,
    worst_case_seconds,
)


def _limited_once() -> httpx.MockTransport:
    calls = {"n": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(429, headers={"retry-after": "3"}, json={"message": "secondary rate limit"})
        return httpx.Response(200, json={"ok": True})

    return httpx.MockTransport(answer)


async def _get(beats: list[float] | None) -> list[float]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    http = VendorHttp(
        base_url="https://api.example", auth_header="Bearer t", vendor="GitHub", sleep=sleep, transport=_limited_once()
    )
    async with http:
        if beats is None:
            assert await http.get_json("/x") == {"ok": True}
        else:
            with heartbeat_while_waiting(beats.append):
                assert await http.get_json("/x") == {"ok": True}
    return slept


async def test_a_rate_limit_wait_calls_the_waiter_every_tick_until_it_ends() -> None:
    """A 3 s vendor window with a waiter: three 1 s slices, a call before each and one at the end."""
    beats: list[float] = []
    slept = await _get(beats)
    assert slept == [1.0, 1.0, 1.0]
    assert beats == [3.0, 2.0, 1.0, 0.0]


async def test_without_a_waiter_the_wait_is_one_sleep() -> None:
    """Outside an activity nothing changes: one sleep for the whole window."""
    assert await _get(None) == [3.0]


async def test_a_slow_answer_calls_the_waiter_while_it_is_awaited() -> None:
    """A vendor that takes 0.25 s to answer, ticks of 0.05 s: the waiter hears from us meanwhile."""

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.25)
        return httpx.Response(200, json=[])

    beats: list[float] = []
    http = VendorHttp(
        base_url="https://api.example",
        auth_header="Bearer t",
        vendor="GitHub",
        wait_tick=0.05,
        transport=httpx.MockTransport(slow),
    )
    async with http:
        with heartbeat_while_waiting(beats.append):
            assert await http.get_json("/slow") == []
    assert len(beats) >= 3


def test_the_worst_case_of_one_request_counts_every_wait_and_retry() -> None:
    """8 rate-limit waits of 900 s plus 6 attempts of 30 s with 5 s backoff: 7,410 s."""
    assert worst_case_seconds(GITHUB_LIMITS, RetryPolicy(), 30.0) == 8 * 900 + 6 * 35 == WORST_REQUEST_SECONDS
