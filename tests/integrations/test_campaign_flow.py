"""The whole approval loop on a real Temporal dev server over loopback HTTP: card → signed click → rollout →
card and ticket updated; every refused click changes nothing; Slack down; no secret leaks anywhere."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from mendflow.api.app import create_api_app, temporal_decider
from mendflow.api.operations import Actor, Operations
from mendflow.audit import AuditLog
from mendflow.demo import card_history
from mendflow.integrations.slack import SlackDirectory
from mendflow.models import AuthMethod, Channel, Verdict
from mendflow.rbac import Person, RbacConfig
from mendflow.runtime.worker import build_worker
from mendflow.secrets import SecretRef
from mendflow.settings import JiraSettings, Settings, SlackSettings
from mendflow.sim.slack import SlackWorkspace
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus
from tests.conftest import SimulatedOrg
from tests.signing import SIGNER, trusting
from tests.workflows.campaigns import hook_configs, hook_playbook, start_campaign

from .conftest import ALICE, BOB, CAROL, MALLORY, ONCALL, SimulatedJira, cards_for, serve_here

pytestmark = pytest.mark.slow

ORDER = ["awaiting_approval", "approved", "canary_running", "rolling_out", "verified"]

RBAC = RbacConfig(
    people={
        "alice": Person(groups=("secops-oncall",), slack=ALICE),
        "bob": Person(groups=("secops-oncall",), slack=BOB),
        "carol": Person(groups=("secops-leads",), slack=CAROL),
        "mallory": Person(groups=("sales",), slack=MALLORY),
    },
    default_approvers=("group:secops-oncall",),
)


@dataclass
class Flow:
    env: WorkflowEnvironment
    slack: SlackWorkspace
    jira: SimulatedJira
    org: SimulatedOrg
    app: Any
    audit: AuditLog
    queue: str
    context: WorkerContext

    async def settle(self) -> None:
        await self.app.state.slack.drain()

    async def status(self, handle: WorkflowHandle[Any, Any]) -> CampaignStatus:
        result: CampaignStatus = await handle.query("status", result_type=CampaignStatus)
        return result

    def card(self, campaign_id: str) -> tuple[str, str]:
        for (channel, ts), versions in self.slack.messages.items():
            if campaign_id in json.dumps(versions[0].blocks):
                return channel, ts
        raise AssertionError(f"no card for {campaign_id}")


async def until(check: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def idle(handle: WorkflowHandle[Any, Any]) -> CampaignStatus:
    status: CampaignStatus = await handle.execute_update("wait_idle", result_type=CampaignStatus)
    return status


@pytest.fixture
async def flow(
    dev_env: WorkflowEnvironment,
    slack: SlackWorkspace,
    jira: SimulatedJira,
    github_org: SimulatedOrg,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Flow]:
    """A worker publishing to the Slack and Jira simulators, and the API app (in this loop) deciding through
    Temporal; tokens are handed over by environment reference."""
    monkeypatch.setenv("FLOW_SLACK_BOT", slack.bot_token)
    monkeypatch.setenv("FLOW_SLACK_SIGNING", slack.signing_secret)
    monkeypatch.setenv("FLOW_JIRA_TOKEN", jira.token)
    settings = trusting(
        Settings(
            rbac=RBAC,
            slack=SlackSettings(
                bot_token=SecretRef(ref="env:FLOW_SLACK_BOT"),
                signing_secret=SecretRef(ref="env:FLOW_SLACK_SIGNING"),
                base_url=slack.base_url + "/api/",
                channel="#sec-remediation",
                usergroups={ONCALL: "secops-oncall"},
                max_retries=0,
                timeout=5,
            ),
            jira=JiraSettings(
                server=jira.base_url, user=jira.state.user, token=SecretRef(ref="env:FLOW_JIRA_TOKEN"), timeout=5
            ),
        )
    )
    playbook = hook_playbook(bake="1s", extra="ticket: {project: SEC, labels: [security]}")
    context = WorkerContext(
        registry=github_org.registry(), data_dir=tmp_path / "data", playbooks={playbook.id: playbook}, settings=settings
    )
    audit = AuditLog(tmp_path / "audit.jsonl", fsync=False)
    cards = cards_for(slack)
    app = create_api_app(
        slack_signing_secret=slack.signing_secret,
        decide=temporal_decider(Operations(dev_env.client, SIGNER, audit)),
        directory=SlackDirectory.from_rbac(cards, RBAC, usergroups={ONCALL: "secops-oncall"}),
        audit=audit,
        cards=cards,
    )
    queue = f"q-{uuid.uuid4()}"
    async with serve_here(app) as server, build_worker(dev_env.client, context, task_queue=queue):
        slack.interactivity_url = f"{server.base_url}/slack/interactivity"
        yield Flow(dev_env, slack, jira, github_org, app, audit, queue, context)
        await app.state.slack.drain()


async def start(flow: Flow) -> WorkflowHandle[Any, Any]:
    playbook = flow.context.playbooks["github.repo_hook.insecure_ssl"]
    handle = await start_campaign(flow.env.client, flow.queue, playbook)
    assert (await idle(handle)).state == "awaiting_approval"
    await until(lambda: flow.slack.find_card(handle.id) is not None)
    return handle


def is_ordered(states: list[str]) -> bool:
    positions = [ORDER.index(s) for s in states]
    return positions == sorted(positions)


async def approve_and_finish(flow: Flow, handle: WorkflowHandle[Any, Any], reason: str = "") -> CampaignStatus:
    response = await flow.slack.click(user=ALICE, campaign_id=handle.id, reason=reason or None)
    assert isinstance(response, httpx.Response) and response.status_code == 200
    await flow.settle()
    done = await idle(handle)
    assert done.state == "completed"
    channel, ts = flow.card(handle.id)
    await until(lambda: card_history(flow.slack, channel, ts)[-1] == "verified")
    key = done.refs.jira_key if done.refs else None
    assert key is not None
    await until(lambda: flow.jira.state.issues[key].status == "Done")
    return done


async def test_signed_click_approves_and_card_and_ticket_follow_the_rollout(flow: Flow) -> None:
    before = hook_configs(flow.org.state)
    handle = await start(flow)
    done = await approve_and_finish(flow, handle)
    assert [(d.approver, d.channel.value, d.channel_user) for d in done.decisions] == [("alice", "slack", ALICE)]
    assert hook_configs(flow.org.state) != before
    channel, ts = flow.card(handle.id)
    states = card_history(flow.slack, channel, ts)
    assert states[0] == "awaiting_approval" and states[-1] == "verified" and is_ordered(states), states
    assert {"canary_running", "rolling_out"} & set(states), states
    assert len(flow.slack.cards()) == 1  # one message, updated in place
    assert flow.slack.find_card(handle.id) is None  # no buttons once decided
    issue = flow.jira.state.issues[done.refs.jira_key]  # type: ignore[union-attr]
    assert issue.project == "SEC" and "security" in issue.labels
    assert handle.id in str(issue.description) and "/repos/acme/api/hooks/11" in str(issue.description)
    assert issue.comments and issue.transitions == ["Done"]
    [accepted] = [r for r in flow.audit.records() if r["outcome"] == "accepted"]
    assert accepted["actor"] == "alice" and accepted["campaign_id"] == handle.id


async def test_refused_clicks_change_nothing(flow: Flow) -> None:
    """Bad signature, stale timestamp, replay, a user not allowed, a click on an already-decided card."""
    before = hook_configs(flow.org.state)
    handle = await start(flow)
    waiting = await flow.status(handle)
    url = flow.slack.interactivity_url

    async def post(body: bytes, headers: dict[str, str]) -> httpx.Response:
        async with httpx.AsyncClient(timeout=5) as client:
            return await client.post(url, content=body, headers=headers)

    def body_for(user: str, **options: Any) -> bytes:
        payload = flow.slack.build_click(user=user, campaign_id=handle.id, **options)
        return urlencode({"payload": json.dumps(payload)}).encode()

    forged = body_for(ALICE)
    headers = flow.slack.signed(forged)
    headers["X-Slack-Signature"] = "v0=" + "0" * 64
    assert (await post(forged, headers)).status_code == 401
    stale = body_for(ALICE)
    assert (await post(stale, flow.slack.signed(stale, timestamp=int(time.time()) - 600))).status_code == 401
    mallory = body_for(MALLORY)
    signed = flow.slack.signed(mallory)
    assert (await post(mallory, signed)).status_code == 200  # acked, then refused by the workflow's validator
    await flow.settle()
    assert (await post(mallory, signed)).status_code == 401  # the very same signed request again
    await flow.settle()
    unchanged = await flow.status(handle)
    assert unchanged.state == "awaiting_approval" and unchanged.decisions == []
    assert unchanged.timeline == waiting.timeline and hook_configs(flow.org.state) == before
    assert "may not approve" in flow.slack.private(MALLORY)[-1].text

    channel, ts = flow.card(handle.id)
    first_version = flow.slack.messages[(channel, ts)][0]
    await approve_and_finish(flow, handle)
    after = hook_configs(flow.org.state)
    late = flow.slack.build_click(user=BOB, campaign_id=handle.id, card=first_version, require_button=False)
    assert (await flow.slack.post_payload(late)).status_code == 200
    await flow.settle()
    final = await flow.status(handle)
    assert [d.approver for d in final.decisions] == ["alice"] and hook_configs(flow.org.state) == after
    refusals = [r for r in flow.audit.records() if r["outcome"] == "refused"]
    reasons = " | ".join(r["reason"] for r in refusals)
    assert "signature does not match" in reasons and "stale timestamp" in reasons and "replayed" in reasons
    assert "may not approve" in reasons and "not awaiting a decision" in reasons, reasons
    assert len(refusals) == 5


async def test_slack_down_campaign_waits_cli_still_works_and_card_catches_up(flow: Flow) -> None:
    flow.slack.fail_next(4, status=503, methods=("chat.postMessage", "chat.update"))
    playbook = flow.context.playbooks["github.repo_hook.insecure_ssl"]
    handle = await start_campaign(flow.env.client, flow.queue, playbook)
    assert (await idle(handle)).state == "awaiting_approval"
    await asyncio.sleep(1.0)
    assert flow.slack.cards() == [] and (await flow.status(handle)).state == "awaiting_approval"
    bob = Actor(person="bob", groups=RBAC.groups_of("bob"), auth=AuthMethod.token, channel=Channel.api)
    ops = Operations(flow.env.client, SIGNER, flow.audit)
    outcome = await ops.decide(bob, handle.id, Verdict.approve, "Slack is down")
    assert outcome.accepted
    assert (await idle(handle)).state == "completed"
    await until(lambda: bool(flow.slack.cards()), within=30)
    channel, ts = flow.card(handle.id)
    await until(lambda: card_history(flow.slack, channel, ts)[-1] == "verified", within=30)
    assert [d.approver for d in (await flow.status(handle)).decisions] == ["bob"]


async def test_planted_secrets_never_leak(flow: Flow, caplog: pytest.LogCaptureFixture, capsys: Any) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = [flow.slack.bot_token, flow.slack.signing_secret, flow.jira.token]
    handle = await start(flow)
    # A person pastes the bot token into the Reason box: it must not reach the workflow history either.
    await approve_and_finish(flow, handle, reason=f"ok {flow.slack.bot_token}")
    history = (await handle.fetch_history()).to_json()
    issues = json.dumps([[i.summary, i.description, i.comments] for i in flow.jira.state.issues.values()], default=str)
    logs = caplog.text + "".join(capsys.readouterr())
    audit = json.dumps(flow.audit.records())
    for place, text in {
        "slack": flow.slack.all_text(),
        "jira": issues,
        "logs": logs,
        "audit": audit,
        "history": history,
    }.items():
        for secret in secrets:
            assert secret not in text, f"a secret leaked into {place}"
