"""Connecting to a Temporal frontend that is still starting: asked again until it is ready (a dev server whose
port had just opened answered "Frontend is not healthy yet", and the benchmark or command failed at once)."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import Client

from mendflow.errors import ConnectionProblem
from mendflow.runtime import client as temporal_client
from mendflow.runtime.client import TemporalSettings, connect

STARTING = (
    "Failed client connect: `get_system_info` call error after connection: Status { code: Unavailable, message: "
    '"Frontend is not healthy yet" }'
)


def _answers(monkeypatch: pytest.MonkeyPatch, *answers: BaseException | str) -> list[str]:
    """The SDK's `Client.connect` answers these in turn (an exception is raised); returns the addresses asked."""
    asked: list[str] = []
    queue = list(answers)

    async def fake_connect(address: str, **_: Any) -> Any:
        asked.append(address)
        answer = queue.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    monkeypatch.setattr(Client, "connect", staticmethod(fake_connect))
    return asked


async def test_a_frontend_still_starting_is_asked_again_until_it_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _answers(monkeypatch, RuntimeError(STARTING), RuntimeError(STARTING), "client")
    assert await connect(TemporalSettings(address="127.0.0.1:1")) == "client"
    assert asked == ["127.0.0.1:1"] * 3


async def test_an_unreachable_server_fails_at_once_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _answers(monkeypatch, RuntimeError("Failed client connect: connection refused\nmore detail"))
    with pytest.raises(ConnectionProblem, match=r"cannot reach Temporal at 127\.0\.0\.1:1 .*connection refused;"):
        await connect(TemporalSettings(address="127.0.0.1:1"))
    assert len(asked) == 1


async def test_a_frontend_that_never_becomes_ready_fails_after_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(temporal_client, "STARTUP_WAIT", 0.5)
    asked = _answers(monkeypatch, *[RuntimeError(STARTING)] * 20)
    with pytest.raises(ConnectionProblem, match="not healthy yet"):
        await connect(TemporalSettings(address="127.0.0.1:1"))
    assert 2 <= len(asked) < 20
