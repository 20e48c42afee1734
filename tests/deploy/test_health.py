"""The worker's probe endpoint: liveness from its event loop, readiness from Temporal's health check."""

from __future__ import annotations

import asyncio

import httpx

from mendflow.runtime.health import health_server


async def _ready() -> bool:
    return True


async def _not_ready() -> bool:
    return False


async def _unreachable() -> bool:
    raise RuntimeError("Connection refused")


async def _hangs() -> bool:
    await asyncio.sleep(60)
    return True


async def test_liveness_answers_while_the_loop_turns_and_readiness_follows_temporal() -> None:
    """/healthz is 200; /readyz is 200 only when the Temporal check says healthy."""
    async with health_server(_ready, host="127.0.0.1", port=0) as port, httpx.AsyncClient() as http:
        base = f"http://127.0.0.1:{port}"
        assert (await http.get(f"{base}/healthz")).json() == {"ok": True}
        assert (await http.get(f"{base}/readyz")).status_code == 200
    async with health_server(_not_ready, host="127.0.0.1", port=0) as port, httpx.AsyncClient() as http:
        base = f"http://127.0.0.1:{port}"
        assert (await http.get(f"{base}/healthz")).status_code == 200
        assert (await http.get(f"{base}/readyz")).status_code == 503


async def test_a_failing_or_hanging_temporal_check_means_not_ready_not_a_crash() -> None:
    """An exception or a check slower than the timeout gives 503, and the endpoint keeps serving."""
    for check in (_unreachable, _hangs):
        async with health_server(check, host="127.0.0.1", port=0) as port, httpx.AsyncClient(timeout=10) as http:
            base = f"http://127.0.0.1:{port}"
            assert (await http.get(f"{base}/readyz")).status_code == 503
            assert (await http.get(f"{base}/healthz")).status_code == 200


async def test_other_paths_and_methods_are_refused() -> None:
    """Only GET/HEAD on the two probe paths are served."""
    async with health_server(_ready, host="127.0.0.1", port=0) as port, httpx.AsyncClient() as http:
        base = f"http://127.0.0.1:{port}"
        assert (await http.get(f"{base}/metrics")).status_code == 404
        assert (await http.post(f"{base}/healthz")).status_code == 405
        head = await http.head(f"{base}/healthz")
        assert head.status_code == 200 and head.content == b""
