"""The approval card: what an on-call engineer needs at 3 a.m. to approve or reject a campaign, as Slack Block Kit.

`CampaignCard` is a plain value (no Slack types), built by the workflow side from the campaign plan and its
state; `render_blocks` turns it into Block Kit and `render_text` into the fallback/notification text. Every string
that leaves here goes through `redaction.redact`, so a secret that slipped into a resource's before/after values,
a reason or a title is masked before Slack sees it.

Buttons (`mendflow_approve` / `mendflow_reject`, `value` = campaign id) appear only while a decision is possible.
A reject needs a reason: the card carries an optional `plain_text_input` (block `mendflow_reason`, action
`reason`) whose content Slack sends in the click's `state.values`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mendflow.models import Decision, JsonObject, Outcome, ResourceRef, Severity, Verdict
from mendflow.redaction import redact

APPROVE_ACTION = "mendflow_approve"
REJECT_ACTION = "mendflow_reject"
REASON_BLOCK = "mendflow_reason"
REASON_ACTION = "reason"
ACTIONS_BLOCK = "mendflow_decision"

# Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks): header text 150, section text 3000,
# section fields 10 x 2000, context elements 10, button text 75, button value 2000.
HEADER_LIMIT = 150
TEXT_LIMIT = 3000
FIELD_LIMIT = 2000
CONTEXT_LIMIT = 10
VALUE_LIMIT = 80
BUTTON_LIMIT = 75


class CardState(StrEnum):
    """Where a campaign stands, as the card shows it."""

    awaiting_approval = "awaiting_approval"
    escalated = "escalated"
    approved = "approved"
    rejected = "rejected"
    canary_running = "canary_running"
    rolling_out = "rolling_out"
    """Shown as `batch k of n` from `Progress.batch` / `Progress.batches`."""
    paused = "paused"
    verified = "verified"
    completed_with_failures = "completed_with_failures"
    rolled_back = "rolled_back"
    expired = "expired"
    aborted = "aborted"
    failed = "failed"


DECIDABLE = frozenset({CardState.awaiting_approval, CardState.escalated})

_STATE_LABELS: dict[CardState, tuple[str, str]] = {
    CardState.awaiting_approval: (":hourglass_flowing_sand:", "Awaiting approval"),
    CardState.escalated: (":rotating_light:", "Escalated, still awaiting approval"),
    CardState.approved: (":white_check_mark:", "Approved, starting"),
    CardState.rejected: (":no_entry_sign:", "Rejected, nothing changed"),
    CardState.canary_running: (":hatching_chick:", "Canary running"),
    CardState.rolling_out: (":arrows_counterclockwise:", "Rolling out"),
    CardState.paused: (":double_vertical_bar:", "Paused"),
    CardState.verified: (":white_check_mark:", "Done, all changes verified"),
    CardState.completed_with_failures: (":warning:", "Done, with failures"),
    CardState.rolled_back: (":leftwards_arrow_with_hook:", "Rolled back"),
    CardState.expired: (":alarm_clock:", "Expired without enough approvals, nothing changed"),
    CardState.aborted: (":octagonal_sign:", "Aborted"),
    CardState.failed: (":x:", "Failed"),
}

_SEVERITY_ICONS: dict[Severity, str] = {
    Severity.critical: ":red_circle:",
    Severity.high: ":large_orange_circle:",
    Severity.medium: ":large_yellow_circle:",
    Severity.low: ":large_blue_circle:",
    Severity.info: ":white_circle:",
}


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CardResource(_Value):
    """One resource of the campaign and what the action will write on it."""

    id: str
    """Canonical API path (see models.ResourceRef)."""
    url: str = ""
    """Where a person can look at it (vendor web UI), if known."""
    before: JsonObject = Field(default_factory=dict)
    after: JsonObject = Field(default_factory=dict)
    outcome: Outcome | None = None


class Rollout(_Value):
    """The rollout plan in the playbook's terms."""

    canary: int = 1
    batches: tuple[int | str, ...] = ("100%",)
    bake: timedelta = timedelta(0)
    max_failures: int = 0

    def describe(self) -> str:
        """`canary 1, then 50%, 100%; bake 10m; stop after 0 failures`."""
        steps = ", ".join(str(b) for b in self.batches) or "100%"
        bake = f"bake {_duration(self.bake)}" if self.bake else "no bake"
        return f"canary {self.canary}, then {steps}; {bake}; stop after {self.max_failures} failures"


class Progress(_Value):
    """Counts while (and after) the rollout runs."""

    total: int = 0
    changed: int = 0
    verified: int = 0
    failed: int = 0
    restored: int = 0
    batch: int = 0
    batches: int = 0


class CampaignCard(_Value):
    """Everything the approval card shows about one campaign."""

    campaign_id: str
    playbook_id: str
    title: str
    severity: Severity
    tenant: str
    state: CardState = CardState.awaiting_approval
    risk: str = ""
    """The riskiest finding's score and why (`risk.summarize_risk`), e.g. `80/100: high severity (×4) · public
    repository (exposure ×2)`."""
    compliance: tuple[str, ...] = ()
    resources: tuple[CardResource, ...] = ()
    rollout: Rollout = Rollout()
    reversible: bool = True
    rollback: str = ""
    """Rollback note; default: derived from `reversible`."""
    approvers: tuple[str, ...] = ()
    """`user:NAME` / `group:NAME` principals who may approve."""
    required_approvals: int = 1
    decisions: tuple[Decision, ...] = ()
    progress: Progress = Progress()
    note: str = ""
    """One line on the state: why it failed, who it was escalated to, when it expires."""
    expires_at: datetime | None = None
    link: str = ""
    """URL of the campaign (e.g. the Temporal UI), if any."""
    ticket: str = ""
    """Jira key (or URL) of the campaign's ticket, if any."""

    @property
    def decidable(self) -> bool:
        return self.state in DECIDABLE

    @property
    def approvals(self) -> int:
        return len({d.approver for d in self.decisions if d.verdict is Verdict.approve})

    def rollback_note(self) -> str:
        if self.rollback:
            return self.rollback
        if not self.reversible:
            return "this action cannot be undone automatically; prior state is recorded for a manual fix"
        return (
            f"prior state captured; automatic rollback on failed verification; `mendflow rollback {self.campaign_id}`"
        )

    def state_label(self) -> str:
        if self.state is CardState.rolling_out and self.progress.batches:
            return f"Rolling out, batch {self.progress.batch} of {self.progress.batches}"
        return _STATE_LABELS[self.state][1]

    @classmethod
    def from_plan(
        cls,
        plan: Any,
        *,
        state: CardState = CardState.awaiting_approval,
        decisions: Iterable[Decision] = (),
        resource_url: Callable[[ResourceRef], str] | None = None,
        **extra: Any,
    ) -> CampaignCard:
        """A card from a `workflow_types.CampaignPlanDetail` (duck-typed, so this module stays import-light)."""
        resources = tuple(
            CardResource(
                id=t.resource.id,
                url=resource_url(t.resource) if resource_url else "",
                before=dict(t.current),
                after=dict(t.intended),
            )
            for t in plan.targets
        )
        return cls(
            campaign_id=plan.campaign_id,
            playbook_id=plan.playbook_id,
            title=plan.title,
            severity=plan.severity,
            tenant=plan.tenant_key,
            state=state,
            compliance=tuple(plan.compliance),
            resources=resources,
            rollout=Rollout(
                canary=plan.canary, batches=tuple(plan.batches), bake=plan.bake, max_failures=plan.max_failures
            ),
            reversible=plan.reversible,
            approvers=tuple(plan.approvers),
            required_approvals=plan.required_approvals,
            decisions=tuple(decisions),
            progress=Progress(total=len(resources)),
            **extra,
        )


# --- text helpers -------------------------------------------------------------------------------------------


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, an ellipsis marking the cut (Slack refuses a block over its limit)."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def _escape(text: str) -> str:
    """Slack's three control characters in mrkdwn (https://docs.slack.dev/messaging/formatting-message-text)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    return "`" + _escape(text.replace("`", "'")) + "`"


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _json(value: Any) -> str:
    return clip(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str), VALUE_LIMIT)


def change_lines(resource: CardResource, *, max_fields: int = 3) -> list[str]:
    """`field: before → after` for each field the action changes (plain text, unescaped)."""
    keys = sorted(set(resource.before) | set(resource.after))
    changed = [k for k in keys if resource.before.get(k, _MISSING) != resource.after.get(k, _MISSING)]
    lines = []
    for key in changed[:max_fields]:
        before = _json(resource.before[key]) if key in resource.before else "(unset)"
        after = _json(resource.after[key]) if key in resource.after else "(unset)"
        lines.append(f"{key}: {before} → {after}")
    if len(changed) > max_fields:
        lines.append(f"+{len(changed) - max_fields} more fields")
    return lines


_MISSING = object()


def _link(url: str, label: str) -> str:
    if url.startswith(("https://", "http://")) and not any(c in url for c in "|<> "):
        return f"<{url}|{_escape(label)}>"
    return _code(label)


def _slack_date(at: datetime) -> str:
    """Slack shows `<!date^…>` in the reader's own time zone; the fallback is UTC."""
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    fallback = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def _decision_line(decision: Decision, *, rich: bool) -> str:
    icon = ":white_check_mark:" if decision.verdict is Verdict.approve else ":no_entry_sign:"
    verb = "approved" if decision.verdict is Verdict.approve else "rejected"
    who = _escape(decision.approver) if rich else decision.approver
    line = f"{icon} *{who}* {verb} via {decision.channel.value}" if rich else f"{who} {verb} via {decision.channel}"
    if decision.at is not None:
        line += " " + (_slack_date(decision.at) if rich else decision.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    if decision.reason:
        reason = clip(decision.reason, 300)
        line += f" — “{_escape(reason)}”" if rich else f" — {reason}"
    return line


def _approval_text(card: CampaignCard) -> str:
    who = ", ".join(card.approvers) if card.approvers else "the configured approvers"
    return f"{card.approvals} of {card.required_approvals} needed, from {who}"


# --- Block Kit ----------------------------------------------------------------------------------------------


def _scrub(value: Any) -> Any:
    """Redact every string in a Block Kit structure (keys are ours and never secret)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, FIELD_LIMIT)}


def _plain(text: str, limit: int = BUTTON_LIMIT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _resources_text(card: CampaignCard, max_resources: int) -> str:
    if not card.resources:
        return "*What will change*\n_no resources_"
    lines = [f"*What will change* ({len(card.resources)} resource{'s' if len(card.resources) != 1 else ''})"]
    for resource in card.resources[:max_resources]:
        changes = change_lines(resource)
        summary = "; ".join(_escape(line) for line in changes) if changes else "_already as intended_"
        outcome = f" ({resource.outcome.value})" if resource.outcome else ""
        lines.append(f"• {_link(resource.url, resource.id)}{outcome}: {summary}")
    if len(card.resources) > max_resources:
        lines.append(f"+{len(card.resources) - max_resources} more")
    return clip("\n".join(lines), TEXT_LIMIT)


def render_blocks(card: CampaignCard, *, max_resources: int = 5) -> list[dict[str, Any]]:
    """Block Kit for the card (at most ~12 blocks, well under Slack's 50)."""
    icon, _ = _STATE_LABELS[card.state]
    header = f"{_SEVERITY_ICONS[card.severity]} {card.title}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "block_id": "mendflow_header", "text": _plain(header, HEADER_LIMIT)},
        {
            "type": "section",
            "block_id": "mendflow_state",
            "text": _mrkdwn(
                f"{icon} *{_escape(card.state_label())}*" + (f"\n{_escape(card.note)}" if card.note else "")
            ),
        },
    ]
    fields = [
        f"*Severity*\n{card.severity.value.upper()}",
        f"*Tenant*\n{_escape(card.tenant)}",
        f"*Campaign*\n{_link(card.link, card.campaign_id)}",
        f"*Playbook*\n{_code(card.playbook_id)}",
        f"*Approvals*\n{_escape(_approval_text(card))}",
    ]
    if card.risk:
        fields.append(f"*Risk*\n{_escape(card.risk)}")
    if card.compliance:
        fields.append(f"*Compliance*\n{_escape(clip(', '.join(card.compliance), 300))}")
    if card.ticket:
        fields.append(f"*Ticket*\n{_link(card.ticket, card.ticket.rsplit('/', 1)[-1])}")
    if card.expires_at is not None and card.decidable:
        fields.append(f"*Expires*\n{_slack_date(card.expires_at)}")
    blocks.append({"type": "section", "block_id": "mendflow_facts", "fields": [_mrkdwn(f) for f in fields[:10]]})
    blocks.append(
        {"type": "section", "block_id": "mendflow_changes", "text": _mrkdwn(_resources_text(card, max_resources))}
    )
    plan = f"*Rollout*\n{_escape(card.rollout.describe())}\n*Rollback*\n{_escape(card.rollback_note())}"
    blocks.append({"type": "section", "block_id": "mendflow_plan", "text": _mrkdwn(plan)})
    p = card.progress
    if card.state not in DECIDABLE and (p.changed or p.failed or p.restored or p.batches):
        counts = f"changed {p.changed}/{p.total or len(card.resources)} · verified {p.verified} · failed {p.failed}"
        if p.restored:
            counts += f" · restored {p.restored}"
        blocks.append({"type": "context", "block_id": "mendflow_progress", "elements": [_mrkdwn(counts)]})
    if card.decisions:
        lines = [_decision_line(d, rich=True) for d in card.decisions]
        if len(lines) > CONTEXT_LIMIT:
            lines = [*lines[: CONTEXT_LIMIT - 1], f"+{len(lines) - CONTEXT_LIMIT + 1} more decisions"]
        blocks.append({"type": "context", "block_id": "mendflow_decisions", "elements": [_mrkdwn(x) for x in lines]})
    blocks.append({"type": "divider"})
    if card.decidable:
        blocks.append(
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": True,
                "label": _plain("Reason (required to reject)", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_ACTION,
                    "max_length": 500,
                    "placeholder": _plain("Why? Recorded in the audit trail.", 150),
                },
            }
        )
        approve: dict[str, Any] = {
            "type": "button",
            "action_id": APPROVE_ACTION,
            "style": "primary",
            "text": _plain("Approve"),
            "value": card.campaign_id,
            "confirm": {
                "title": _plain("Approve this change?", 100),
                "text": _plain(f"{len(card.resources)} resource(s) in {card.tenant} will be changed.", 300),
                "confirm": _plain("Approve", 30),
                "deny": _plain("Cancel", 30),
            },
        }
        reject = {
            "type": "button",
            "action_id": REJECT_ACTION,
            "style": "danger",
            "text": _plain("Reject"),
            "value": card.campaign_id,
        }
        blocks.append({"type": "actions", "block_id": ACTIONS_BLOCK, "elements": [approve, reject]})
    footer = f"mendflow · {_code(card.campaign_id)}"
    blocks.append({"type": "context", "block_id": "mendflow_footer", "elements": [_mrkdwn(footer)]})
    scrubbed: list[dict[str, Any]] = _scrub(blocks)
    return scrubbed


def render_text(card: CampaignCard) -> str:
    """Plain-text fallback (notifications, screen readers, escalations): the headline first, details after."""
    headline = f"[{card.severity.value.upper()}] {card.state_label()}: {card.title}"
    lines = [
        headline,
        f"campaign {card.campaign_id} · playbook {card.playbook_id} · tenant {card.tenant}",
        f"approvals: {_approval_text(card)}",
    ]
    if card.note:
        lines.append(card.note)
    if card.risk:
        lines.append(f"risk: {card.risk}")
    if card.compliance:
        lines.append("compliance: " + ", ".join(card.compliance))
    lines.append(f"{len(card.resources)} resource(s):")
    for resource in card.resources[:5]:
        changes = "; ".join(change_lines(resource)) or "already as intended"
        lines.append(f"- {resource.id}: {changes}")
    if len(card.resources) > 5:
        lines.append(f"+{len(card.resources) - 5} more")
    lines.append(f"rollout: {card.rollout.describe()}")
    lines.append(f"rollback: {card.rollback_note().replace('`', '')}")
    lines.extend(_decision_line(d, rich=False) for d in card.decisions)
    if card.link:
        lines.append(card.link)
    return redact("\n".join(lines))


def state_of_blocks(blocks: Iterable[dict[str, Any]]) -> CardState | None:
    """The state a rendered card shows (read back from its `mendflow_state` block), e.g. from Slack's history."""
    for block in blocks:
        if block.get("block_id") != "mendflow_state":
            continue
        text = str(block.get("text", {}).get("text", "")).split("\n", 1)[0]
        for state, (icon, label) in _STATE_LABELS.items():
            shown = _escape(label)
            if text.startswith(f"{icon} *{shown}") and (text == f"{icon} *{shown}*" or state is CardState.rolling_out):
                return state
    return None


__all__ = [
    "ACTIONS_BLOCK",
    "APPROVE_ACTION",
    "BUTTON_LIMIT",
    "DECIDABLE",
    "REASON_ACTION",
    "REASON_BLOCK",
    "REJECT_ACTION",
    "CampaignCard",
    "CardResource",
    "CardState",
    "Progress",
    "Rollout",
    "change_lines",
    "clip",
    "render_blocks",
    "render_text",
    "state_of_blocks",
]
