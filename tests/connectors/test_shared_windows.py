"""The HTTP layer's seam for windows shared with other workers: every request is taken from the shared window
first (waiting, heartbeating, while it says to), and every answer reports what it said about the window."""

from __future__ import annotations

import httpx

from mendflow.connectors.http import VendorHttp, heartbeat_while_waiting, sharing_windows


class Recorder:
    """A SharedWindows that makes the first take wait 2.5 s and records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.waits = [2.5]

    async def take(self, bucket: str) -> float:
        self.calls.append(("take", bucket))
        return self.waits.pop(0) if self.waits else 0.0

    async def report(self, bucket: str, *, limit: int, remaining: int, reset: float) -> None:
        self.calls.append(("report", bucket, str(limit), str(remaining), str(int(reset))))

    async def unmetered(self, bucket: str) -> None:
        self.calls.append(("unmetered", bucket))

    async def unanswered(self, bucket: str) -> None:
        self.calls.append(("unanswered", bucket))


def _vendor(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/plain":
        return httpx.Response(200, json={})
    headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999", "x-ratelimit-reset": "1800000000"}
    return httpx.Response(200, headers=headers, json={})


async def test_requests_wait_for_the_shared_window_and_report_what_the_vendor_said() -> None:
    """The first request waits the 2.5 s the shared window asks (heartbeating each second), then both report."""
    slept: list[float] = []
    beats: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    windows = Recorder()
    http = VendorHttp(
        base_url="https://api.example", auth_header="Bearer t", vendor="GitHub", sleep=sleep,
        transport=httpx.MockTransport(_vendor),
    )  # fmt: skip
    async with http:
        with sharing_windows(windows), heartbeat_while_waiting(beats.append):
            await http.get_json("/repos/acme/api")
            await http.get_json("/plain")
        await http.get_json("/repos/acme/web")  # outside the block: this process's own view only
    assert windows.calls == [
        ("take", "core"),
        ("take", "core"),
        ("report", "core", "5000", "4999", "1800000000"),
        ("take", "core"),
        ("unmetered", "core"),
    ]
    assert slept == [1.0, 1.0, 0.5] and beats[:3] == [2.5, 1.5, 0.5]


async def test_a_request_without_answer_says_so_before_its_retry() -> None:
    """A dropped connection reports `unanswered` (the shared window may let the retry probe at once), then retries."""
    answers = iter([httpx.ConnectError("refused"), httpx.Response(200, json={})])

    def flaky(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def sleep(seconds: float) -> None:
        return None

    windows = Recorder()
    windows.waits = []
    http = VendorHttp(
        base_url="https://api.example", auth_header="Bearer t", vendor="GitHub", sleep=sleep,
        transport=httpx.MockTransport(flaky),
    )  # fmt: skip
    async with http:
        with sharing_windows(windows):
            await http.get_json("/plain")
    assert windows.calls == [("take", "core"), ("unanswered", "core"), ("take", "core"), ("unmetered", "core")]
