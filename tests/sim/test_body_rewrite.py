"""The simulators' one body rewriter (`sim.common.rewrite_body`) as both middlewares use it, over loopback: a
streamed body is edited whole, its content-length matches, and answers it does not want stream through as sent."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from mendflow.runtime.loopback import serve_in_thread
from mendflow.sim.common import FaultInjector, FaultPlan
from mendflow.sim.own_origin import OwnOrigin

ORIGIN = "https://vendor.example"


async def _streamed(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:  # the origin split across two chunks
        yield b'{"url": "https://ven'
        yield b'dor.example/a", "n": 1234}'

    return StreamingResponse(chunks(), media_type="application/json")


async def _text(request: Request) -> Response:
    return PlainTextResponse(f"see {ORIGIN}/a")


def _app(*middleware: Middleware) -> Starlette:
    return Starlette(routes=[Route("/json", _streamed), Route("/text", _text)], middleware=list(middleware))


def test_own_origin_rewrites_a_streamed_json_body_whole_and_leaves_other_answers() -> None:
    """The origin split across chunks is still replaced by the request's base, with a matching content-length;
    a text answer keeps the vendor's origin."""
    with serve_in_thread(_app(Middleware(OwnOrigin, origins=(ORIGIN,)))) as server:
        json_answer = httpx.get(server.base_url + "/json", timeout=10)
        text_answer = httpx.get(server.base_url + "/text", timeout=10)
    assert json_answer.json() == {"url": f"{server.base_url}/a", "n": 1234}
    assert json_answer.headers["content-length"] == str(len(json_answer.content))
    assert text_answer.text == f"see {ORIGIN}/a"


def test_a_truncation_fault_halves_the_whole_streamed_body_and_counts_it() -> None:
    """With every answer truncated, the client gets the first half of the whole body (framing valid, JSON not)."""
    stats: Counter[str] = Counter()
    plan = FaultPlan(truncate_rate=1.0)
    app = _app(Middleware(FaultInjector, plan=plan, error=lambda status: Response(status_code=status), stats=stats))
    whole = b'{"url": "https://vendor.example/a", "n": 1234}'
    with serve_in_thread(app) as server:
        answer = httpx.get(server.base_url + "/json", timeout=10)
    assert answer.content == whole[: len(whole) // 2] and answer.headers["content-length"] == str(len(whole) // 2)
    assert stats["truncated"] == 1
