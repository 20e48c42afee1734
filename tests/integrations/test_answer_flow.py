"""A response run's question end to end: the DM card in the Slack simulator, a signed click through the API's
interactivity endpoint, the run's own check of who may answer; replays refused (the shared replay cache)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import yaml
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from mendflow.api.app import create_api_app, temporal_answerer, temporal_decider
from mendflow.api.assemble import build_api
from mendflow.api.operations import Operations
from mendflow.audit import AuditLog
from mendflow.auth.tokens import Role, StoredTokens
from mendflow.config import TenantRegistry
from mendflow.integrations.question_card import ANSWER_ACTION
from mendflow.integrations.slack import SlackDirectory
from mendflow.rbac import Person, RbacConfig
from mendflow.responses import ResponsePlaybook
from mendflow.responses.messages import ResponseStatus, RunState
from mendflow.runtime.responses import start_response
from mendflow.runtime.worker import build_worker
from mendflow.secrets import SecretRef
from mendflow.settings import Settings, SlackSettings
from mendflow.sim.slack import Sent, SlackWorkspace
from mendflow.store import Database, StoredReplayCache, database_url
from mendflow.worker_context import WorkerContext
from tests.cli_in_process import invoker
from tests.signing import SIGNER, trusting

from .conftest import ALICE, BOB, MALLORY, ONCALL, cards_for, serve_here

RBAC = RbacConfig(
    people={
        "alice": Person(groups=("secops-oncall",), slack=ALICE),
        "bob": Person(groups=("engineering",), slack=BOB),
        "mallory": Person(groups=("sales",), slack=MALLORY),
    },
    default_approvers=("group:secops-oncall",),
)
DEFINITION = ResponsePlaybook.model_validate(
    {
        "apiVersion": "mendflow/v1", "kind": "Workflow", "id": "test.ask", "title": "ask", "tenant": "none:x",
        "steps": yaml.safe_load(
            '- {id: ask, kind: wait, timeout: 1d,'
            '   answer: {from: \'"bob"\', question: "Is hook 7 yours?", options: [mine, unknown]}}'
        ),
    }
)  # fmt: skip


@dataclass
class Flow:
    slack: SlackWorkspace
    audit: AuditLog
    app: Any
    handle: WorkflowHandle[Any, ResponseStatus]

    def card(self) -> Sent:
        for versions in self.slack.messages.values():
            if ANSWER_ACTION in json.dumps(versions[-1].blocks):
                return versions[-1]
        raise AssertionError("no question card")

    def body(self, user: str, option: str) -> bytes:
        """The form body Slack posts when `user` presses the `option` button of the question card."""
        card = self.card()
        payload = self.slack.build_click(user=user, campaign_id="", card=card, require_button=False)
        button = next(
            e for b in card.blocks if b["type"] == "actions" for e in b["elements"]
            if e["action_id"] == f"{ANSWER_ACTION}:{option}"
        )  # fmt: skip
        payload["actions"] = [{**button, "block_id": "mendflow_question", "action_ts": "1.0"}]
        return urlencode({"payload": json.dumps(payload)}).encode()

    async def post(self, body: bytes, headers: dict[str, str] | None = None) -> int:
        headers = headers or self.slack.signed(body)
        async with httpx.AsyncClient(timeout=5) as client:
            sent = await client.post(self.slack.interactivity_url, content=body, headers=headers)
        await self.app.state.slack.drain()
        return sent.status_code


@pytest.fixture
async def flow(
    time_env: WorkflowEnvironment, slack: SlackWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Flow]:
    monkeypatch.setenv("ASK_SLACK_BOT", slack.bot_token)
    monkeypatch.setenv("ASK_SLACK_SIGNING", slack.signing_secret)
    settings = trusting(
        Settings(
            rbac=RBAC,
            slack=SlackSettings(
                bot_token=SecretRef(ref="env:ASK_SLACK_BOT"), signing_secret=SecretRef(ref="env:ASK_SLACK_SIGNING"),
                base_url=slack.base_url + "/api/", channel="#sec-remediation", usergroups={ONCALL: "secops-oncall"},
                max_retries=0, timeout=5,
            ),
        )
    )  # fmt: skip
    context = WorkerContext(registry=TenantRegistry(), data_dir=tmp_path / "data", playbooks={}, settings=settings)
    audit = AuditLog(tmp_path / "audit.jsonl", fsync=False)
    cards = cards_for(slack)
    ops = Operations(time_env.client, SIGNER, audit)
    db = Database.open(database_url(tmp_path / "api-db"))
    app = create_api_app(
        replay=StoredReplayCache(db),  # the shared cache assemble gives the API: a replay is refused by every replica
        slack_signing_secret=slack.signing_secret,
        decide=temporal_decider(ops),
        answer=temporal_answerer(ops),
        directory=SlackDirectory.from_rbac(cards, RBAC, usergroups={ONCALL: "secops-oncall"}),
        audit=audit,
        cards=cards,
    )
    queue = f"q-{uuid.uuid4()}"
    async with serve_here(app) as server, build_worker(time_env.client, context, task_queue=queue):
        slack.interactivity_url = f"{server.base_url}/slack/interactivity"
        handle = await start_response(time_env.client, DEFINITION, {}, task_queue=queue)
        for _ in range(200):
            status = await handle.query("status", result_type=ResponseStatus)
            if status.state is RunState.waiting:
                break
            await asyncio.sleep(0.05)
        yield Flow(slack, audit, app, handle)
    db.dispose()


async def test_the_person_asked_answers_with_a_button_in_their_dm(flow: Flow) -> None:
    """bob gets the question as a DM card; his click on `mine` becomes the step's output."""
    card = flow.card()
    assert card.channel.startswith("D") and "Is hook 7 yours?" in card.text
    assert await flow.post(flow.body(BOB, "mine")) == 200
    done = await flow.handle.result()
    assert done.steps[0].output == {"answer": "mine", "by": "bob", "timed_out": False}
    now = flow.slack.messages[(card.channel, card.ts)][-1]  # the card, updated in place: no more buttons
    assert "Answered *mine* (by bob)" in json.dumps(now.blocks) and ANSWER_ACTION not in json.dumps(now.blocks)
    [accepted] = [r for r in flow.audit.records() if r["kind"] == "slack.answer"]
    assert accepted["outcome"] == "accepted" and accepted["actor"] == "bob" and accepted["channel_user"] == BOB


async def test_someone_else_is_refused_and_a_replayed_click_is_not_even_read(flow: Flow) -> None:
    """mallory (not asked, not an operator) is refused by the run; the same signed request again is refused at the
    door (401, the replay cache); alice, an operator (secops-oncall), may answer in bob's place."""
    body = flow.body(MALLORY, "unknown")
    headers = flow.slack.signed(body)
    assert await flow.post(body, headers) == 200
    assert await flow.post(body, headers) == 401
    status = await flow.handle.query("status", result_type=ResponseStatus)
    assert status.state is RunState.waiting
    refused = [r for r in flow.audit.records() if r["kind"] == "slack.answer"]
    assert [r["outcome"] for r in refused] == ["refused"]
    assert "mallory may not answer a question put to bob" in refused[0]["reason"]
    assert any("replayed request" in r.get("reason", "") for r in flow.audit.records())
    assert await flow.post(flow.body(ALICE, "unknown")) == 200
    done = await flow.handle.result()
    assert done.steps[0].output["answer"] == "unknown" and done.steps[0].detail == "unknown (alice for bob)"


async def test_mendflow_answer_goes_through_the_operator_api(
    flow: Flow, time_env: WorkflowEnvironment, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """`mendflow answer RUN QUESTION OPTION` with mallory's token is refused by the run (exit 3); with bob's it is
    the step's output."""
    api_dir = tmp_path / "api"
    api = build_api(Settings(rbac=RBAC), time_env.client, data_dir=api_dir, signer=SIGNER)
    db = Database.open(database_url(api_dir))
    tokens = {p: StoredTokens(db).create(person=p, role=Role.viewer, name="t", ttl_seconds=3600)[0]
              for p in ("bob", "mallory")}  # fmt: skip
    run = invoker(capsys, monkeypatch)
    said = {}
    async with serve_here(api) as server:
        for person in ("mallory", "bob"):
            monkeypatch.setenv("MENDFLOW_TOKEN", tokens[person])
            said[person] = await asyncio.to_thread(
                run, "answer", flow.handle.id, "ask", "mine", "--api-url", server.base_url
            )
    db.dispose()
    assert said["mallory"].returncode == 3 and "mallory may not answer a question put to bob" in str(said["mallory"])
    assert said["bob"].returncode == 0, said["bob"]
    result = await flow.handle.result()
    assert result.steps[0].output == {"answer": "mine", "by": "bob", "timed_out": False}
