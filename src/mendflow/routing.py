"""Where work runs: task queues by role, and the one list of activity names workflows call.

A deployment scales the roles separately: scans (vendor reads, rule evaluation), remediation (vendor writes,
campaign steps) and integrations (Slack, Jira). Workflow tasks stay on the queue the workflow was started on
(the *base* queue, `mendflow` by default); each activity goes to `<base>.<role>`, derived from the workflow's own
queue, so tests that give every run its own base queue never share activity queues.

Kept free of I/O imports: workflow code imports it inside Temporal's sandbox.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from mendflow.errors import InputError


class Role(StrEnum):
    """A group of activities that scales on its own."""

    scan = "scan"
    remediation = "remediation"
    integrations = "integrations"


ALL_ROLES: tuple[Role, ...] = tuple(Role)
EVERY_ROLE = ",".join(role.value for role in ALL_ROLES)
"""`--queues` default: one worker serves every role (the embedded stack, small deployments)."""


class Activity(StrEnum):
    """Every activity's registered name (workflows call activities by these, never by string literals)."""

    collect_inventory = "collect_inventory"
    collect_targets = "collect_targets"
    evaluate_rules = "evaluate_rules"
    reconcile_findings = "reconcile_findings"
    plan_campaign = "plan_campaign"
    load_targets = "load_targets"
    prepare_changes = "prepare_changes"
    change_resource = "change_resource"
    apply_changes = "apply_changes"
    restore_change = "restore_change"
    check_change_window = "check_change_window"
    settle_findings = "settle_findings"
    store_journal = "store_journal"
    load_journal = "load_journal"
    store_targets = "store_targets"
    publish_campaign = "publish_campaign"
    escalate_campaign = "escalate_campaign"
    suppress_finding = "suppress_finding"
    reopen_finding = "reopen_finding"
    read_resource = "read_resource"
    capture_response_step = "capture_response_step"
    apply_response_step = "apply_response_step"
    store_evidence = "store_evidence"
    plan_response_gate = "plan_response_gate"
    notify_response = "notify_response"
    ticket_response = "ticket_response"
    ask_person = "ask_person"


ROLE_OF: dict[Activity, Role] = {
    Activity.collect_inventory: Role.scan,
    Activity.collect_targets: Role.scan,
    Activity.evaluate_rules: Role.scan,
    Activity.reconcile_findings: Role.scan,
    Activity.plan_campaign: Role.remediation,
    Activity.load_targets: Role.remediation,
    Activity.prepare_changes: Role.remediation,
    Activity.change_resource: Role.remediation,
    Activity.apply_changes: Role.remediation,
    Activity.restore_change: Role.remediation,
    Activity.check_change_window: Role.remediation,
    Activity.settle_findings: Role.remediation,
    Activity.store_journal: Role.remediation,
    Activity.load_journal: Role.remediation,
    Activity.store_targets: Role.remediation,
    Activity.publish_campaign: Role.integrations,
    Activity.escalate_campaign: Role.integrations,
    # response workflows (issue 13): vendor reads and writes with the campaigns' writes, messages with Slack's
    Activity.read_resource: Role.remediation,
    Activity.capture_response_step: Role.remediation,
    Activity.apply_response_step: Role.remediation,
    Activity.store_evidence: Role.remediation,
    Activity.plan_response_gate: Role.remediation,
    Activity.notify_response: Role.integrations,
    Activity.ticket_response: Role.integrations,
    Activity.ask_person: Role.integrations,
}
"""The role of every activity routed by role. The suppression activities (a ledger update each, rare) run on the
workflow queue beside the workflows."""


def role_queue(base: str, role: Role) -> str:
    """The task queue of `role`'s activities for workflows running on `base`."""
    return f"{base}.{role.value}"


def queue_of(base: str, activity: Activity) -> str:
    """The task queue `activity` is routed to from a workflow running on `base`."""
    return role_queue(base, ROLE_OF[activity])


def parse_roles(text: str) -> tuple[Role, ...]:
    """`scan,remediation` → the roles, in the canonical order; an unknown role is the user's mistake."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise InputError("--queues names no role; use any of: " + ",".join(r.value for r in ALL_ROLES))
    unknown = sorted(set(names) - {r.value for r in ALL_ROLES})
    if unknown:
        raise InputError(
            f"--queues: unknown role(s) {', '.join(unknown)}; use any of: " + ",".join(r.value for r in ALL_ROLES)
        )
    return _ordered(Role(n) for n in names)


def _ordered(roles: Iterable[Role]) -> tuple[Role, ...]:
    chosen = set(roles)
    return tuple(r for r in ALL_ROLES if r in chosen)
