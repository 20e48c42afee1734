"""Operator commands: status, approve, reject, pause, resume, abort, rollback, suppress.

Identity comes from `--as` or the config's `identity`, and is checked by the same RBAC as every other channel.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from temporalio.client import Client

from mendflow import operations
from mendflow.errors import InputError
from mendflow.models import Verdict
from mendflow.render import diff, table
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.settings import Settings
from mendflow.workflow_types import CampaignStatus

T = TypeVar("T")

Address = Annotated[str, typer.Option("--temporal-address", help="HOST:PORT of Temporal.")]
Namespace = Annotated[str, typer.Option("--namespace")]
Config = Annotated[Path | None, typer.Option("--config", help="mendflow.yaml (RBAC, windows, identity).")]
As = Annotated[str | None, typer.Option("--as", help="Who you are (default: the config's identity).")]
Reason = Annotated[str, typer.Option("--reason", help="Why; recorded with the decision.")]
Campaign = Annotated[str, typer.Argument(help="Campaign id (the RemediationWorkflow id).")]


def _run(address: str, namespace: str, work: Callable[[Client], Awaitable[T]]) -> T:
    async def main() -> T:
        return await work(await connect(TemporalSettings(address=address, namespace=namespace)))

    return asyncio.run(main())


def _who(settings: Settings, given: str | None) -> str:
    person = given or settings.identity
    if not person:
        raise InputError("who are you? pass --as USER or set `identity` in the config")
    return person


def render_status(s: CampaignStatus) -> str:
    lines = [f"campaign {s.campaign_id}", f"  playbook {s.playbook_id}: {s.state}" + (" (paused)" if s.paused else "")]
    if s.plan:
        p = s.plan
        lines.append(
            f"  mode {p.mode}; action {p.action}; {len(p.targets)} target(s); batch {s.batch} of {s.batches_total}"
        )
        lines.append(f"  approvers: {p.required_approvals} of {', '.join(p.approvers)}; escalated: {s.escalated}")
        rows = []
        changes = {c.resource.id: c for c in s.changes}
        for t in p.targets:
            c = changes.get(t.resource.id)
            rows.append([t.resource.id, diff(c.before if c and c.before else t.current, t.intended),
                         c.outcome.value if c else "planned", c.detail if c else ""])  # fmt: skip
        lines.append(table(["resource", "before → after", "outcome", "detail"], rows, max_width=[70, 60, 16, 60]))
    for d in s.decisions:
        lines.append(f"  decision: {d.verdict.value} by {d.approver} via {d.channel.value} at {d.at}: {d.reason}")
    for event in s.timeline:
        lines.append(f"  {event['at']}  {event['event']}  {event.get('detail', '')}".rstrip())
    return "\n".join(lines)


def status(
    campaign: Annotated[str | None, typer.Argument(help="Campaign id; all running campaigns when omitted.")] = None,
    output: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    temporal_address: Address = "127.0.0.1:7233",
    namespace: Namespace = "default",
) -> None:
    """Show a campaign's plan, batch, per-resource before/after and outcome, decisions and timeline."""
    if campaign:
        result = [_run(temporal_address, namespace, lambda c: operations.status(c, campaign))]
    else:
        result = _run(temporal_address, namespace, operations.running_campaigns)
    if output == "json":
        for item in result:
            typer.echo(item.model_dump_json())
        return
    if campaign:
        typer.echo(render_status(result[0]))
        return
    rows = [[s.campaign_id, s.playbook_id, s.state, str(len(s.plan.targets) if s.plan else 0)] for s in result]
    typer.echo(table(["campaign", "playbook", "state", "targets"], rows, max_width=[90, 60, 30, 8]))


def _decide(verdict: Verdict, campaign: str, person: str | None, reason: str, config: Path | None,
            address: str, namespace: str) -> None:  # fmt: skip
    settings = Settings.load(config)
    who = _who(settings, person)
    outcome = _run(
        address,
        namespace,
        lambda c: operations.decide(c, campaign, person=who, rbac=settings.rbac, verdict=verdict, reason=reason),
    )
    typer.echo(outcome.message)


def approve(campaign: Campaign, as_: As = None, reason: Reason = "", config: Config = None,
            temporal_address: Address = "127.0.0.1:7233", namespace: Namespace = "default") -> None:  # fmt: skip
    """Approve a campaign awaiting a decision."""
    _decide(Verdict.approve, campaign, as_, reason, config, temporal_address, namespace)


def reject(campaign: Campaign, reason: Annotated[str, typer.Option("--reason", help="Why (required).")],
           as_: As = None, config: Config = None, temporal_address: Address = "127.0.0.1:7233",
           namespace: Namespace = "default") -> None:  # fmt: skip
    """Reject a campaign: nothing will be changed."""
    _decide(Verdict.reject, campaign, as_, reason, config, temporal_address, namespace)


def _control(name: str) -> Callable[..., None]:
    def command(campaign: Campaign, as_: As = None, reason: Reason = "", config: Config = None,
                temporal_address: Address = "127.0.0.1:7233", namespace: Namespace = "default") -> None:  # fmt: skip
        settings = Settings.load(config)
        who = _who(settings, as_)
        message = _run(
            temporal_address,
            namespace,
            lambda c: operations.operate(c, campaign, name, person=who, rbac=settings.rbac, reason=reason),
        )
        typer.echo(message)

    command.__doc__ = {
        "pause": "Pause a rollout before its next resource.",
        "resume": "Resume a paused rollout.",
        "abort": "Stop a campaign before its next resource (changed ones stay changed unless rolled back).",
        "rollback": "Restore the captured prior state of a finished campaign (same approval rules).",
    }[name]
    return command


pause, resume, abort, rollback = (_control(n) for n in ("pause", "resume", "abort", "rollback"))

_EXPIRY = re.compile(r"(\d+)([hdw])")


def parse_expiry(text: str, *, now: datetime) -> datetime:
    """`30d`, `12h`, `2w` from now, or an ISO 8601 date/time."""
    match = _EXPIRY.fullmatch(text.strip())
    if match:
        n, unit = int(match[1]), match[2]
        return now + timedelta(hours=n) * {"h": 1, "d": 24, "w": 168}[unit]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--expires {text!r}: use 30d, 12h, 2w or an ISO date such as 2027-01-31") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def suppress(
    finding: Annotated[str, typer.Argument(help="Finding fingerprint.")],
    reason: Annotated[str, typer.Option("--reason", help="Why this risk is accepted (required).")],
    expires: Annotated[str, typer.Option("--expires", help="30d, 12h, 2w or an ISO date.")],
    as_: As = None,
    config: Config = None,
    temporal_address: Address = "127.0.0.1:7233",
    namespace: Namespace = "default",
) -> None:
    """Accept a finding's risk until it expires; a durable timer re-opens it then."""
    settings = Settings.load(config)
    who = _who(settings, as_)
    until = parse_expiry(expires, now=datetime.now(UTC))
    if until <= datetime.now(UTC):
        raise InputError(f"--expires {expires!r} is in the past")
    wid = _run(
        temporal_address,
        namespace,
        lambda c: operations.suppress(c, finding, person=who, rbac=settings.rbac, reason=reason, expires_at=until),
    )
    typer.echo(json.dumps({"suppression": wid, "until": until.isoformat()}))
