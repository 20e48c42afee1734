"""`SlackCards.direct_message` against the Slack simulator over loopback: `conversations.open`, then
`chat.postMessage` to the DM channel it names; refusals come back as clear errors, and secrets stay out."""

from __future__ import annotations

import pytest

from mendflow.integrations.slack import SlackAuthError, SlackCards, SlackError
from mendflow.redaction import register_secret
from mendflow.sim.slack import SlackWorkspace

from .conftest import ALICE


async def test_direct_message_opens_the_dm_then_posts_there(slack: SlackWorkspace, cards: SlackCards) -> None:
    """The post goes to the channel `conversations.open` returned, in order; a second DM reuses the open one."""
    first = await cards.direct_message(ALICE, "Your API token was revoked; see incident SEC-12")
    second = await cards.direct_message(ALICE, "The incident is closed")
    methods = [m for m, _ in slack.calls]
    assert methods == ["conversations.open", "chat.postMessage", "conversations.open", "chat.postMessage"]
    assert slack.calls[0][1]["users"] == ALICE
    assert first.channel == second.channel and first.channel.startswith("D")
    assert slack.calls[1][1]["channel"] == first.channel
    assert [s.text for s in slack.history if s.channel == first.channel] == [
        "Your API token was revoked; see incident SEC-12",
        "The incident is closed",
    ]
    assert first.channel in slack.open_dms


async def test_unknown_person_is_refused_before_anything_is_posted(slack: SlackWorkspace, cards: SlackCards) -> None:
    """`user_not_found` from `conversations.open` is raised; no message is sent."""
    with pytest.raises(SlackError, match="user_not_found"):
        await cards.direct_message("U0NOBODY01", "hello")
    assert not any(m == "chat.postMessage" for m, _ in slack.calls)


async def test_missing_im_write_names_the_scope(slack: SlackWorkspace, cards: SlackCards) -> None:
    """A bot token without `im:write` fails with Slack's `needed` scope, not with a post to the user id."""
    slack.bot_scopes = ["chat:write", "users:read"]
    with pytest.raises(SlackAuthError, match="im:write"):
        await cards.direct_message(ALICE, "hello")
    assert slack.history == []


async def test_a_secret_in_the_text_is_redacted(slack: SlackWorkspace, cards: SlackCards) -> None:
    """A planted secret in the message text never reaches Slack."""
    canary = "canary-dm-secret-7f3a9c01"
    register_secret(canary)
    await cards.direct_message(ALICE, f"token {canary} was revoked")
    assert canary not in slack.all_text()
