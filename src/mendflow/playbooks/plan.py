"""Dry-run planning: what every playbook would change in a tenant, resource by resource, with nothing written.

The tenant is served by the in-process simulator (read-only: it refuses every write), collected by the production
connector and evaluated by the rule engine, exactly as a scan does. For each finding of a playbook that acts
(`auto`, `approval`, `ticket`), the action's implementation reads the fields it would write
(`FieldAction.current`, a GET) to give the before → after diff; the rollout, approvers and batches are resolved as
the remediation workflow would resolve them. `notify` and detect-only playbooks are listed as report only.

A tenant file is planned as an offline scan reads it (`offline.scan_chunks`): checked in one streaming pass, then
served `CHUNK_REPOS` repositories at a time; each chunk's findings and before-values are kept, its resources
dropped, and the rollout is split once all findings are in. Memory follows the findings, not the tenant.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mendflow import providers
from mendflow.campaigns.rollout import split_batches
from mendflow.connectors.http import VendorHttp
from mendflow.connectors.registry import get_action, open_session
from mendflow.errors import VendorError
from mendflow.findings.risk import CriticalityConfig, score_findings
from mendflow.models import Finding, Frozen, JsonObject, ResourceRef, RiskScore, Severity
from mendflow.offline import CHUNK_REPOS, SimulatedTenant, collect, simulated_tenant
from mendflow.playbooks.model import Mode, Playbook, format_duration
from mendflow.rbac import RbacConfig
from mendflow.render import compact, diff, table, timestamp
from mendflow.rules import RuleError, RuleSet, compile_rules
from mendflow.tenant import TenantFile
from mendflow.tenant_stream import check, repo_chunks


class PlannedChange(Frozen):
    """What the action would do to one resource."""

    resource: ResourceRef
    fingerprint: str
    before: JsonObject
    """The fields the action writes, as the vendor returns them now."""
    after: JsonObject
    """The same fields once the action ran."""
    batch: str
    """Where the resource falls in the rollout: `canary`, `batch 2`, …"""
    risk: RiskScore | None = None
    note: str = ""
    """Why the change is not a plain before → after (already as intended, unreadable)."""

    @property
    def changes(self) -> bool:
        """True when the action would write something."""
        return self.before != self.after and not self.note.startswith("cannot read")


class PlaybookPlan(Frozen):
    """One playbook's findings in the tenant and what its response would do about them."""

    playbook_id: str
    title: str
    severity: Severity
    mode: Mode
    report_only: bool
    """True for notify and detect-only playbooks: findings are reported, nothing is changed."""
    action: str | None = None
    reversible: bool | None = None
    params: JsonObject = {}
    approvers: tuple[str, ...] = ()
    """Who may approve (approval and ticket modes), as the RBAC config resolves them."""
    required_approvals: int = 0
    approval_timeout: timedelta | None = None
    escalate_after: timedelta | None = None
    escalate_to: str | None = None
    canary: int = 0
    batches: tuple[int | str, ...] = ()
    bake: timedelta = timedelta(0)
    max_failures: int = 0
    ticket_project: str | None = None
    findings: list[Finding] = []
    changes: list[PlannedChange] = []
    errors: list[RuleError] = []
    """Resources the condition could not decide (never findings)."""


class TenantPlan(Frozen):
    """The dry run of a set of playbooks against one tenant."""

    tenant: str
    provider: str
    as_of: datetime
    resources: int
    playbooks: list[PlaybookPlan]
    gaps: list[str] = []
    other_providers: list[str] = []
    """Playbooks for resources of other vendors than this tenant's (not planned)."""
    refused_writes: list[str] = []
    """Writes the read-only simulator refused; always empty unless something tried to write."""

    @property
    def findings(self) -> list[Finding]:
        return [finding for plan in self.playbooks for finding in plan.findings]


def plan_tenant_file(
    path: Path,
    playbooks: Sequence[Playbook],
    *,
    rbac: RbacConfig | None = None,
    criticality: CriticalityConfig | None = None,
    chunk: int = CHUNK_REPOS,
) -> TenantPlan:
    """Plan `playbooks` against a tenant file, `chunk` repositories at a time (see the module docstring)."""
    checked = check(path)
    tenant = checked.head
    as_of = tenant.taken_at or datetime.now(UTC)
    mine, others = _split(tenant, playbooks)
    streamed = providers.get(tenant.provider).streamed
    # served with every chunk (the org, its members…): read from the first chunk only, as an offline scan does
    repeated = streamed.repeated if streamed is not None else frozenset()
    read = _Read(compile_rules(mine))
    for number, part in enumerate(repo_chunks(checked, chunk)):
        with simulated_tenant(part, read_only=True) as sim:
            skip = repeated if number > 0 else frozenset()
            asyncio.run(_read(sim, mine, as_of, criticality, read, skip=skip))
        gc.collect()  # the chunk's simulator holds its state in reference cycles: free it before the next
    return _tenant_plan(tenant, mine, others, as_of, read, rbac or RbacConfig())


def plan_tenant(
    tenant: TenantFile,
    playbooks: Sequence[Playbook],
    *,
    as_of: datetime | None = None,
    rbac: RbacConfig | None = None,
    criticality: CriticalityConfig | None = None,
) -> TenantPlan:
    """Serve `tenant` read-only and plan `playbooks` against it."""
    with simulated_tenant(tenant, read_only=True) as sim:
        return plan_on(sim, playbooks, as_of=as_of, rbac=rbac, criticality=criticality)


def plan_on(
    sim: SimulatedTenant,
    playbooks: Sequence[Playbook],
    *,
    as_of: datetime | None = None,
    rbac: RbacConfig | None = None,
    criticality: CriticalityConfig | None = None,
) -> TenantPlan:
    """Plan against a running simulator (only GET requests are sent)."""
    moment = as_of or sim.tenant.taken_at or datetime.now(UTC)
    mine, others = _split(sim.tenant, playbooks)
    read = _Read(compile_rules(mine))
    asyncio.run(_read(sim, mine, moment, criticality, read))
    return _tenant_plan(sim.tenant, mine, others, moment, read, rbac or RbacConfig())


def _split(tenant: TenantFile, playbooks: Sequence[Playbook]) -> tuple[list[Playbook], list[str]]:
    """The playbooks for this tenant's vendor, and the ids of the others (not planned)."""
    mine = [p for p in playbooks if p.resource.split(".", 1)[0] == tenant.provider]
    return mine, [p.id for p in playbooks if p.resource.split(".", 1)[0] != tenant.provider]


@dataclass
class _Read:
    """What the chunks read so far: findings and each acting finding's current fields, never the resources."""

    rules: RuleSet
    """The playbooks' conditions, compiled once for every chunk."""
    resources: int = 0
    findings: list[Finding] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    gaps: dict[str, None] = field(default_factory=dict)
    befores: dict[str, tuple[JsonObject, str]] = field(default_factory=dict)
    """Fingerprint → (the fields the action writes as the vendor returns them now, note)."""
    refused_writes: list[str] = field(default_factory=list)


async def _read(
    sim: SimulatedTenant,
    playbooks: list[Playbook],
    as_of: datetime,
    criticality: CriticalityConfig | None,
    read: _Read,
    *,
    skip: frozenset[str] = frozenset(),
) -> None:
    """Collect what `sim` serves (less the resource types in `skip`), evaluate, and read the before-values."""
    async with open_session(sim.connection, token=sim.token) as session:
        resources, gaps = await collect(session)
        resources = [r for r in resources if r.type not in skip]
        result = read.rules.evaluate(resources, tenant=sim.tenant.tenant, provider=sim.tenant.provider, as_of=as_of)
        findings = score_findings(result.findings, resources, criticality)
        read.resources += len(resources)  # the count only: the resources go with the chunk
        del resources
        acting = {p.id: p for p in playbooks if p.respond is not None and p.mode is not Mode.notify}
        for finding in findings:
            playbook = acting.get(finding.rule)
            if playbook is not None and playbook.respond is not None:
                read.befores[finding.fingerprint] = await _before(session.http, playbook, finding)
    read.findings += findings
    read.errors += result.errors
    read.gaps.update(dict.fromkeys(gaps))
    read.refused_writes += sim.refused_writes


async def _before(http: VendorHttp, playbook: Playbook, finding: Finding) -> tuple[JsonObject, str]:
    """The fields the playbook's action would write, as they are now, and why there is no plain diff (if so)."""
    assert playbook.respond is not None
    intended = playbook.respond.action_params().as_body()
    try:
        before = await get_action(playbook.respond.action).current(http, finding.resource.id, list(intended))
    except VendorError as err:
        return {}, f"cannot read: {err}"
    return before, "already as intended: nothing to write" if before == intended else ""


def _tenant_plan(
    tenant: TenantFile, mine: list[Playbook], others: list[str], as_of: datetime, read: _Read, rbac: RbacConfig
) -> TenantPlan:
    plans = []
    for playbook in mine:
        found = sorted((f for f in read.findings if f.rule == playbook.id), key=lambda f: f.resource.id)
        failed = [e for e in read.errors if e.rule == playbook.id]
        plans.append(_playbook_plan(playbook, found, failed, read.befores, rbac))
    return TenantPlan(
        tenant=tenant.tenant,
        provider=tenant.provider,
        as_of=as_of,
        resources=read.resources,
        playbooks=plans,
        gaps=list(read.gaps),
        other_providers=others,
        refused_writes=read.refused_writes,
    )


def _playbook_plan(
    playbook: Playbook,
    findings: list[Finding],
    errors: list[RuleError],
    befores: dict[str, tuple[JsonObject, str]],
    rbac: RbacConfig,
) -> PlaybookPlan:
    respond = playbook.respond
    base = {
        "playbook_id": playbook.id,
        "title": playbook.title,
        "severity": playbook.detect.severity,
        "mode": playbook.mode,
        "findings": findings,
        "errors": errors,
    }
    if respond is None or playbook.mode is Mode.notify:
        suggested = {"action": respond.action, "params": respond.params} if respond is not None else {}
        return PlaybookPlan.model_validate({**base, "report_only": True, **suggested})
    action = get_action(respond.action)
    intended = respond.action_params().as_body()
    severity = playbook.detect.severity
    rollout = respond.rollout
    batches = split_batches(findings, canary=rollout.canary, batches=rollout.batches)
    batch_of = {
        finding.fingerprint: "canary" if number == 0 else f"batch {number + 1}"
        for number, batch in enumerate(batches)
        for finding in batch
    }
    changes = [
        PlannedChange(
            resource=finding.resource,
            fingerprint=finding.fingerprint,
            before=befores[finding.fingerprint][0],
            after=intended,
            batch=batch_of[finding.fingerprint],
            risk=finding.risk,
            note=befores[finding.fingerprint][1],
        )
        for finding in findings
    ]
    gated = playbook.mode in (Mode.approval, Mode.ticket)
    approval = respond.approval
    return PlaybookPlan.model_validate(
        {
            **base,
            "report_only": False,
            "action": respond.action,
            "reversible": action.spec.reversible,
            "params": respond.params,
            "approvers": rbac.approvers_for(playbook.id, severity, approval.approvers) if gated else (),
            "required_approvals": rbac.required_for(severity, approval.required) if gated else 0,
            "approval_timeout": approval.timeout if gated else None,
            "escalate_after": approval.escalate_after if gated else None,
            "escalate_to": approval.escalate_to if gated else None,
            "canary": rollout.canary,
            "batches": rollout.batches,
            "bake": rollout.bake,
            "max_failures": rollout.max_failures,
            "ticket_project": respond.ticket.project if respond.ticket is not None else None,
            "changes": changes,
        }
    )


def _rollout_line(plan: PlaybookPlan) -> str:
    batches = ", ".join(str(b) for b in plan.batches) or "the rest"
    return (
        f"rollout: canary {plan.canary}, then {batches}; bake {format_duration(plan.bake)}; "
        f"stop and roll back after {plan.max_failures + 1} failure{'s' if plan.max_failures else ''}"
    )


def _gate_line(plan: PlaybookPlan) -> str:
    if plan.mode is Mode.auto:
        return "no approval: applied automatically"
    assert plan.approval_timeout is not None
    who = ", ".join(plan.approvers) or "the RBAC default"
    line = f"{plan.required_approvals} approval(s) from {who}, expires after {format_duration(plan.approval_timeout)}"
    if plan.escalate_after is not None:
        line += f", escalate after {format_duration(plan.escalate_after)} to {plan.escalate_to or 'the RBAC default'}"
    if plan.ticket_project:
        line += f"; Jira ticket in {plan.ticket_project}"
    return line


def _risk(score: RiskScore | None) -> str:
    return "-" if score is None else str(score.score)


def render_plan(plan: TenantPlan) -> str:
    """The plan as a team reviews it before enabling playbooks: per playbook, per resource, before → after."""
    others = f"; {len(plan.other_providers)} for other providers left out" if plan.other_providers else ""
    lines = [
        f"Dry run: {len(plan.playbooks)} playbook(s) against {plan.provider} {plan.tenant} "
        f"({plan.resources} resources, as of {timestamp(plan.as_of)}{others}); nothing was written.",
    ]
    acting = [p for p in plan.playbooks if not p.report_only and p.findings]
    for item in acting:
        lines += [
            "",
            f"{item.playbook_id} — {item.title}",
            f"  {item.severity.value} · mode {item.mode.value} · {item.action} "
            f"({'reversible' if item.reversible else 'NOT reversible'}) with {compact(item.params)}",
            f"  {_gate_line(item)}",
            f"  {_rollout_line(item)}",
        ]
        rows = [[c.resource.id, c.batch, _risk(c.risk), c.note or diff(c.before, c.after)] for c in item.changes]
        table_text = table(["resource", "batch", "risk", "before → after"], rows, max_width=[56, 8, 4, 70])
        lines += ["  " + line for line in table_text.splitlines()]
    reported = [p for p in plan.playbooks if p.report_only and p.findings]
    if reported:
        lines += ["", "Report only (notify or detect-only: nothing is changed)"]
        rows = [
            [f.rule, f.severity.value, f.resource.id, _risk(f.risk), compact(f.evidence)]
            for p in reported
            for f in p.findings
        ]
        text = table(["playbook", "severity", "resource", "risk", "evidence"], rows, max_width=[52, 8, 48, 4, 60])
        lines += ["  " + line for line in text.splitlines()]
    quiet = [p.playbook_id for p in plan.playbooks if not p.findings]
    if quiet:
        lines += ["", f"No findings: {', '.join(quiet)}"]
    undecided = [e for p in plan.playbooks for e in p.errors]
    for error in undecided:
        lines.append(f"could not evaluate {error.rule} on {error.resource_id}: {error.message}")
    for gap in plan.gaps:
        lines.append(f"coverage gap: {gap}")
    writes = sum(1 for p in acting for c in p.changes if c.changes)
    auto = sum(1 for p in acting if p.mode is Mode.auto for c in p.changes if c.changes)
    lines += [
        "",
        f"{len(plan.findings)} finding(s); {len(acting)} playbook(s) would change {writes} resource(s) "
        f"({auto} automatically, {writes - auto} after approval or ticket); "
        f"{sum(len(p.findings) for p in reported)} finding(s) report only.",
    ]
    if plan.refused_writes:
        lines.append(f"refused writes (a bug: planning must only read): {', '.join(plan.refused_writes)}")
    return "\n".join(lines)
