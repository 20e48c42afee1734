"""Behaviour of the Slack simulator over loopback HTTP: Slack's envelope and auth, rate budget, signed clicks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from mendflow.integrations.cards import APPROVE_ACTION, render_blocks
from mendflow.runtime.loopback import serve_in_thread
from mendflow.sim.slack import SimError, SlackWorkspace, create_slack_app
from tests.integrations.conftest import sample_card

BOT = "xoxb-simtest-0123456789"
ALICE = "U0ALICE001"


@pytest.fixture
def workspace() -> Iterator[SlackWorkspace]:
    ws = SlackWorkspace(
        bot_token=BOT, app_token="xapp-simtest-0123456789", signing_secret="s3cret", users={ALICE: "alice"}
    )
    with serve_in_thread(create_slack_app(ws)) as server:
        ws.base_url = server.base_url
        yield ws


def _call(ws: SlackWorkspace, method: str, token: str | None = BOT, **args: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{ws.base_url}/api/{method}", json=args, headers=headers)


def test_envelope_errors_for_missing_and_wrong_tokens(workspace: SlackWorkspace) -> None:
    """No token → `not_authed`, wrong token → `invalid_auth`, both HTTP 200 with `ok: false` as Slack does."""
    assert _call(workspace, "auth.test", token=None).json() == {"ok": False, "error": "not_authed"}
    wrong = _call(workspace, "auth.test", token="xoxb-nope")
    assert wrong.status_code == 200 and wrong.json() == {"ok": False, "error": "invalid_auth"}


def test_token_may_come_as_a_form_argument(workspace: SlackWorkspace) -> None:
    """The legacy `token` form argument is accepted like the bearer header."""
    response = httpx.post(f"{workspace.base_url}/api/auth.test", data={"token": BOT})
    assert response.json()["ok"] is True
    assert response.headers["x-oauth-scopes"] == "chat:write,users:read,users:read.email,usergroups:read,im:write"


def test_missing_scope_says_what_is_needed(workspace: SlackWorkspace) -> None:
    """`missing_scope` carries `needed` and `provided`, plus the `x-accepted-oauth-scopes` header."""
    workspace.bot_scopes = ["users:read"]
    response = _call(workspace, "chat.postMessage", channel="C0SECREMED1", text="x")
    assert response.json() == {"ok": False, "error": "missing_scope", "needed": "chat:write", "provided": "users:read"}
    assert response.headers["x-accepted-oauth-scopes"] == "chat:write"


def test_rate_budget_answers_429_with_retry_after(workspace: SlackWorkspace) -> None:
    """Past the per-minute budget: HTTP 429, `Retry-After`, `{"ok": false, "error": "ratelimited"}`."""
    workspace.rate_limit = 1
    assert _call(workspace, "auth.test").status_code == 200
    limited = _call(workspace, "auth.test")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json() == {"ok": False, "error": "ratelimited"}


def test_messages_and_updates_are_recorded(workspace: SlackWorkspace) -> None:
    """Posts and updates are kept per message; unknown messages and channels get Slack's errors."""
    posted = _call(
        workspace, "chat.postMessage", channel="#sec-remediation", text="v1", blocks=render_blocks(sample_card())
    )
    ts = posted.json()["ts"]
    _call(workspace, "chat.update", channel="C0SECREMED1", ts=ts, text="v2")
    assert [v.text for v in workspace.messages[("C0SECREMED1", ts)]] == ["v1", "v2"]
    assert (
        _call(workspace, "chat.update", channel="C0SECREMED1", ts="1.2", text="x").json()["error"]
        == "message_not_found"
    )
    assert _call(workspace, "chat.postMessage", channel="#nope", text="x").json()["error"] == "channel_not_found"
    assert _call(workspace, "chat.postMessage", channel="C0SECREMED1").json()["error"] == "no_text"


async def test_click_is_signed_exactly_as_slack_signs(workspace: SlackWorkspace) -> None:
    """The click's body verifies with slack-sdk's SignatureVerifier and carries one JSON `payload` form field."""
    _call(workspace, "chat.postMessage", channel="C0SECREMED1", text="card", blocks=render_blocks(sample_card()))
    payload = workspace.build_click(user=ALICE, campaign_id="camp-1")
    body = httpx.Request("POST", "http://x", data={"payload": json.dumps(payload)}).read()
    headers = workspace.signed(body)
    assert SignatureVerifier("s3cret").is_valid_request(body, headers)
    assert json.loads(parse_qs(body.decode())["payload"][0])["actions"][0]["action_id"] == APPROVE_ACTION


def test_clicking_a_button_that_is_not_on_the_card_is_refused(workspace: SlackWorkspace) -> None:
    """A decided card has no buttons, so the simulated user cannot click them (as in Slack)."""
    _call(workspace, "chat.postMessage", channel="C0SECREMED1", text="decided", blocks=[{"type": "divider"}])
    with pytest.raises(SimError, match="no card with buttons"):
        workspace.build_click(user=ALICE, campaign_id="camp-1")


def test_response_url_records_private_answers(workspace: SlackWorkspace) -> None:
    """The payload's response_url accepts the app's JSON answer and records it for the clicking user."""
    _call(workspace, "chat.postMessage", channel="C0SECREMED1", text="card", blocks=render_blocks(sample_card()))
    url = workspace.build_click(user=ALICE, campaign_id="camp-1")["response_url"]
    assert httpx.post(url, json={"text": "refused: not an approver", "response_type": "ephemeral"}).json() == {
        "ok": True
    }
    assert [(s.kind, s.user, s.text) for s in workspace.private()] == [
        ("response_url", ALICE, "refused: not an approver")
    ]
    assert httpx.post(workspace.base_url + "/_sim/response/unknown", json={"text": "x"}).status_code == 404


def test_connections_open_needs_the_app_token(workspace: SlackWorkspace) -> None:
    """`apps.connections.open` answers a ws:// URL for the app token and `not_allowed_token_type` for a bot token."""
    opened = _call(workspace, "apps.connections.open", token=workspace.app_token).json()
    assert opened["ok"] and opened["url"].startswith("ws://127.0.0.1:") and "/socket-mode/" in opened["url"]
    assert _call(workspace, "apps.connections.open").json()["error"] == "not_allowed_token_type"


def test_sim_click_endpoint_needs_an_interactivity_url_or_socket(workspace: SlackWorkspace) -> None:
    """`POST /_sim/click` explains what is missing rather than failing silently."""
    _call(workspace, "chat.postMessage", channel="C0SECREMED1", text="card", blocks=render_blocks(sample_card()))
    response = httpx.post(workspace.base_url + "/_sim/click", json={"user": ALICE, "campaign": "camp-1"})
    assert response.status_code == 409 and "no interactivity URL" in response.json()["error"]
