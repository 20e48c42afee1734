"""`mendflow demo`: the whole loop on the embedded stack against a simulated GitHub organization.

Starts the Temporal dev server, a worker, the API and the GitHub, Slack and Jira simulators (GitHub seeded with
misconfigurations, delivering signed webhooks to the API), runs a scan, lets the auto playbooks fix their findings,
approves one approval-mode campaign with a signed click on its Slack card (as the on-call engineer), then changes
the org by hand and lets the webhook bring that change to a rescan and a fix, and prints what happened to every
finding, the card's history, the campaign's Jira ticket and the change made by hand.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from temporalio.client import Client

from mendflow.config import TenantConnection, TenantRegistry
from mendflow.data import demo_tenant_path
from mendflow.findings.store import FindingStatus, LedgerRow
from mendflow.integrations.cards import state_of_blocks
from mendflow.models import Finding
from mendflow.playbooks.model import Playbook
from mendflow.rbac import Person, RbacConfig
from mendflow.redaction import register_secret
from mendflow.render import diff, table
from mendflow.report import render_scan_summary
from mendflow.runtime.devserver import DevServer
from mendflow.runtime.loopback import LoopbackServer, serve_in_thread
from mendflow.runtime.ports import free_port
from mendflow.runtime.scans import run_scan_and_wait, wait_idle
from mendflow.runtime.stack import embedded_stack
from mendflow.secrets import SecretRef
from mendflow.settings import JiraSettings, Settings, SlackSettings
from mendflow.sim.deliveries import WebhookTarget
from mendflow.sim.demo_app import demo_github_app
from mendflow.sim.github import create_github_app
from mendflow.sim.jira import JiraState, create_jira_app
from mendflow.sim.slack import SlackWorkspace, create_slack_app
from mendflow.tenant import load_tenant_file
from mendflow.webhooks import WebhookSettings, WebhookTenant
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus, ScanResult

DEMO_TOKEN_ENV = "MENDFLOW_DEMO_GITHUB_TOKEN"  # noqa: S105 - a variable name, not a secret
SLACK_BOT_ENV = "MENDFLOW_DEMO_SLACK_BOT_TOKEN"
SLACK_SIGNING_ENV = "MENDFLOW_DEMO_SLACK_SIGNING_SECRET"
JIRA_TOKEN_ENV = "MENDFLOW_DEMO_JIRA_TOKEN"  # noqa: S105 - a variable name
WEBHOOK_SECRET_ENV = "MENDFLOW_DEMO_WEBHOOK_SECRET"  # noqa: S105 - a variable name
BY_HAND = "/repos/acme/api"
"""The demo's change made by hand: secret scanning turned off here, found by webhook and fixed."""
BY_HAND_RULE = "github.repo.secret_scanning_disabled"
DEMO_APPROVAL = "github.org.base_permission_not_strict"
"""The approval-mode campaign the demo approves through Slack."""
ONCALL = "alice"
ONCALL_SLACK = "U0ALICE001"
CHANNEL = "#sec-remediation"


def _secret(env: str, value: str) -> SecretRef:
    register_secret(value)
    os.environ[env] = value
    return SecretRef(ref=f"env:{env}")


@dataclass
class Collaboration:
    """The simulated Slack workspace and Jira site, and the settings pointing mendflow at them."""

    slack: SlackWorkspace
    jira: JiraState
    settings: Settings


@contextmanager
def simulated_collaboration() -> Iterator[Collaboration]:
    """Slack and Jira simulators on loopback; the on-call approver `alice` is Slack user U0ALICE001."""
    bot, signing, jira_token = "xoxb-" + secrets.token_hex(12), secrets.token_hex(16), secrets.token_hex(16)
    workspace = SlackWorkspace(bot_token=bot, signing_secret=signing, users={ONCALL_SLACK: ONCALL})
    jira = JiraState(token=jira_token)
    with ExitStack() as stack:
        slack_server = stack.enter_context(serve_in_thread(create_slack_app(workspace)))
        workspace.base_url = slack_server.base_url
        jira_server = stack.enter_context(serve_in_thread(create_jira_app(jira)))
        jira.base_url = jira_server.base_url
        settings = Settings(
            rbac=RbacConfig(
                people={ONCALL: Person(groups=("secops-oncall",), slack=ONCALL_SLACK)},
                default_approvers=("group:secops-oncall",),
            ),
            slack=SlackSettings(
                bot_token=_secret(SLACK_BOT_ENV, bot),
                signing_secret=_secret(SLACK_SIGNING_ENV, signing),
                base_url=slack_server.base_url + "/api/",
                channel=CHANNEL,
            ),
            jira=JiraSettings(
                server=jira_server.base_url, user=jira.user, token=_secret(JIRA_TOKEN_ENV, jira_token), project="SEC"
            ),
        )
        yield Collaboration(workspace, jira, settings)


def with_webhooks(settings: Settings, tenant_key: str, api_url: str) -> tuple[Settings, WebhookTarget]:
    """`settings` accepting `tenant_key`'s GitHub webhooks (a fresh secret, by reference), and where a simulator
    delivers them: the API's `/webhooks/github`."""
    secret = secrets.token_hex(20)
    ref = _secret(WEBHOOK_SECRET_ENV, secret)
    current = settings.webhooks or WebhookSettings()
    mine = WebhookTenant(tenant=tenant_key, provider="github", secret=ref)
    tenants = (*(t for t in current.tenants if t.tenant != tenant_key), mine)
    updated = settings.model_copy(update={"webhooks": current.model_copy(update={"tenants": tenants})})
    return updated, WebhookTarget(f"{api_url}/webhooks/github", secret)


@contextmanager
def simulated_github(
    tenant_file: Path, *, webhook: WebhookTarget | None = None
) -> Iterator[tuple[LoopbackServer, TenantConnection]]:
    """Serve a tenant file on loopback; mendflow connects as a GitHub App (least privilege, hour-long installation
    tokens) whose private key is handed over by reference (an environment variable). With `webhook`, every write
    (by mendflow or by hand) delivers GitHub's signed webhook there."""
    tenant = load_tenant_file(tenant_file)
    token = secrets.token_urlsafe(24)  # the simulator's static token: accepted, but nobody is given it
    register_secret(token)
    os.environ[DEMO_TOKEN_ENV] = token
    authority, auth = demo_github_app()
    with serve_in_thread(create_github_app(tenant, token=token, webhook=webhook, app_auth=authority)) as server:
        yield (
            server,
            TenantConnection(
                key=f"github:{tenant.tenant}",
                provider="github",
                tenant=tenant.tenant,
                base_url=server.base_url,
                auth=auth,
            ),
        )


@dataclass(frozen=True)
class DemoReport:
    scan: ScanResult
    findings: list[Finding]
    campaign_of: dict[str, CampaignStatus]
    """fingerprint → the campaign that owns the finding (findings of notify-only playbooks have none)."""
    ui_url: str
    seconds: float
    card_states: list[str] = field(default_factory=list)
    """States the approved campaign's Slack card went through, first post first."""
    approval: str = ""
    """What happened to the approval click."""
    ticket: str = ""
    """The approved campaign's Jira ticket: key, status, comments."""
    by_hand: str = ""
    """What became of the change made by hand: detected by webhook (how fast), fixed by whom."""


async def _until(check: Callable[[], bool], within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.02)
    return False


def card_history(workspace: SlackWorkspace, channel: str, ts: str) -> list[str]:
    """The states a card went through (consecutive repeats folded)."""
    states: list[str] = []
    for version in workspace.messages.get((channel, ts), []):
        state = state_of_blocks(version.blocks)
        label = state.value if state else "?"
        if not states or states[-1] != label:
            states.append(label)
    return states


async def _approve_in_slack(
    client: Client, collab: Collaboration, campaign: CampaignStatus, interactivity_url: str
) -> tuple[CampaignStatus, list[str], str, str]:
    """The on-call engineer clicks Approve on the campaign's card; wait until the card shows the end state."""
    workspace = collab.slack
    workspace.interactivity_url = interactivity_url
    cid = campaign.campaign_id
    if not await _until(lambda: workspace.find_card(cid) is not None):
        return campaign, [], "no card was posted", ""
    response = await workspace.click(user=ONCALL_SLACK, campaign_id=cid, reason="demo: approved by on-call")
    status_code = getattr(response, "status_code", 0)
    await _until(lambda: _decided(workspace, cid))
    final = await wait_idle(client, cid)
    card = next((v[0] for v in workspace.messages.values() if v and v[0].blocks and cid in str(v[0].blocks)), None)
    key = final.refs.jira_key if final.refs else None

    def caught_up() -> bool:
        shown = card_history(workspace, card.channel, card.ts) if card else []
        ticket_done = key is None or (
            collab.jira.issues.get(key) is not None and collab.jira.issues[key].status == "Done"
        )
        return bool(shown) and shown[-1] in ("verified", "completed_with_failures", "rolled_back") and ticket_done

    await _until(caught_up)
    final = await wait_idle(client, cid)
    key = final.refs.jira_key if final.refs else key
    states = card_history(workspace, card.channel, card.ts) if card else []
    who = ", ".join(f"{d.approver} via {d.channel.value} ({d.channel_user})" for d in final.decisions) or "nobody"
    approval = f"signed click by {ONCALL_SLACK} → HTTP {status_code}; approved by {who}"
    ticket = ""
    if key and key in collab.jira.issues:
        issue = collab.jira.issues[key]
        ticket = f"{key} [{issue.status}] {len(issue.comments)} comment(s), transitions: {', '.join(issue.transitions)}"
    return final, states, approval, ticket


def _decided(workspace: SlackWorkspace, campaign_id: str) -> bool:
    return workspace.find_card(campaign_id) is None


async def change_by_hand(sim: LoopbackServer, context: WorkerContext, tenant_key: str) -> str:
    """A person turns secret scanning off on acme/api through GitHub's API; the simulator's webhook brings it to
    mendflow without a scan. Says how long until the finding was open and until it was resolved, and by whom."""
    token = os.environ[DEMO_TOKEN_ENV]
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=10) as person:
        answer = await person.patch(
            BY_HAND,
            json={"security_and_analysis": {"secret_scanning": {"status": "disabled"}}},
            headers={"Authorization": f"Bearer {token}"},
        )
    if answer.status_code != 200:
        return f"the change by hand was refused (HTTP {answer.status_code})"

    def row() -> LedgerRow | None:  # none before the change: scanning was on
        rows = context.ledger.rows(tenant_key)
        return next((r for r in rows if r.finding.rule == BY_HAND_RULE and r.finding.resource.id == BY_HAND), None)

    if not await _until(lambda: row() is not None, within=30):
        return f"secret scanning turned off on {BY_HAND} by hand: not detected within 30 s"
    detected = time.monotonic() - started
    if not await _until(lambda: (r := row()) is not None and r.status is FindingStatus.resolved, within=30):
        return f"secret scanning turned off on {BY_HAND} by hand: detected by webhook in {detected:.2f}s, not fixed yet"
    fixed = time.monotonic() - started
    resolution = (row() or _never()).resolution
    return (
        f"secret scanning turned off on {BY_HAND} by hand: detected by webhook in {detected:.2f}s (no scan), "
        f"resolved {resolution} in {fixed:.2f}s"
    )


def _never() -> LedgerRow:
    raise AssertionError("the row was there a moment ago")


async def run_demo(data_dir: Path, playbooks: list[Playbook]) -> DemoReport:
    started = time.monotonic()
    server = DevServer(data_dir=data_dir / "temporal", port=free_port(), ui_port=free_port())
    api_port = free_port()
    with simulated_collaboration() as collab:
        settings, hook = with_webhooks(collab.settings, "github:acme", f"http://127.0.0.1:{api_port}")
        with simulated_github(demo_tenant_path(), webhook=hook) as (sim, connection):
            registry = TenantRegistry()
            registry.add(connection)
            context = WorkerContext(
                registry=registry, data_dir=data_dir, playbooks={p.id: p for p in playbooks}, settings=settings
            )
            states: list[str] = []
            approval = ticket = ""
            async with embedded_stack(server, context, api_port=api_port) as stack:
                scan, campaigns = await run_scan_and_wait(stack.client, connection.key)
                for index, campaign in enumerate(campaigns):
                    if campaign.playbook_id == DEMO_APPROVAL and campaign.state == "awaiting_approval":
                        campaigns[index], states, approval, ticket = await _approve_in_slack(
                            stack.client, collab, campaign, stack.interactivity_url
                        )
                by_hand = await change_by_hand(sim, context, connection.key)
            findings = [Finding.model_validate(line) for line in context.snapshots.read_lines(scan.findings_digest)]
    campaign_of = {t.fingerprint: c for c in campaigns if c.plan for t in c.plan.targets}
    seconds = time.monotonic() - started
    return DemoReport(scan, findings, campaign_of, server.ui_url, seconds, states, approval, ticket, by_hand)


def _row(finding: Finding, campaign: CampaignStatus | None) -> list[str]:
    if campaign is None or campaign.plan is None:
        return [finding.rule, finding.resource.id, finding.severity.value, "report only", "-", "open"]
    plan = campaign.plan
    change = next((c for c in campaign.changes if c.resource.id == finding.resource.id), None)
    if change is None:
        target = next(t for t in plan.targets if t.fingerprint == finding.fingerprint)
        who = f"{plan.required_approvals} of {', '.join(plan.approvers)}"
        return [
            finding.rule,
            finding.resource.id,
            finding.severity.value,
            plan.action,
            diff(target.current, target.intended),
            f"{campaign.state} ({who})",
        ]
    outcome = change.outcome.value + (f" ({change.detail})" if change.detail else "")
    return [
        finding.rule,
        finding.resource.id,
        finding.severity.value,
        change.action,
        diff(change.before, change.after),
        outcome,
    ]


def render_report(report: DemoReport) -> str:
    rows = [_row(f, report.campaign_of.get(f.fingerprint)) for f in report.findings]
    scan = report.scan
    lines = [
        table(
            ["finding", "resource", "severity", "action", "before → after", "outcome"],
            rows,
            max_width=[60, 70, 8, 40, 60, 60],
        ),
        "",
        render_scan_summary(scan),
        f"verified fixes: {_count(report, 'verified')}; restored: {_count(report, 'restored')}; "
        f"campaigns awaiting approval: {sum(1 for c in _campaigns(report) if c.state == 'awaiting_approval')}",
        f"Slack approval of {DEMO_APPROVAL}: {report.approval or 'not run (no such campaign awaiting approval)'}",
        f"Slack card history: {' → '.join(report.card_states) or '-'}",
        f"Jira ticket: {report.ticket or '-'}",
        f"change by hand: {report.by_hand or '-'}",
        f"Temporal UI (while the stack runs; `mendflow up` keeps it running): {report.ui_url}",
        f"demo took {report.seconds:.1f}s",
    ]
    return "\n".join(lines)


def _campaigns(report: DemoReport) -> list[CampaignStatus]:
    return list({c.campaign_id: c for c in report.campaign_of.values()}.values())


def _count(report: DemoReport, outcome: str) -> int:
    return sum(1 for c in _campaigns(report) for change in c.changes if change.outcome.value == outcome)
