"""Fixtures for the Slack and Jira integrations: simulators on loopback, the API app in the test's loop, a gate."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from mendflow.activities.response import ResponseActivities
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from starlette.types import ASGIApp

from mendflow.audit import AuditLog
from mendflow.config import TenantRegistry
from mendflow.integrations.cards import CampaignCard, CardResource, Rollout
from mendflow.integrations.slack import SlackCards, SlackDirectory
from mendflow.models import Decision, DecisionOutcome, Severity, Verdict
from mendflow.redaction import register_secret
from mendflow.runtime.loopback import LoopbackServer, serve_async, serve_in_thread
from mendflow.secrets import SecretRef
from mendflow.settings import Settings, SlackSettings
from mendflow.sim.jira import JiraState, create_jira_app
from mendflow.sim.slack import SlackWorkspace, create_slack_app
from mendflow.worker_context import WorkerContext
from tests.switchboard import Switchboard

ALICE = "U0ALICE001"
BOB = "U0BOB00001"
CAROL = "U0CAROL001"
MALLORY = "U0MALLORY1"
ONCALL = "S0ONCALL01"
CHANNEL = "C0SECREMED1"


@pytest.fixture
def slack(slack_board: Switchboard) -> Iterator[SlackWorkspace]:
    """A fresh simulated Slack workspace, plugged into this process's Slack server; `base_url` is set."""
    bot = "xoxb-" + secrets.token_hex(12)
    app = "xapp-" + secrets.token_hex(12)
    signing = secrets.token_hex(16)
    for value in (bot, app, signing):
        register_secret(value)
    workspace = SlackWorkspace(
        bot_token=bot,
        app_token=app,
        signing_secret=signing,
        users={ALICE: "alice", BOB: "bob", CAROL: "carol", MALLORY: "mallory"},
        usergroups={ONCALL: [ALICE, CAROL]},
    )
    with slack_board.plugged(create_slack_app(workspace)) as server:
        workspace.base_url = server.base_url
        yield workspace


def slack_settings(workspace: SlackWorkspace, monkeypatch: pytest.MonkeyPatch, prefix: str) -> SlackSettings:
    """Worker settings' `slack:` for the simulator (the tokens behind `env:<prefix>_BOT` / `_SIGNING`; no retries)."""
    monkeypatch.setenv(f"{prefix}_BOT", workspace.bot_token)
    monkeypatch.setenv(f"{prefix}_SIGNING", workspace.signing_secret)
    return SlackSettings(
        bot_token=SecretRef(ref=f"env:{prefix}_BOT"),
        signing_secret=SecretRef(ref=f"env:{prefix}_SIGNING"),
        base_url=workspace.base_url + "/api/",
        channel=CHANNEL,
        max_retries=0,
        timeout=5,
    )


def worker_contexts(tmp_path: Path, settings: Settings, count: int = 2) -> list[WorkerContext]:
    """The contexts of `count` workers sharing one database (a retry may land on another worker)."""
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    return [
        WorkerContext(
            registry=TenantRegistry(), data_dir=tmp_path / f"w{n}", playbooks={}, settings=settings, database_url=url
        )
        for n in range(count)
    ]


def response_workers(tmp_path: Path, settings: Settings, count: int = 2) -> list[ResponseActivities]:
    """Response activities of `count` workers sharing one database (a retry may land on another worker)."""
    return [ResponseActivities(context) for context in worker_contexts(tmp_path, settings, count)]


def cards_for(workspace: SlackWorkspace, **options: object) -> SlackCards:
    """A SlackCards client for the simulator, retrying quickly (fixed 50 ms backoff)."""
    settings: dict[str, object] = {
        "token_ref": "env:SLACK_BOT_TOKEN",
        "base_url": workspace.base_url + "/api/",
        "retry_interval": FixedValueRetryIntervalCalculator(0.05),
        "timeout": 5,
    }
    settings.update(options)
    return SlackCards(workspace.bot_token, **settings)  # type: ignore[arg-type]


@pytest.fixture
def cards(slack: SlackWorkspace) -> SlackCards:
    return cards_for(slack)


@pytest.fixture
def directory(cards: SlackCards) -> SlackDirectory:
    """alice/bob/carol are known (mallory is not); the on-call Slack user group stands for `secops-oncall`."""
    return SlackDirectory(
        cards,
        users={ALICE: "alice", BOB: "bob", CAROL: "carol"},
        groups={"bob": ("secops-leads",)},
        usergroups={ONCALL: "secops-oncall"},
    )


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "audit.jsonl", fsync=False)


@dataclass
class Gate:
    """A stand-in for the workflow's `decide` update: approvers are the on-call group; one decision each."""

    campaigns: set[str] = field(default_factory=lambda: {"camp-1"})
    principals: tuple[str, ...] = ("group:secops-oncall",)
    decisions: list[tuple[str, Decision]] = field(default_factory=list)
    hold: asyncio.Event | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, campaign_id: str, decision: Decision) -> DecisionOutcome:
        try:
            if self.hold is not None:
                await self.hold.wait()
            if campaign_id not in self.campaigns:
                return DecisionOutcome(accepted=False, message=f"campaign {campaign_id} is not awaiting a decision")
            mine = {f"user:{decision.approver}", *(f"group:{g}" for g in decision.groups)}
            if not mine & set(self.principals):
                return DecisionOutcome(
                    accepted=False, message=f"{decision.approver} may not approve: needs {', '.join(self.principals)}"
                )
            if any(c == campaign_id and d.approver == decision.approver for c, d in self.decisions):
                return DecisionOutcome(accepted=False, message=f"{decision.approver} already decided")
            self.decisions.append((campaign_id, decision))
            state = "approved" if decision.verdict is Verdict.approve else "rejected"
            return DecisionOutcome(accepted=True, message=f"campaign is {state}", state=state)
        finally:
            self.finished.set()


@pytest.fixture
def gate() -> Gate:
    return Gate()


@contextlib.asynccontextmanager
async def serve_here(app: ASGIApp) -> AsyncIterator[LoopbackServer]:
    """Serve `app` in the running event loop (so tests can share asyncio objects with it) on a free port."""
    ready: asyncio.Future[LoopbackServer] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve_async(app, host="127.0.0.1", port=0, ready=ready.set_result))
    try:
        yield await ready
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def sample_card(**changes: object) -> CampaignCard:
    card = CampaignCard(
        campaign_id="camp-1",
        playbook_id="github.repo_hook.insecure_ssl",
        title="Repository webhooks must verify TLS certificates",
        severity=Severity.high,
        tenant="github:acme",
        risk="7.5/10",
        compliance=("SOC2:CC6.7", "ISO27001:A.8.24"),
        resources=tuple(
            CardResource(
                id=f"/repos/acme/api/hooks/{n}",
                url=f"https://github.com/acme/api/settings/hooks/{n}",
                before={"insecure_ssl": "1"},
                after={"insecure_ssl": "0"},
            )
            for n in range(1, 4)
        ),
        rollout=Rollout(canary=1, batches=("50%", "100%"), max_failures=0),
        approvers=("group:secops-oncall",),
        required_approvals=1,
    )
    return card.model_copy(update=changes)


@dataclass
class SimulatedJira:
    state: JiraState
    base_url: str
    token: str


@contextlib.contextmanager
def jira_site() -> Iterator[SimulatedJira]:
    """The Jira simulator on loopback, its token registered as a secret (the fixture, and workflow tests' sites)."""
    token = "jira-" + secrets.token_hex(12)
    register_secret(token)
    state = JiraState(token=token)
    with serve_in_thread(create_jira_app(state)) as server:
        state.base_url = server.base_url
        yield SimulatedJira(state, server.base_url, token)


@pytest.fixture
def jira(jira_board: Switchboard) -> Iterator[SimulatedJira]:
    """A fresh Jira simulator, plugged into this process's Jira server (`jira_site()` serves its own)."""
    token = "jira-" + secrets.token_hex(12)
    register_secret(token)
    state = JiraState(token=token)
    with jira_board.plugged(create_jira_app(state)) as server:
        state.base_url = server.base_url
        yield SimulatedJira(state, server.base_url, token)
