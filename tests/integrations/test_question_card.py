"""The question card's buttons: each carries its run, question and option, and only that reads as an answer."""

from __future__ import annotations

import pytest

from mendflow.api.slack_interactivity import PayloadError, answer_click_of, click_of, parse_block_actions
from mendflow.integrations.cards import BUTTON_LIMIT, TEXT_LIMIT
from mendflow.integrations.question_card import ANSWER_ACTION, button_of, question_blocks
from mendflow.redaction import register_secret


def _payload(action: dict[str, object]) -> dict[str, object]:
    return {
        "type": "block_actions", "user": {"id": "U0BOB00001"}, "api_app_id": "A1", "trigger_id": "t",
        "container": {"type": "message", "channel_id": "D0BOB"}, "actions": [action],
    }  # fmt: skip


def test_each_option_is_a_button_that_reads_back_as_that_answer() -> None:
    """One button per option; a press names the run, the question and the option — and is not an approval."""
    blocks = question_blocks(text="Keep it?", options=["keep", "drop"], run="response/x/1", question="ask#3")
    buttons = blocks[-1]["elements"]
    assert [b["action_id"] for b in buttons] == [f"{ANSWER_ACTION}:keep", f"{ANSWER_ACTION}:drop"]
    pressed = parse_block_actions(_payload({**buttons[1], "block_id": "mendflow_question", "action_ts": "1.2"}))
    click = answer_click_of(pressed)
    assert click is not None and (click.run, click.question, click.option) == ("response/x/1", "ask#3", "drop")
    assert click.slack_user == "U0BOB00001" and click.channel_id == "D0BOB" and click_of(pressed) is None


def test_a_forged_answer_button_is_refused_naming_the_field() -> None:
    """An answer button whose value is not ours is a malformed payload (400), not an answer."""
    action = {"type": "button", "action_id": f"{ANSWER_ACTION}:keep", "block_id": "b", "action_ts": "1", "value": "x"}
    with pytest.raises(PayloadError) as refused:
        answer_click_of(parse_block_actions(_payload(action)))
    assert refused.value.path == "payload.actions[0].value"


def test_a_secret_in_the_question_is_masked_on_the_card() -> None:
    """A registered secret in the question's text never reaches Slack."""
    register_secret("canary-q-5f1c2e9a")
    blocks = question_blocks(text="token canary-q-5f1c2e9a?", options=["ok"], run="r", question="q")
    assert "canary-q-5f1c2e9a" not in str(blocks) and "[REDACTED]" in blocks[0]["text"]["text"]


def test_a_long_question_and_option_are_clipped_as_the_cards_clip() -> None:
    """Over Slack's limits, the section text and button label are cut to the limit with an ellipsis (never a block
    Slack would refuse, and the cut is visible)."""
    option = "o" * 100
    blocks = question_blocks(text="q" * 5000, options=[option], run="r", question="q")
    section, button = blocks[0]["text"]["text"], blocks[-1]["elements"][0]
    assert len(section) == TEXT_LIMIT and section.endswith("…")
    assert len(button["text"]["text"]) == BUTTON_LIMIT and button["text"]["text"].endswith("…")
    assert button_of(button["value"]).option == option
