"""Socket Mode: clicks arrive as `interactive` envelopes over a WebSocket and reach the same handler as HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from mendflow.api.slack_interactivity import SlackInteractions
from mendflow.audit import AuditLog
from mendflow.integrations.slack import SlackAuthError, SlackCards, SlackDirectory
from mendflow.integrations.slack_socket import SlackSocketMode
from mendflow.models import Channel, Verdict
from mendflow.sim.slack import SlackWorkspace

from .conftest import ALICE, MALLORY, Gate, sample_card


def _interactions(gate: Gate, directory: SlackDirectory, audit: AuditLog, cards: SlackCards) -> SlackInteractions:
    return SlackInteractions(decide=gate, directory=directory, audit=audit, cards=cards)


async def _until(condition: Callable[[], object], seconds: float = 10.0) -> None:
    """Poll: the condition changes in the simulator's thread, where no asyncio.Event of ours can be set."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_socket_mode_click_is_acked_and_routed_to_decide(
    slack: SlackWorkspace, cards: SlackCards, directory: SlackDirectory, audit: AuditLog, gate: Gate
) -> None:
    """An Approve click pushed over Socket Mode is acknowledged by envelope id and becomes a Slack decision."""
    interactions = _interactions(gate, directory, audit, cards)
    await cards.post("#sec-remediation", sample_card())
    async with SlackSocketMode(
        app_token=slack.app_token, interactions=interactions, base_url=slack.base_url + "/api/"
    ) as socket_mode:
        await _until(lambda: slack.sockets)
        envelope = await slack.click(user=ALICE, campaign_id="camp-1", via="socket")
        await _until(lambda: envelope in slack.acks and gate.decisions)
        await interactions.drain()
        assert socket_mode.acked == 1
    [(campaign, decision)] = gate.decisions
    assert campaign == "camp-1" and decision.approver == "alice" and decision.verdict is Verdict.approve
    assert decision.channel is Channel.slack
    assert audit.records()[-1]["details"]["transport"] == "socket"


async def test_socket_mode_refusal_is_told_and_audited(
    slack: SlackWorkspace, cards: SlackCards, directory: SlackDirectory, audit: AuditLog, gate: Gate
) -> None:
    """An unknown user clicking over Socket Mode is refused privately, exactly as over HTTP."""
    interactions = _interactions(gate, directory, audit, cards)
    await cards.post("#sec-remediation", sample_card())
    async with SlackSocketMode(app_token=slack.app_token, interactions=interactions, base_url=slack.base_url + "/api/"):
        await _until(lambda: slack.sockets)
        await slack.click(user=MALLORY, campaign_id="camp-1", via="socket")
        await _until(lambda: slack.private(MALLORY))
        await interactions.drain()
    assert gate.decisions == []
    assert "does not know Slack user" in slack.private(MALLORY)[0].text
    assert audit.records()[-1]["outcome"] == "refused"


async def test_malformed_envelope_payload_is_acked_and_audited(
    slack: SlackWorkspace, cards: SlackCards, directory: SlackDirectory, audit: AuditLog, gate: Gate
) -> None:
    """A broken payload over the socket is still acknowledged (or Slack would resend it) and audited as refused."""
    interactions = _interactions(gate, directory, audit, cards)
    async with SlackSocketMode(app_token=slack.app_token, interactions=interactions, base_url=slack.base_url + "/api/"):
        await _until(lambda: slack.sockets)
        envelope = await slack.push("interactive", {"type": "block_actions", "user": {"id": ALICE}})
        await _until(lambda: envelope in slack.acks and audit.records())
    assert "malformed payload" in audit.records()[-1]["reason"]
    assert audit.records()[-1]["details"]["transport"] == "socket"


async def test_wrong_app_token_is_one_clear_error(
    slack: SlackWorkspace, cards: SlackCards, directory: SlackDirectory, audit: AuditLog, gate: Gate
) -> None:
    """A bot token where the app token belongs fails at start with SlackAuthError, not an endless reconnect loop."""
    socket_mode = SlackSocketMode(
        app_token=slack.bot_token,
        token_ref="env:SLACK_APP_TOKEN",
        interactions=_interactions(gate, directory, audit, cards),
        base_url=slack.base_url + "/api/",
    )
    with pytest.raises(SlackAuthError, match=r"env:SLACK_APP_TOKEN.*not_allowed_token_type"):
        await socket_mode.start()
    await socket_mode.close()
    assert sum(1 for m, _ in slack.calls if m == "apps.connections.open") == 1
