"""Risk and compliance on the approval card and the Jira ticket: the publish activity reads the risk the scan
scored from the ledger and the playbook's compliance references from the plan, and both reach the Slack and Jira
simulators."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mendflow.activities.publish import PublishActivities
from temporalio.testing import ActivityEnvironment

from mendflow.config import TenantRegistry
from mendflow.findings.risk import Criticality, risk_score, summarize_risk
from mendflow.models import Finding, ResourceRef, RiskFactor, Severity
from mendflow.secrets import SecretRef
from mendflow.settings import JiraSettings, Settings, SlackSettings
from mendflow.sim.slack import SlackWorkspace
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus, PublishInput, PublishRefs
from tests.integrations.conftest import SimulatedJira
from tests.plans import secret_scanning_plan

CAMPAIGN = "remediate/github:acme/github.repo.secret_scanning/00000000000000aa"
COMPLIANCE = ["SOC2:CC6.1", "ISO27001:A.8.12"]
PUBLIC = RiskFactor(kind="exposure", label="public repository", weight=2.0)
EXPECTED = "80/100: high severity (×4) · public repository (exposure ×2)"


def _finding(fingerprint: str, *, public: bool) -> Finding:
    return Finding(
        fingerprint=fingerprint,
        tenant="acme",
        provider="github",
        rule="github.repo.secret_scanning",
        title="Secret scanning on",
        severity=Severity.high,
        resource=ResourceRef(type="github.repo", id="/repos/acme/api"),
        evidence={"resource.security_and_analysis.secret_scanning.status": "disabled"},
        observed_at=datetime(2026, 11, 20, tzinfo=UTC),
        risk=risk_score(Severity.high, Criticality.medium, [PUBLIC] if public else []),
        compliance=COMPLIANCE,
    )


@pytest.fixture
def publisher(
    tmp_path: Path, slack: SlackWorkspace, jira: SimulatedJira, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PublishActivities]:
    """A worker publishing to the Slack and Jira simulators, with its own ledger."""
    monkeypatch.setenv("RISK_SLACK_BOT", slack.bot_token)
    monkeypatch.setenv("RISK_SLACK_SIGNING", slack.signing_secret)
    monkeypatch.setenv("RISK_JIRA_TOKEN", jira.token)
    settings = Settings(
        slack=SlackSettings(
            bot_token=SecretRef(ref="env:RISK_SLACK_BOT"),
            signing_secret=SecretRef(ref="env:RISK_SLACK_SIGNING"),
            base_url=slack.base_url + "/api/",
            max_retries=0,
            timeout=5,
        ),
        jira=JiraSettings(
            server=jira.base_url, user=jira.state.user, token=SecretRef(ref="env:RISK_JIRA_TOKEN"), project="SEC"
        ),
    )
    context = WorkerContext(registry=TenantRegistry(), data_dir=tmp_path / "data", playbooks={}, settings=settings)
    yield PublishActivities(context)
    context.close()


async def _publish(publisher: PublishActivities) -> PublishRefs:
    plan = secret_scanning_plan(CAMPAIGN, compliance=COMPLIANCE)
    status = CampaignStatus(
        campaign_id=CAMPAIGN, playbook_id=plan.playbook_id, state="awaiting_approval", plan=plan, timeline=[{}]
    )
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=CAMPAIGN)
    refs: PublishRefs = await env.run(
        publisher.publish_campaign, PublishInput(status=status, refs=PublishRefs(), event="planned")
    )
    return refs


def _facts(slack: SlackWorkspace) -> dict[str, str]:
    [versions] = slack.messages.values()
    [block] = [b for b in versions[-1].blocks if b.get("block_id") == "mendflow_facts"]
    fields: list[dict[str, Any]] = block["fields"]
    return dict(f["text"].split("\n", 1) for f in fields)


async def test_card_and_ticket_show_the_scored_risk_and_compliance_references(
    publisher: PublishActivities, slack: SlackWorkspace, jira: SimulatedJira
) -> None:
    """The riskiest finding's score and its reasons, and every compliance reference, on both."""
    publisher.ctx.ledger.reconcile(
        "github:acme", [_finding("f", public=True)], rules=["github.repo.secret_scanning"], seen_at=datetime.now(UTC)
    )
    refs = await _publish(publisher)
    facts = _facts(slack)
    assert facts["*Risk*"] == EXPECTED
    assert facts["*Compliance*"] == ", ".join(COMPLIANCE)
    [versions] = slack.messages.values()
    assert f"risk: {EXPECTED}" in versions[-1].text and "compliance: SOC2:CC6.1, ISO27001:A.8.12" in versions[-1].text
    issue = jira.state.issues[refs.jira_key or ""]
    description = json.dumps(issue.description, ensure_ascii=False)
    assert f"Risk: {EXPECTED}" in description
    assert "Compliance: SOC2:CC6.1, ISO27001:A.8.12" in description
    assert "/repos/acme/api: Secret scanning on [risk 80/100]" in description
    assert set(COMPLIANCE) <= set(issue.labels)


async def test_without_a_scored_finding_the_card_shows_no_risk(
    publisher: PublishActivities, slack: SlackWorkspace, jira: SimulatedJira
) -> None:
    """A campaign whose findings are not in the ledger gets no made-up risk; compliance is still shown."""
    refs = await _publish(publisher)
    facts = _facts(slack)
    assert "*Risk*" not in facts and facts["*Compliance*"] == ", ".join(COMPLIANCE)
    assert "Risk:" not in json.dumps(jira.state.issues[refs.jira_key or ""].description)


def test_summary_names_the_riskiest_finding_and_how_many_it_was_taken_from() -> None:
    """The highest score wins; a preview of a larger campaign says so; unscored findings give nothing."""
    quiet, loud = _finding("a", public=False), _finding("b", public=True)
    assert summarize_risk([quiet, loud]) == f"{EXPECTED} (highest of 2 findings)"
    assert summarize_risk([loud]) == EXPECTED
    assert summarize_risk([quiet, loud], total=500) == f"{EXPECTED} (highest of the first 2 of 500 findings)"
    assert summarize_risk([quiet.model_copy(update={"risk": None})]) == ""
