"""POST /slack/interactivity: signatures, replays, payload validation, ack-first, refusals told and audited."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from mendflow.api.app import create_api_app
from mendflow.audit import AuditLog
from mendflow.integrations.slack import SlackCards, SlackDirectory
from mendflow.models import Channel, Verdict
from mendflow.sim.slack import SlackWorkspace

from .conftest import ALICE, BOB, CAROL, MALLORY, Gate, sample_card, serve_here


@dataclass
class Api:
    url: str
    app: Any
    slack: SlackWorkspace
    audit: AuditLog
    gate: Gate

    async def settle(self) -> None:
        await self.app.state.slack.drain()

    def refusals(self) -> list[dict[str, Any]]:
        return [r for r in self.audit.records() if r["outcome"] == "refused"]


@pytest.fixture
async def api(
    slack: SlackWorkspace, cards: SlackCards, directory: SlackDirectory, audit: AuditLog, gate: Gate
) -> AsyncIterator[Api]:
    """The API app served in the test's loop, wired to the Slack simulator; a card for camp-1 is posted."""
    app = create_api_app(
        slack_signing_secret=slack.signing_secret, decide=gate, directory=directory, audit=audit, cards=cards
    )
    async with serve_here(app) as server:
        slack.interactivity_url = f"{server.base_url}/slack/interactivity"
        await cards.post("#sec-remediation", sample_card())
        yield Api(slack.interactivity_url, app, slack, audit, gate)
        await app.state.slack.drain()


async def _raw_post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.post(url, content=body, headers=headers)


def _form(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


async def test_signed_click_becomes_a_decision(api: Api) -> None:
    """A correctly signed Approve click is acked with 200 and reaches `decide` as a Slack decision."""
    response = await api.slack.click(user=ALICE, campaign_id="camp-1")
    assert isinstance(response, httpx.Response) and response.status_code == 200
    await api.settle()
    [(campaign, decision)] = api.gate.decisions
    assert campaign == "camp-1"
    assert decision.approver == "alice" and decision.verdict is Verdict.approve
    assert decision.channel is Channel.slack and decision.channel_user == ALICE
    assert "secops-oncall" in decision.groups
    [record] = [r for r in api.audit.records() if r["kind"] == "slack.decision"]
    assert record["outcome"] == "accepted" and record["actor"] == "alice"
    assert record["details"]["groups"] == ["secops-oncall"] and record["details"]["verdict"] == "approve"
    assert "recorded" in api.slack.private(ALICE)[-1].text


async def test_bad_signature_is_refused_and_audited(api: Api) -> None:
    """A body signed with another secret gets 401; the refusal is audited; `decide` is never called."""
    body = _form(api.slack.build_click(user=ALICE, campaign_id="camp-1"))
    headers = api.slack.signed(body)
    headers["X-Slack-Signature"] = "v0=" + "0" * 64
    response = await _raw_post(api.url, body, headers)
    assert response.status_code == 401
    assert api.gate.decisions == []
    assert "signature does not match" in api.refusals()[-1]["reason"]


async def test_tampered_body_is_refused(api: Api) -> None:
    """Changing one byte of a signed body (approve → a different campaign) breaks the signature."""
    body = _form(api.slack.build_click(user=ALICE, campaign_id="camp-1"))
    headers = api.slack.signed(body)
    response = await _raw_post(api.url, body.replace(b"camp-1", b"camp-2"), headers)
    assert response.status_code == 401 and api.gate.decisions == []


async def test_missing_signature_is_refused(api: Api) -> None:
    """No X-Slack-Signature header: 401 and an audit record saying so."""
    body = _form(api.slack.build_click(user=ALICE, campaign_id="camp-1"))
    response = await _raw_post(api.url, body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 401
    assert "missing X-Slack-Signature" in api.refusals()[-1]["reason"]


async def test_stale_timestamp_is_refused(api: Api) -> None:
    """A request signed more than five minutes ago is refused even though the signature is right."""
    payload = api.slack.build_click(user=ALICE, campaign_id="camp-1")
    response = await api.slack.post_payload(payload, timestamp=int(time.time()) - 301)
    assert response.status_code == 401 and api.gate.decisions == []
    assert "stale timestamp" in api.refusals()[-1]["reason"]


async def test_replayed_request_is_refused(api: Api) -> None:
    """The same signed request sent twice within the window is handled once; the replay is refused and audited."""
    body = _form(api.slack.build_click(user=ALICE, campaign_id="camp-1"))
    headers = api.slack.signed(body)
    first = await _raw_post(api.url, body, headers)
    second = await _raw_post(api.url, body, headers)
    await api.settle()
    assert (first.status_code, second.status_code) == (200, 401)
    assert len(api.gate.decisions) == 1
    assert "replayed" in api.refusals()[-1]["reason"]


async def test_unknown_user_is_refused_privately_and_audited(api: Api) -> None:
    """A Slack user the config does not map gets an ephemeral explanation; `decide` is not called."""
    await api.slack.click(user=MALLORY, campaign_id="camp-1")
    await api.settle()
    assert api.gate.decisions == []
    [told] = api.slack.private(MALLORY)
    assert told.kind == "ephemeral" and "does not know Slack user" in told.text
    refusal = api.refusals()[-1]
    assert refusal["channel_user"] == MALLORY and "unknown Slack user" in refusal["reason"]


async def test_refusal_from_decide_is_told_with_its_reason(api: Api) -> None:
    """When the gate refuses (not an approver), the clicking user reads the gate's reason in an ephemeral message."""
    await api.slack.click(user=BOB, campaign_id="camp-1")
    await api.settle()
    [told] = api.slack.private(BOB)
    assert "refused" in told.text and "bob may not approve: needs group:secops-oncall" in told.text
    refusal = api.refusals()[-1]
    assert refusal["campaign_id"] == "camp-1" and "may not approve" in refusal["reason"]


async def test_second_click_by_the_same_person_is_refused_as_already_decided(api: Api) -> None:
    """Clicking again after deciding is refused with the gate's reason and audited; nothing else changes."""
    await api.slack.click(user=ALICE, campaign_id="camp-1")
    await api.settle()
    await api.slack.click(user=ALICE, campaign_id="camp-1")
    await api.settle()
    assert len(api.gate.decisions) == 1
    assert "already decided" in api.slack.private(ALICE)[-1].text
    assert "already decided" in api.refusals()[-1]["reason"]


async def test_reject_needs_a_reason_from_the_card(api: Api) -> None:
    """Reject without text in the reason box is refused with instructions; with a reason it is recorded."""
    await api.slack.click(user=CAROL, campaign_id="camp-1", verdict="reject")
    await api.settle()
    assert api.gate.decisions == []
    assert "needs a reason" in api.slack.private(CAROL)[-1].text
    await api.slack.click(user=CAROL, campaign_id="camp-1", verdict="reject", reason="change freeze tonight")
    await api.settle()
    [(_, decision)] = api.gate.decisions
    assert decision.verdict is Verdict.reject and decision.reason == "change freeze tonight"


async def test_malformed_payload_is_400_with_the_field_path_and_next_request_works(api: Api) -> None:
    """A signed payload missing `actions[0].action_ts` gets 400 naming the field, is audited; a good one then works."""
    payload = api.slack.build_click(user=ALICE, campaign_id="camp-1")
    del payload["actions"][0]["action_ts"]
    response = await api.slack.post_payload(payload)
    assert response.status_code == 400
    assert response.json()["field"] == "payload.actions[0].action_ts"
    assert "payload.actions[0].action_ts" in api.refusals()[-1]["reason"]
    assert api.gate.decisions == []
    good = await api.slack.click(user=ALICE, campaign_id="camp-1")
    await api.settle()
    assert isinstance(good, httpx.Response) and good.status_code == 200
    assert len(api.gate.decisions) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"payload=%7Bnot-json", "payload"),
        (b"nothing=here", "payload"),
        (_form({"type": "block_actions", "user": {"id": "U1"}}), "payload.api_app_id"),
        (_form([1, 2]), "payload"),
    ],
)
async def test_undecodable_payloads_are_400(api: Api, body: bytes, field: str) -> None:
    """Not JSON, no `payload` field, or the wrong shape: 400 naming where, audited."""
    response = await _raw_post(api.url, body, api.slack.signed(body))
    assert response.status_code == 400
    assert response.json()["field"] == field


async def test_other_interactions_are_acked_and_ignored(api: Api) -> None:
    """A view submission (not a button) is acknowledged with 200 and nothing is decided."""
    body = _form({"type": "view_submission", "user": {"id": ALICE}})
    response = await _raw_post(api.url, body, api.slack.signed(body))
    assert response.status_code == 200
    assert api.gate.decisions == []
    assert api.audit.records()[-1]["outcome"] == "ignored"


async def test_ack_arrives_before_a_slow_decide_finishes(api: Api) -> None:
    """The HTTP 200 comes back while `decide` is still blocked: Slack's 3-second limit never depends on Temporal."""
    api.gate.hold = asyncio.Event()
    api.gate.finished.clear()
    response = await api.slack.click(user=ALICE, campaign_id="camp-1")
    assert isinstance(response, httpx.Response) and response.status_code == 200
    assert not api.gate.finished.is_set() and api.gate.decisions == []
    api.gate.hold.set()
    await api.settle()
    assert api.gate.finished.is_set() and len(api.gate.decisions) == 1


async def test_decide_failure_is_audited_and_told(api: Api) -> None:
    """If `decide` raises (Temporal unreachable), the user is told to try again and the error is audited."""
    from mendflow.errors import ConnectionProblem

    async def broken(campaign_id: str, decision: Any) -> Any:
        raise ConnectionProblem("cannot reach Temporal at 127.0.0.1:7233")

    api.app.state.slack.decide = broken
    await api.slack.click(user=ALICE, campaign_id="camp-1")
    await api.settle()
    assert "cannot reach Temporal" in api.slack.private(ALICE)[-1].text
    assert api.audit.records()[-1]["outcome"] == "error"


async def test_response_url_is_used_when_chat_post_ephemeral_is_not_available(
    slack: SlackWorkspace, directory: SlackDirectory, audit: AuditLog, gate: Gate, cards: SlackCards
) -> None:
    """Without a SlackCards client the refusal goes back through the payload's response_url."""
    app = create_api_app(slack_signing_secret=slack.signing_secret, decide=gate, directory=directory, audit=audit)
    async with serve_here(app) as server:
        slack.interactivity_url = f"{server.base_url}/slack/interactivity"
        await cards.post("#sec-remediation", sample_card())
        await slack.click(user=MALLORY, campaign_id="camp-1")
        await app.state.slack.drain()
    [told] = slack.private(MALLORY)
    assert told.kind == "response_url" and "does not know Slack user" in told.text


async def test_healthz(api: Api) -> None:
    """GET /healthz answers 200 {"ok": true}."""
    async with httpx.AsyncClient() as client:
        response = await client.get(api.url.replace("/slack/interactivity", "/healthz"))
    assert response.status_code == 200 and response.json() == {"ok": True}


async def test_audit_chain_holds_after_a_mix_of_requests(api: Api) -> None:
    """Accepted, refused and malformed requests all land in one hash chain that verifies."""
    await api.slack.click(user=ALICE, campaign_id="camp-1")
    await api.slack.click(user=MALLORY, campaign_id="camp-1")
    await _raw_post(api.url, b"x=1", {})
    await api.settle()
    assert api.audit.verify() == len(api.audit.records()) >= 3
