"""The Slack card that asks one person a response run's question: the text and one button per option.

Each button's value names the run (or `for_each` page) that waits, the question and the option, so a click is
self-contained; the interactivity endpoint turns it into a signed `answer` for that run. What the person may
answer is still decided by the run (the person asked, or an operator), never by the card.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from mendflow.integrations.cards import BUTTON_LIMIT, TEXT_LIMIT, clip
from mendflow.redaction import redact

ANSWER_ACTION = "mendflow_answer"
"""Prefix of an answer button's `action_id` (`mendflow_answer:OPTION`: unique within the card)."""
QUESTION_BLOCK = "mendflow_question"


class AnswerButton(BaseModel):
    """What an answer button carries (its `value`, as compact JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run: str
    """The workflow id waiting for the answer."""
    question: str
    option: str


def question_blocks(*, text: str, options: list[str], run: str, question: str) -> list[dict[str, Any]]:
    """Block Kit for the question: the text, then one button per option."""
    buttons = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": clip(option, BUTTON_LIMIT)},
            "action_id": f"{ANSWER_ACTION}:{option}",
            "value": AnswerButton(run=run, question=question, option=option).model_dump_json(),
        }
        for option in options
    ]
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": clip(redact(text), TEXT_LIMIT)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"mendflow run `{run}` · question `{question}`"}]},
        {"type": "actions", "block_id": QUESTION_BLOCK, "elements": buttons},
    ]


def answered_blocks(*, option: str, person: str, run: str, question: str) -> list[dict[str, Any]]:
    """The card once answered: what was chosen and by whom, no buttons."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"Answered *{option}* (by {person})."}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"mendflow run `{run}` · question `{question}`"}]},
    ]


def button_of(value: str) -> AnswerButton:
    """The run, question and option an answer button carries (ValueError if it is not one of ours)."""
    return AnswerButton.model_validate(json.loads(value))


__all__ = ["ANSWER_ACTION", "QUESTION_BLOCK", "AnswerButton", "answered_blocks", "button_of", "question_blocks"]
