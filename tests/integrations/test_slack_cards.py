"""SlackCards and SlackDirectory against the Slack simulator over loopback: posting, retries, auth errors, caches."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator

from mendflow.errors import ConnectionProblem
from mendflow.integrations.cards import APPROVE_ACTION, CardState, render_text
from mendflow.integrations.slack import MessageRef, SlackAuthError, SlackCards, SlackDirectory, SlackError
from mendflow.models import Channel, Decision, Verdict
from mendflow.redaction import register_secret
from mendflow.runtime.loopback import serve_in_thread
from mendflow.secrets import SecretRef
from mendflow.sim.slack import SlackWorkspace, create_slack_app

from .conftest import ALICE, BOB, CAROL, CHANNEL, ONCALL, cards_for, sample_card


async def test_post_then_update_keeps_the_card_history(slack: SlackWorkspace, cards: SlackCards) -> None:
    """A posted card is updated in place; the simulator keeps every version (buttons gone once decided)."""
    ref = await cards.post("#sec-remediation", sample_card())
    assert ref.channel == CHANNEL
    decided = sample_card(
        state=CardState.approved,
        decisions=(Decision(approver="alice", verdict=Verdict.approve, channel=Channel.slack),),
    )
    await cards.update(ref, decided)
    versions = slack.messages[(ref.channel, ref.ts)]
    assert [v.kind for v in versions] == ["post", "update"]
    assert APPROVE_ACTION in json.dumps(versions[0].blocks)
    assert APPROVE_ACTION not in json.dumps(versions[1].blocks)
    assert versions[1].text == render_text(decided)


async def test_notify_posts_to_a_person_and_ephemeral_reaches_only_them(
    slack: SlackWorkspace, cards: SlackCards
) -> None:
    """`notify` to a user id lands in the app's DM; `ephemeral` is recorded for that user only."""
    dm = await cards.notify(ALICE, "Escalation: campaign camp-1 still needs approval")
    assert dm.channel.startswith("D")
    await cards.ephemeral(CHANNEL, BOB, "only bob sees this")
    assert [s.text for s in slack.private(BOB)] == ["only bob sees this"]
    assert slack.private(ALICE) == []


async def test_server_errors_are_retried_then_succeed(slack: SlackWorkspace, cards: SlackCards) -> None:
    """Two 503s and a 500 (Slack having a bad minute) are retried with backoff; the post then succeeds once."""
    slack.fail_next(2, status=503, methods=["chat.postMessage"])
    slack.fail_next(1, status=500, methods=["chat.postMessage"])
    ref = await cards.post(CHANNEL, sample_card())
    assert len(slack.messages[(ref.channel, ref.ts)]) == 1
    assert sum(1 for m, _ in slack.calls if m == "chat.postMessage") == 1


async def test_rate_limit_is_retried_after_retry_after(slack: SlackWorkspace, cards: SlackCards) -> None:
    """A 429 with Retry-After is waited out (slack-sdk's RateLimitErrorRetryHandler) and the call succeeds."""
    slack.fail_next(1, status=429, retry_after=0)
    info = await cards.check_auth()
    assert info.team_id == slack.team_id


async def test_rate_limit_that_persists_is_one_retryable_error(slack: SlackWorkspace) -> None:
    """When the budget stays spent past the retries, the caller gets one SlackError marked retryable."""
    client = cards_for(slack, max_retries=1)
    slack.fail_next(5, status=429, retry_after=0)
    with pytest.raises(SlackError) as caught:
        await client.notify(CHANNEL, "hello")
    assert caught.value.retryable and caught.value.error == "ratelimited"


async def test_configured_rate_budget_answers_429(slack: SlackWorkspace) -> None:
    """The simulator's per-minute budget answers 429 + Retry-After once spent (seen as a retryable error)."""
    slack.rate_limit = 2
    client = cards_for(slack, max_retries=0)
    await client.notify(CHANNEL, "one")
    await client.notify(CHANNEL, "two")
    with pytest.raises(SlackError, match="rate-limited"):
        await client.notify(CHANNEL, "three")


async def test_slow_answer_times_out_and_is_retried(slack: SlackWorkspace) -> None:
    """An answer slower than the timeout is abandoned and retried; the message is posted exactly once."""
    client = cards_for(slack, timeout=1)
    slack.delay_next(2.5, methods=["chat.postMessage"])
    ref = await client.post(CHANNEL, sample_card())
    async with asyncio.timeout(10):
        while slack.abandoned < 1:  # noqa: ASYNC110 - set in the simulator's thread
            await asyncio.sleep(0.05)
    assert [(s.kind, s.ts) for s in slack.history] == [("post", ref.ts)]


class _Signal(RetryIntervalCalculator):
    """Fixed short backoff that tells the test when the first retry is being prepared."""

    def __init__(self) -> None:
        self.waiting = asyncio.Event()

    def calculate_sleep_duration(self, current_attempt: int) -> float:
        self.waiting.set()
        return 0.3


async def test_slack_down_then_up_is_retried_until_it_answers(slack: SlackWorkspace) -> None:
    """Connection refused (Slack unreachable) is retried with backoff; once it listens, the call goes through."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    signal = _Signal()
    client = cards_for(slack, max_retries=5, retry_interval=signal)
    client.client.base_url = f"http://127.0.0.1:{port}/api/"
    call = asyncio.create_task(client.check_auth())
    await signal.waiting.wait()
    with serve_in_thread(create_slack_app(slack), port=port):
        info = await call
    assert info.user_id == slack.bot_user


async def test_unreachable_slack_is_one_connection_problem(slack: SlackWorkspace) -> None:
    """With nothing listening, retries run out and the caller gets one ConnectionProblem naming Slack's URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = cards_for(slack, max_retries=2, base_url=f"http://127.0.0.1:{port}/api/")
    with pytest.raises(ConnectionProblem, match=f"127.0.0.1:{port}"):
        await client.check_auth()


async def test_invalid_token_is_one_clear_error_naming_the_reference(
    slack: SlackWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong token is SlackAuthError naming `env:…` (never the value), after exactly one call."""
    monkeypatch.setenv("MENDFLOW_TEST_SLACK_BAD", "xoxb-wrong-token-000000000")
    client = SlackCards(
        SecretRef(ref="env:MENDFLOW_TEST_SLACK_BAD"),
        base_url=slack.base_url + "/api/",
        retry_interval=FixedValueRetryIntervalCalculator(0.01),
    )
    before = len(slack.calls)
    with pytest.raises(SlackAuthError) as caught:
        await client.post(CHANNEL, sample_card())
    message = str(caught.value)
    assert "env:MENDFLOW_TEST_SLACK_BAD" in message and "invalid_auth" in message
    assert "xoxb-wrong-token" not in message
    assert len(slack.calls) - before == 1


async def test_missing_scope_names_the_needed_scope(slack: SlackWorkspace) -> None:
    """Slack's `missing_scope` (with `needed`/`provided`) becomes one error saying which scope to add."""
    slack.bot_scopes = ["users:read"]
    client = cards_for(slack, token_ref="env:SLACK_BOT_TOKEN")
    before = len(slack.calls)
    with pytest.raises(SlackAuthError) as caught:
        await client.post(CHANNEL, sample_card())
    assert caught.value.needed == "chat:write" and caught.value.provided == "users:read"
    assert "env:SLACK_BOT_TOKEN" in str(caught.value) and "lacks scope chat:write" in str(caught.value)
    assert slack.bot_token not in str(caught.value)
    assert len(slack.calls) - before == 1


async def test_check_auth_reports_scopes_missing_for_cards(slack: SlackWorkspace) -> None:
    """`check_auth` fails at start-up, not at the first card, when the token lacks `chat:write`."""
    slack.bot_scopes = ["users:read", "usergroups:read"]
    with pytest.raises(SlackAuthError, match="lacks scope chat:write"):
        await cards_for(slack).check_auth()


async def test_app_token_cannot_post_cards(slack: SlackWorkspace) -> None:
    """Using the Socket Mode app token for the Web API is explained as the wrong kind of token."""
    client = SlackCards(slack.app_token, token_ref="env:SLACK_APP_TOKEN", base_url=slack.base_url + "/api/")
    with pytest.raises(SlackAuthError, match="not_allowed_token_type"):
        await client.notify(CHANNEL, "x")


async def test_unknown_channel_is_a_non_retryable_error(cards: SlackCards) -> None:
    """`channel_not_found` is raised at once and marked not retryable."""
    with pytest.raises(SlackError) as caught:
        await cards.notify("#nowhere", "x")
    assert caught.value.error == "channel_not_found" and not caught.value.retryable


async def test_no_secret_reaches_slack(slack: SlackWorkspace, cards: SlackCards) -> None:
    """A canary secret planted in a card, a notification and a private answer never reaches the simulator."""
    canary = "canary-slack-" + str(time.time_ns())
    register_secret(canary)
    ref = await cards.post(CHANNEL, sample_card(title=f"t {canary}", note=canary))
    await cards.update(ref, sample_card(state=CardState.rejected, note=f"reason {canary}"))
    await cards.notify(CHANNEL, f"escalation {canary}")
    await cards.ephemeral(CHANNEL, ALICE, f"refused {canary}")
    assert canary not in slack.all_text()
    assert canary not in json.dumps(slack.calls)


async def test_directory_maps_users_and_slack_user_groups(directory: SlackDirectory) -> None:
    """Config maps ids to identities; membership of the on-call Slack group adds `secops-oncall`."""
    alice = await directory.resolve(ALICE)
    bob = await directory.resolve(BOB)
    assert alice is not None and alice.identity == "alice" and alice.groups == ("secops-oncall",)
    assert bob is not None and bob.groups == ("secops-leads",)
    assert await directory.resolve("U0NOBODY01") is None
    assert await directory.display_name(ALICE) == "alice"


async def test_usergroup_membership_is_cached_for_the_ttl(slack: SlackWorkspace, cards: SlackCards) -> None:
    """Within the TTL one `usergroups.users.list` serves every lookup; after it, a change in Slack is seen."""
    now = [1000.0]
    directory = SlackDirectory(
        cards, users={ALICE: "alice", BOB: "bob"}, usergroups={ONCALL: "secops-oncall"}, ttl=30, clock=lambda: now[0]
    )
    assert (await directory.resolve(ALICE)).groups == ("secops-oncall",)  # type: ignore[union-attr]
    assert (await directory.resolve(BOB)).groups == ()  # type: ignore[union-attr]
    slack.usergroups[ONCALL] = [BOB]
    now[0] += 29
    assert (await directory.resolve(BOB)).groups == ()  # type: ignore[union-attr]
    assert sum(1 for m, _ in slack.calls if m == "usergroups.users.list") == 1
    now[0] += 2
    assert (await directory.resolve(BOB)).groups == ("secops-oncall",)  # type: ignore[union-attr]
    assert (await directory.resolve(ALICE)).groups == ()  # type: ignore[union-attr]
    assert sum(1 for m, _ in slack.calls if m == "usergroups.users.list") == 2


async def test_stale_membership_is_used_when_slack_cannot_answer(slack: SlackWorkspace) -> None:
    """An expired cache entry still answers if refreshing it fails (Slack down), rather than locking people out."""
    now = [0.0]
    client = cards_for(slack, max_retries=0)
    directory = SlackDirectory(
        client, users={CAROL: "carol"}, usergroups={ONCALL: "secops-oncall"}, ttl=1, clock=lambda: now[0]
    )
    assert (await directory.resolve(CAROL)).groups == ("secops-oncall",)  # type: ignore[union-attr]
    now[0] = 5
    slack.fail_next(1, status=503)
    assert (await directory.resolve(CAROL)).groups == ("secops-oncall",)  # type: ignore[union-attr]


async def test_directory_from_rbac_config(cards: SlackCards) -> None:
    """`SlackDirectory.from_rbac` takes each person's Slack id and groups from the RBAC config."""
    from mendflow.rbac import Person, RbacConfig

    rbac = RbacConfig(people={"alice": Person(groups=("secops-oncall",), slack=ALICE), "dave": Person()})
    directory = SlackDirectory.from_rbac(cards, rbac)
    who = await directory.resolve(ALICE)
    assert who is not None and who.identity == "alice" and who.groups == ("secops-oncall",)
    assert directory.users == {ALICE: "alice"}


def test_message_ref_round_trips_through_json() -> None:
    """MessageRef is a plain value the workflow can keep in its state."""
    ref = MessageRef(channel=CHANNEL, ts="1700000000.000100")
    assert MessageRef.model_validate_json(ref.model_dump_json()) == ref
