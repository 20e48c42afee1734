"""Scan activities: collect the inventory, evaluate the rules, reconcile with the findings ledger."""

from __future__ import annotations

from collections import Counter, defaultdict

from temporalio import activity

from mendflow.config import TenantConnection
from mendflow.connectors.http import RequestBudgetExceeded, heartbeat_while_waiting
from mendflow.connectors.registry import open_session
from mendflow.errors import AuthError, InputError
from mendflow.findings.risk import score_findings, scoring_facts, scoring_ids
from mendflow.findings.store import LedgerRow, campaign_id
from mendflow.models import Finding, Resource, Severity
from mendflow.playbooks.model import Mode
from mendflow.responses.triggers import TriggeredRuns, triggered_runs
from mendflow.rules import Demand
from mendflow.scan_progress import ProgressMeter
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import (
    CampaignPlan,
    CollectInput,
    CollectResult,
    EvaluateInput,
    EvaluateResult,
    ReconcileInput,
    ReconcileResult,
)

from .failures import cannot_retry

INLINE_FINDINGS = 100
"""Campaigns with more findings than this travel by digest (workflow payloads stay small at any size)."""


class ScanActivities:
    def __init__(self, context: WorkerContext) -> None:
        self.ctx = context

    def _tenant(self, key: str) -> TenantConnection:
        """The worker's connection for `key`; an unknown key is the caller's mistake, never retried."""
        try:
            return self.ctx.registry.get(key)
        except InputError as err:
            raise cannot_retry(err) from None

    @activity.defn(name="collect_inventory")
    async def collect_inventory(self, request: CollectInput) -> CollectResult:
        """Stream every resource of the tenant into the snapshot store; return its digest."""
        connection = self._tenant(request.tenant_key)
        writer = self.ctx.snapshots.writer()
        try:
            async with open_session(connection) as session:
                # heartbeats carry the progress `mendflow scan` shows, also while a rate limit is waited out
                meter = ProgressMeter(session.http, lambda p: activity.heartbeat(p.model_dump(mode="json")))
                with heartbeat_while_waiting(meter.tick):
                    # only the sub-collections some loaded rule could use (findings as a full collection's)
                    async for resource in session.collector.collect(Demand(self.ctx.rules_for(request.tenant_key))):
                        writer.write(resource.model_dump(mode="json"))
                        meter.add(resource.type)
                requests = session.http.requests_made
                gaps = [f"{gap.endpoint}: {gap.reason}" for gap in session.collector.gaps]
                coverage = session.collector.coverage
        except (AuthError, InputError, RequestBudgetExceeded) as err:
            writer.discard()  # wrong credentials, config or an exhausted request budget: retrying cannot help
            raise cannot_retry(err) from None
        except BaseException:
            writer.discard()
            raise
        digest = writer.close()
        return CollectResult(
            snapshot=digest,
            resources=writer.count,
            requests=requests,
            gaps=gaps,
            collections_expected=coverage.expected,
            collections_read=coverage.read,
            coverage=coverage.fraction,
        )

    @activity.defn(name="evaluate_rules")
    async def evaluate_rules(self, request: EvaluateInput) -> EvaluateResult:
        """Evaluate every loaded playbook over the snapshot, score each finding's risk (compliance references come
        from its playbook); store the findings by digest."""
        connection = self._tenant(request.tenant_key)
        resources = (Resource.model_validate(line) for line in self.ctx.snapshots.read_lines(request.snapshot))
        result = self.ctx.rules_for(request.tenant_key).evaluate(
            resources, tenant=connection.tenant, provider=connection.provider, as_of=request.as_of
        )
        # risk as offline scans score it, from a second pass that keeps only what scoring reads of the resources
        # the findings are about (whole repositories would hold hundreds of MB at 10,000 findings)
        wanted = scoring_ids(result.findings)
        about = (
            scoring_facts(Resource.model_validate(line))
            for line in self.ctx.snapshots.read_lines(request.snapshot)
            if line.get("id") in wanted
        )
        scored = score_findings(result.findings, about, self.ctx.settings.criticality)
        digest = self.ctx.snapshots.put_lines(f.model_dump(mode="json") for f in scored)
        counts = Counter(f.severity for f in scored)
        return EvaluateResult(
            findings=digest,
            count=len(scored),
            by_severity={s: counts.get(s, 0) for s in Severity},
            rules=sorted(p.id for p in self.ctx.playbooks.values() if p.resource.startswith(f"{connection.provider}.")),
            errors=[f"{e.rule} on {e.resource_id}: {e.message}" for e in result.errors[:50]],
        )

    @activity.defn(name="reconcile_findings")
    async def reconcile_findings(self, request: ReconcileInput) -> ReconcileResult:
        """Update the ledger; hand each acting playbook's unowned open findings to one campaign.

        Notify-only playbooks start no campaign: their findings are reported and stay open.
        """
        findings = [Finding.model_validate(line) for line in self.ctx.snapshots.read_lines(request.findings)]
        tenant = request.tenant_key
        read = {line["id"] for line in self.ctx.snapshots.read_lines(request.snapshot)} if request.snapshot else None
        outcome = self.ctx.ledger.reconcile(
            tenant,
            findings,
            rules=request.rules,
            seen_at=request.seen_at,
            read=read,
            complete=request.complete,
            covered=request.covered,
        )
        by_rule: dict[str, list[LedgerRow]] = defaultdict(list)
        for row in outcome.unclaimed:
            by_rule[row.finding.rule].append(row)
        campaigns: list[CampaignPlan] = []
        waiting = 0
        for rule in sorted(by_rule):
            playbook = self.ctx.playbooks.get(rule)
            group = sorted(by_rule[rule], key=lambda row: row.finding.resource.id)
            if playbook is None or playbook.mode is Mode.notify:
                waiting += len(group)
                continue
            cid = campaign_id(tenant, rule, group)
            claimed = set(self.ctx.ledger.claim((row.finding.fingerprint for row in group), cid, tenant=tenant))
            mine = [row.finding for row in group if row.finding.fingerprint in claimed]
            if len(mine) > INLINE_FINDINGS:  # large campaigns: by digest, so no payload grows with the campaign
                digest = self.ctx.snapshots.put_lines(f.model_dump(mode="json") for f in mine)
                campaigns.append(
                    CampaignPlan(
                        campaign_id=cid, playbook_id=rule, findings=[], findings_digest=digest, findings_count=len(mine)
                    )
                )
            elif mine:
                campaigns.append(CampaignPlan(campaign_id=cid, playbook_id=rule, findings=mine))
        return ReconcileResult(
            new=len(outcome.new),
            still_open=len(outcome.still_open),
            gone=len(outcome.gone),
            campaigns=campaigns,
            report_only=waiting,
            responses=self._triggered(tenant, findings, outcome.new),
        )

    def _triggered(self, tenant_key: str, findings: list[Finding], opened: list[str]) -> TriggeredRuns:
        """The response runs the findings this reconciliation opened trigger (only loaded workflow playbooks)."""
        if not self.ctx.responses or not opened:
            return TriggeredRuns()
        wanted = set(opened)
        runs = triggered_runs(
            self.ctx.responses, (f for f in findings if f.fingerprint in wanted), tenant_key=tenant_key
        )
        for reason in dict.fromkeys(runs.skipped):
            activity.logger.warning("finding trigger skipped: %s", reason)
        return runs
