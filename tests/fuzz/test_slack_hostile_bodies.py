"""POST /slack/interactivity with hostile bytes: a 4xx, one log line and one audit record each, never a 500."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from mendflow.api.app import create_api_app
from mendflow.audit import AuditLog
from mendflow.integrations.slack import SlackCards, SlackDirectory
from mendflow.sim.slack import SlackWorkspace
from tests.integrations.conftest import (  # noqa: F401  (fixtures shared with the integration tests)
    ALICE,
    Gate,
    audit,
    cards,
    directory,
    gate,
    sample_card,
    serve_here,
    slack,
)


@dataclass
class Endpoint:
    url: str
    app: Any
    slack: SlackWorkspace
    audit: AuditLog

    def refusals(self) -> int:
        return sum(1 for r in self.audit.records() if r["outcome"] == "refused")


@pytest.fixture
async def endpoint(
    slack: SlackWorkspace,  # noqa: F811
    cards: SlackCards,  # noqa: F811
    directory: SlackDirectory,  # noqa: F811
    audit: AuditLog,  # noqa: F811
    gate: Gate,  # noqa: F811
) -> AsyncIterator[Endpoint]:
    """The API app in the test's loop, wired to the Slack simulator, with a card for camp-1 posted."""
    app = create_api_app(
        slack_signing_secret=slack.signing_secret, decide=gate, directory=directory, audit=audit, cards=cards
    )
    async with serve_here(app) as server:
        slack.interactivity_url = f"{server.base_url}/slack/interactivity"
        await cards.post("#sec-remediation", sample_card())
        yield Endpoint(slack.interactivity_url, app, slack, audit)
        await app.state.slack.drain()


def byte_signature(secret: str, body: bytes, timestamp: str) -> str:
    """Slack's v0 signature computed over raw bytes (what an attacker holding no secret cannot do)."""
    mac = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return "v0=" + mac.hexdigest()


def hostile_requests(secret: str) -> list[tuple[str, bytes, dict[str, Any], int]]:
    now = str(int(time.time()))
    form = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": now}
    latin = b"payload=%7B%22type%22%3A%22block_actions%22%7D\xff\xfe\xe9"
    return [
        ("non-UTF-8, unsigned", latin, {**form, "X-Slack-Signature": "v0=00"}, 400),
        ("non-UTF-8, signed", latin, {**form, "X-Slack-Signature": byte_signature(secret, latin, now)}, 400),
        ("binary", bytes(range(256)) * 8, {**form, "X-Slack-Signature": "v0=00"}, 400),
        ("empty", b"", {**form, "X-Slack-Signature": "v0=00"}, 400),
        ("oversized", b"payload=" + b"A" * (2 << 20), {**form, "X-Slack-Signature": "v0=00"}, 413),
        ("non-ASCII signature", b"payload=%7B%7D", {**form, "X-Slack-Signature": "v0=é".encode("latin-1")}, 401),
        ("non-ASCII timestamp", b"payload=%7B%7D", {**form, "X-Slack-Request-Timestamp": "١٢".encode()}, 401),
    ]  # fmt: skip


async def test_hostile_bodies_get_4xx_one_log_line_and_one_audit_record_each(
    endpoint: Endpoint, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each hostile body is refused with its 4xx, logged once, audited once; no 500, no traceback."""
    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient(timeout=10) as client:
        for name, body, headers, status in hostile_requests(endpoint.slack.signing_secret):
            before, records_before = endpoint.refusals(), len(caplog.records)
            capsys.readouterr()
            response = await client.post(endpoint.url, content=body, headers=headers)
            assert response.status_code == status, (name, response.status_code, response.text)
            assert endpoint.refusals() == before + 1, name
            logged = capsys.readouterr()
            lines = (logged.out + logged.err).splitlines()
            assert len([line for line in lines if "slack request refused" in line]) == 1, (name, lines)
            assert "Traceback" not in logged.out + logged.err, name
            new = caplog.records[records_before:]
            assert not [r for r in new if r.exc_info or r.levelno >= logging.ERROR], (name, new)
    # The endpoint still works for Slack afterwards.
    good = await endpoint.slack.click(user=ALICE, campaign_id="camp-1")
    assert isinstance(good, httpx.Response) and good.status_code == 200


async def test_truncated_body_leaves_the_endpoint_serving(endpoint: Endpoint, caplog: pytest.LogCaptureFixture) -> None:
    """A client that promises 4 KiB and hangs up after 10 bytes causes no error; the next request works."""
    url = urlparse(endpoint.url)
    assert url.hostname is not None and url.port is not None
    _reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: 4096\r\nX-Slack-Signature: v0=00\r\nX-Slack-Request-Timestamp: 1\r\n\r\npayload=%7".encode()
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.2)
    good = await endpoint.slack.click(user=ALICE, campaign_id="camp-1")
    assert isinstance(good, httpx.Response) and good.status_code == 200
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], caplog.records
