"""Contract: every Web API request mendflow's Slack integration sends, and every answer the Slack simulator gives,
passes openapi-core validation against tests/specs/slack-subset.oas31.json (Slack's own description); every click
payload the simulator builds is valid against tests/specs/slack-block-actions-payload.schema.json.

Slack's description dates from 2020 and is stale in known places; each deviation is listed in UNLISTED/below
with its source, and the rest of such an answer is still validated.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_core import OpenAPI
from openapi_core.validation.response.exceptions import InvalidData
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from mendflow.errors import VendorError
from mendflow.integrations.cards import CardState
from mendflow.integrations.slack import SlackCards, SlackDirectory
from mendflow.redaction import register_secret
from mendflow.runtime.loopback import serve_in_thread
from mendflow.sim.slack import SlackWorkspace, create_slack_app
from tests.integrations.conftest import sample_card
from tests.openapi_adapter import Exchange, Recorder, SpecRequest, SpecResponse

SPECS = Path(__file__).resolve().parents[1] / "specs"
SPEC = SPECS / "slack-subset.oas31.json"
PAYLOAD_SCHEMA = SPECS / "slack-block-actions-payload.schema.json"
SLACK = "https://slack.com"
CHANNEL = "C0SECREMED1"
ALICE = "U0ALICE001"

# Error codes Slack really sends that the 2020 description's per-method `error` enums do not list, with the extra
# fields that come with them. Source: Slack's method docs (Errors tables) and rate-limit page; slack-sdk reads
# `needed`/`provided` (slack_sdk/errors) and the `ratelimited` code (socket_mode/async_client.py).
UNLISTED: dict[str, tuple[str, ...]] = {
    "missing_scope": ("needed", "provided"),
    "ratelimited": (),
    "not_allowed_token_type": (),
    "no_such_subteam": (),
    "fatal_error": (),
}


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    """The description, with each operation's security narrowed to its bearer alternative: openapi-core cannot
    check the OAuth2 alternative (it warns and passes), while the bearer header is what slack-sdk sends."""
    document = json.loads(SPEC.read_text(encoding="utf-8"))
    for item in document["paths"].values():
        for operation in item.values():
            assert {"slackBearer": []} in operation["security"]
            operation["security"] = [{"slackBearer": []}]
    return OpenAPI.from_dict(document)


@pytest.fixture
def recorded() -> Iterator[tuple[SlackWorkspace, Recorder]]:
    token = "xoxb-" + secrets.token_hex(12)
    register_secret(token)
    workspace = SlackWorkspace(
        bot_token=token,
        app_token="xapp-" + secrets.token_hex(12),
        signing_secret=secrets.token_hex(16),
        users={ALICE: "alice"},
        usergroups={"S0ONCALL01": [ALICE]},
    )
    recorder = Recorder(create_slack_app(workspace))
    with serve_in_thread(recorder) as server:
        workspace.base_url = server.base_url
        yield workspace, recorder


def _cards(workspace: SlackWorkspace, token: str | None = None, retries: int = 3) -> SlackCards:
    return SlackCards(
        token or workspace.bot_token,
        base_url=workspace.base_url + "/api/",
        max_retries=retries,
        retry_interval=FixedValueRetryIntervalCalculator(0.01),
    )


async def _everything(workspace: SlackWorkspace) -> None:
    """Every call the integration makes, each success and each documented error."""
    cards = _cards(workspace)
    await cards.check_auth()
    ref = await cards.post(CHANNEL, sample_card())
    await cards.update(ref, sample_card(state=CardState.approved))
    await cards.notify(ALICE, "escalation")
    await cards.direct_message(ALICE, "your token was revoked")
    assert await cards.user_by_email("Alice@acme.example") == ALICE
    await cards.ephemeral(CHANNEL, ALICE, "refused: reason")
    directory = SlackDirectory(cards, users={ALICE: "alice"}, usergroups={"S0ONCALL01": "oncall", "S0GONE0001": "x"})
    await directory.members("S0ONCALL01")
    await directory.display_name(ALICE)
    await directory.display_name("U0NOBODY01")
    for call in (
        lambda: directory.members("S0GONE0001"),
        lambda: cards.notify("#nowhere", "x"),
        lambda: cards.direct_message("U0NOBODY01", "x"),
        lambda: cards.user_by_email("nobody@acme.example"),
        lambda: cards.update(ref.model_copy(update={"ts": "1000000000.000001"}), sample_card()),
        lambda: cards.ephemeral(CHANNEL, "U0NOBODY01", "x"),
        lambda: _cards(workspace, token="xoxb-wrong-0000000000").check_auth(),
        lambda: _cards(workspace, token=workspace.app_token).notify(CHANNEL, "x"),
    ):
        with pytest.raises(VendorError):
            await call()
    workspace.fail_next(1, status=503, methods=["chat.postMessage"])
    workspace.fail_next(1, status=429, retry_after=0, methods=["auth.test"])
    await cards.notify(CHANNEL, "after a 503")
    await cards.check_auth()
    workspace.bot_scopes = ["users:read"]
    with pytest.raises(VendorError):
        await cards.notify(CHANNEL, "x")


def _method(exchange: Exchange) -> str:
    return exchange.path.removeprefix("/api")


def _validate_response(openapi: OpenAPI, exchange: Exchange) -> None:
    request = SpecRequest(exchange, host_url=SLACK, method="get" if _method(exchange) == "/auth.test" else None)
    body = json.loads(exchange.response_body)
    if body["ok"]:
        openapi.validate_response(request, SpecResponse(exchange))
        return
    # Slack answers most errors with HTTP 200 and `ok: false`; the description models every error as the
    # `default` response, so an error is validated against that (by presenting it under an undeclared status).
    error = body.get("error")
    if error in UNLISTED:
        # Still validate the envelope: the same answer with a listed code and without the documented extras.
        body = {k: v for k, v in body.items() if k not in UNLISTED[error]} | {"error": "invalid_auth"}
    openapi.validate_response(request, SpecResponse(exchange, json.dumps(body).encode(), status=599))


def _spec_methods() -> set[str]:
    return set(json.loads(SPEC.read_text(encoding="utf-8"))["paths"])


async def test_every_request_and_answer_matches_slacks_description(
    openapi: OpenAPI, recorded: tuple[SlackWorkspace, Recorder]
) -> None:
    """Requests from slack-sdk (via SlackCards/SlackDirectory) and the simulator's answers validate against the spec."""
    workspace, recorder = recorded
    await _everything(workspace)
    checked: dict[str, set[str]] = {}
    for exchange in recorder.exchanges:
        method = _method(exchange)
        assert method in _spec_methods(), f"{exchange}: not in the description"
        # The description lists auth.test as GET only; slack-sdk POSTs it (Slack accepts both).
        spec_method = "get" if method == "/auth.test" else None
        openapi.validate_request(SpecRequest(exchange, host_url=SLACK, method=spec_method))
        _validate_response(openapi, exchange)
        checked.setdefault(method, set()).add("ok" if json.loads(exchange.response_body)["ok"] else "error")
    assert checked == {m: {"ok", "error"} for m in _spec_methods()}


async def test_validator_rejects_a_deliberately_broken_answer(
    openapi: OpenAPI, recorded: tuple[SlackWorkspace, Recorder]
) -> None:
    """Breaking a real answer (a bad ts, a missing field) fails validation, so a passing contract means something."""
    workspace, recorder = recorded
    await _cards(workspace).post(CHANNEL, sample_card())
    [exchange] = [x for x in recorder.exchanges if x.path == "/api/chat.postMessage"]
    request = SpecRequest(exchange, host_url=SLACK)
    openapi.validate_response(request, SpecResponse(exchange))
    for breakage in (lambda b: b.update(ts="12.3"), lambda b: b["message"].pop("type"), lambda b: b.update(ok="yes")):
        body: dict[str, Any] = json.loads(exchange.response_body)
        breakage(body)
        with pytest.raises(InvalidData):
            openapi.validate_response(request, SpecResponse(exchange, json.dumps(body).encode()))


@pytest.fixture
async def schema() -> AsyncIterator[jsonschema.protocols.Validator]:
    document = json.loads(PAYLOAD_SCHEMA.read_text(encoding="utf-8"))
    yield jsonschema.Draft202012Validator(document)


async def test_click_payloads_are_valid_block_actions(
    schema: jsonschema.protocols.Validator, recorded: tuple[SlackWorkspace, Recorder]
) -> None:
    """The simulator's Approve and Reject payloads (with and without a reason) validate against the documented shape."""
    workspace, _ = recorded
    await _cards(workspace).post(CHANNEL, sample_card())
    for verdict, reason in (("approve", None), ("reject", "freeze"), ("reject", None)):
        payload = workspace.build_click(user=ALICE, campaign_id="camp-1", verdict=verdict, reason=reason)
        schema.validate(payload)
    broken = workspace.build_click(user=ALICE, campaign_id="camp-1")
    del broken["actions"][0]["block_id"]
    assert not schema.is_valid(broken)
