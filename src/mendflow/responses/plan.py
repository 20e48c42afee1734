"""`mendflow plan WORKFLOW`: the whole response as it would happen on a tenant, step by step, nothing written.

The tenant file is served read-only (every write refused, as for the detection plan) and the workflow is
rehearsed on it (`responses.rehearsal`): reads and captures are real GETs against the simulator, so each write
shows the tenant's actual before → after; approvals show who is asked, how many must answer and when the
request expires, and take the answers given (`--decide STEP=reject` to see the other branch, `--decide ask=keep` to
answer a question); waits say how long.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mendflow.connectors.registry import open_session
from mendflow.errors import InputError
from mendflow.offline import simulated_tenant
from mendflow.rbac import RbacConfig
from mendflow.render import compact, diff
from mendflow.responses.messages import StepStatus
from mendflow.responses.model import ResponsePlaybook, StepKind
from mendflow.responses.rehearsal import Rehearsal, RehearsedStep, decision_problems, rehearse
from mendflow.tenant import TenantFile


def plan_workflow(
    definition: ResponsePlaybook,
    inputs: dict[str, Any],
    tenant: TenantFile,
    *,
    answers: Mapping[str, str] | None = None,
    rbac: RbacConfig | None = None,
    as_of: datetime | None = None,
    library: Mapping[str, ResponsePlaybook] | None = None,
) -> Rehearsal:
    """Rehearse `definition` (inputs already checked) against a read-only simulator of `tenant`."""
    provider = (definition.tenant or tenant.provider).split(":", 1)[0]
    if tenant.provider != provider:
        raise InputError(f"the tenant file is a {tenant.provider} tenant, but {definition.id} acts on {provider}")
    for key, why in decision_problems(definition, answers or {}):
        raise InputError(f"--decide {key}: {why}")
    with simulated_tenant(tenant, read_only=True) as sim:

        async def go() -> Rehearsal:
            async with open_session(sim.connection, token=sim.token) as session:
                now = as_of or tenant.taken_at or datetime.now(UTC)
                key = f"{tenant.provider}:{tenant.tenant}"
                return await rehearse(
                    definition,
                    inputs,
                    session.http,
                    write=False,
                    now=now,
                    tenant=key,
                    answers=answers,
                    rbac=rbac,
                    library=library,
                )

        rehearsal = asyncio.run(go())
        return rehearsal.model_copy(update={"refused_writes": list(sim.refused_writes)})


def render_workflow_plan(plan: Rehearsal) -> str:
    """The plan as a responder reviews it: one row per step, what it does or why it does not run."""
    given = compact(plan.inputs) if plan.inputs else "none"
    lines = [
        f"Plan: {plan.playbook_id} — {plan.title}",
        f"  against {plan.tenant}; inputs: {given}; nothing was written.",
        "",
    ]
    width = max(len(step.id) for step in plan.steps)
    for number, step in enumerate(plan.steps, 1):
        what = step.detail
        if step.before is not None and step.after is not None and step.status is not StepStatus.skipped:
            what = f"{step.detail}\n{' ' * (width + 30)}{step.resource}: {diff(step.before, step.after)}"
        lines.append(f"{number:>3}. {step.id:<{width}}  {step.kind:<9} {step.status.value:<12} {what}")
        if step.items is not None and step.kind == StepKind.call.value:
            lines.extend(_trace(step.items[0], " " * (width + 30)))
        elif step.items is not None:
            lines.extend(_items(step.output.get("items") or [], step.items, indent=width + 30))
    changes = [(s.before, s.after) for s in plan.steps if s.before is not None and s.status is not StepStatus.skipped]
    for step in plan.steps:
        if step.kind == StepKind.for_each.value:
            changes.extend(_item_changes(step.output.get("items") or []))
    changing = sum(1 for before, after in changes if before != after)
    asks = [s for s in plan.steps if s.kind == StepKind.approve.value and s.status is not StepStatus.skipped]
    lines += ["", f"Ends {plan.state.value}: {changing} write(s) that change something, {len(asks)} approval(s) asked."]
    if plan.refused_writes:
        lines.append(f"refused writes (a bug: planning must only read): {', '.join(plan.refused_writes)}")
    return "\n".join(lines)


SHOWN_ITEMS = 20
"""Items of a `for_each` listed one by one in a plan; the rest are counted."""
ITEM_WIDTH = 60
"""An item's value is shortened past this many characters (a vendor object can be long)."""


def _item_changes(outcomes: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    """(before, after) of every write of every item's body."""
    return [
        (output["before"], output["after"])
        for outcome in outcomes
        for record in (outcome.get("steps") or {}).values()
        if record.get("status") == StepStatus.done.value
        and isinstance((output := record.get("output") or {}).get("before"), dict)
        and "after" in output
    ]


def _items(outcomes: list[dict[str, Any]], traces: list[list[RehearsedStep]], *, indent: int) -> list[str]:
    """Per item: its value and how it ended, then each body step (status, what it does, before → after)."""
    pad = " " * indent
    lines = []
    for outcome in outcomes[:SHOWN_ITEMS]:
        why = f" ({outcome['detail']})" if outcome.get("detail") else ""
        item = compact(outcome.get("item"))
        item = item if len(item) <= ITEM_WIDTH else item[: ITEM_WIDTH - 1] + "…"
        lines.append(f"{pad}item {outcome['index']} {item}: {outcome['status']}{why}")
        lines.extend(_trace(traces[outcome["index"]] if outcome["index"] < len(traces) else [], pad + "  "))
    if len(outcomes) > SHOWN_ITEMS:
        lines.append(f"{pad}… and {len(outcomes) - SHOWN_ITEMS} more item(s)")
    return lines


def _trace(steps: list[RehearsedStep], pad: str) -> list[str]:
    """Nested steps (a for_each item's body, a called workflow): status, what it does, before → after."""
    lines = []
    for step in steps:
        lines.append(f"{pad}{step.id} {step.status.value}: {step.detail}")
        if step.before is not None and step.after is not None and step.status is not StepStatus.skipped:
            lines.append(f"{pad}  {step.resource}: {diff(step.before, step.after)}")
    return lines
