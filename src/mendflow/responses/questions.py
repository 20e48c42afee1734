"""`wait` for a person's answer: the question a run asks, who may answer it, and the check of an answer.

    wait step ─> ask_person activity (resolves the operators from RBAC, DMs the person a card with one button
    per option) ─> the run waits (durably, days if need be) ─> `answer` update, validated here ─> the step's output
    (`answer`, `by`); nobody in time ─> `expired`

An answer comes signed by mendflow's API (Slack click, CLI or API call alike): the proof binds the run, the
question and the option (`verdict` = `QUESTION=OPTION`), so a relay cannot change the choice. Only the person
asked, or one of the playbook's operators (its approvers), may answer.
Kept free of I/O imports: the workflows import it inside Temporal's sandbox.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import datetime

from pydantic import Field

from mendflow.auth.proof import Claims, matches, verify
from mendflow.models import Channel, Proof, Severity
from mendflow.rbac import is_allowed
from mendflow.responses.messages import Message

ANSWER_VERB = "answer"


def signed_choice(question: str, option: str) -> str:
    """What the proof's `verdict` carries for an answer."""
    return f"{question}={option}"


class AskInput(Message):
    """A question to one person, with its options (the `ask_person` activity)."""

    workflow_id: str
    """The run (or `for_each` page) that waits: the card's buttons answer it."""
    question_id: str
    """The wait step's id, or `STEP#INDEX` inside a `for_each` body (INDEX: the item's)."""
    playbook_id: str
    severity: Severity
    person: str
    """The mendflow identity asked (RBAC `people` name), from the step's `from`."""
    text: str
    options: list[str]


class AskPlan(Message):
    """What the worker resolved for a question: who may answer besides the person, and the keys that sign."""

    operators: list[str]
    """`user:` / `group:` principals that may answer in the person's place (the playbook's approvers)."""
    trusted_keys: dict[str, str] = Field(default_factory=dict)
    """From the WORKER's config, never the workflow input."""
    delivered: bool = False
    detail: str = ""
    """Where the question went, or why it could not be sent (the run waits all the same)."""


class AnswerRequest(Message):
    """One person's answer to a waiting question (the `answer` update)."""

    question_id: str
    option: str
    person: str
    """mendflow identity, resolved by the API."""
    groups: tuple[str, ...] = ()
    channel: Channel = Channel.cli
    channel_user: str = ""
    proof: Proof | None = None


class OpenQuestion(Message):
    """A question the run waits on."""

    question_id: str
    person: str
    text: str
    options: list[str]
    plan: AskPlan


def check_answer(
    request: AnswerRequest,
    *,
    workflow_id: str,
    question: OpenQuestion | None,
    nonces: Container[str],
    now: datetime,
) -> Claims:
    """The verified claims of an acceptable answer; ValueError (plain words) for anything else."""
    if question is None:
        raise ValueError(f"nothing waits for an answer to {request.question_id!r} here (already answered, or expired)")
    if request.option not in question.options:
        raise ValueError(f"{request.option!r} is not an option (options: {', '.join(question.options)})")
    claims = verify(
        request.proof,
        trusted=question.plan.trusted_keys,
        workflow_id=workflow_id,
        verb=ANSWER_VERB,
        now=now,
        seen_nonces=nonces,
    )
    matches(
        claims,
        actor=request.person,
        groups=request.groups,
        channel=request.channel,
        verdict=signed_choice(request.question_id, request.option),
    )
    if claims.actor != question.person and not is_allowed(claims.actor, claims.groups, question.plan.operators):
        raise ValueError(
            f"{claims.actor} may not answer a question put to {question.person} "
            f"(only they or an operator: {', '.join(question.plan.operators) or 'none'})"
        )
    return claims


__all__ = [
    "ANSWER_VERB",
    "AnswerRequest",
    "AskInput",
    "AskPlan",
    "OpenQuestion",
    "check_answer",
    "signed_choice",
]
