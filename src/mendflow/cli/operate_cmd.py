"""Operator commands: status, approve, reject, pause, resume, abort, rollback, suppress: clients of the API.

Who you are is your API token (`MENDFLOW_TOKEN` or `--token-file`); the API resolves your groups from its own
config and signs the request, and the workflow answers. Each command waits for that answer, prints it and
exits 0 accepted, 3 refused (with the reason), 2 bad input, 1 when mendflow itself failed.

The verbs take campaign ids and response run ids (`response/…`) alike: both workflows answer the same signed
updates. `rollback` of a response run first shows what it would restore and asks (`--yes` skips the question).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import click
import typer

from mendflow.cli.api_client import DEFAULT_API, ApiUrl, Format, TokenFile, call, finish, token
from mendflow.cli.options import temporal_options
from mendflow.cli.run_cmd import is_run_id, render_restorable, show_run
from mendflow.errors import InputError
from mendflow.render import diff, table
from mendflow.responses.messages import ResponseStatus
from mendflow.runtime.client import TemporalSettings
from mendflow.workflow_types import CampaignStatus

Reason = Annotated[str, typer.Option("--reason", help="Why; recorded with the decision.", metavar="TEXT")]
Campaign = Annotated[str, typer.Argument(help="Campaign id (the RemediationWorkflow id).", metavar="CAMPAIGN")]


def _path(campaign: str) -> str:
    return "/v1/campaigns/" + quote(campaign, safe="/:")


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


@temporal_options()
def status(
    campaign: Annotated[
        str | None, typer.Argument(help="Campaign id; all running campaigns when omitted.", metavar="CAMPAIGN")
    ] = None,
    output: Format = "table",
    api_url: ApiUrl = DEFAULT_API,
    token_file: TokenFile = None,
    *,
    temporal: TemporalSettings,
) -> None:
    """Show a campaign's plan, batch, per-resource before/after and outcome, decisions and timeline (or a
    response run's step timeline — started, waiting for whom, done, rolled back — for a `response/…` id, read
    from Temporal with the --temporal-address and TLS options)."""
    if campaign and is_run_id(campaign):  # a response workflow run: Temporal answers, not the campaigns API
        show_run(campaign, output, temporal)
        return
    data = call("GET", api_url, _path(campaign) if campaign else "/v1/campaigns", token(token_file))
    result = [CampaignStatus.model_validate(item) for item in ([data] if campaign else data)]
    if output == "json":
        for item in result:
            typer.echo(item.model_dump_json())
        return
    if campaign:
        typer.echo(render_status(result[0]))
        return
    rows = [[s.campaign_id, s.playbook_id, s.state, str(len(s.plan.targets) if s.plan else 0)] for s in result]
    typer.echo(table(["campaign", "playbook", "state", "targets"], rows, max_width=[90, 60, 30, 8]))


def _send(verb: str, campaign: str, reason: str, output: str, api_url: str, token_file: Path | None) -> None:
    answer = call("POST", api_url, f"{_path(campaign)}/{verb}", token(token_file), {"reason": reason})
    finish(answer, output)


def approve(campaign: Campaign, reason: Reason = "", output: Format = "table", api_url: ApiUrl = DEFAULT_API,
            token_file: TokenFile = None) -> None:  # fmt: skip
    """Approve a campaign awaiting a decision."""
    _send("approve", campaign, reason, output, api_url, token_file)


def reject(campaign: Campaign, reason: Annotated[str, typer.Option("--reason", help="Why (required).", metavar="TEXT")],
           output: Format = "table", api_url: ApiUrl = DEFAULT_API, token_file: TokenFile = None) -> None:  # fmt: skip
    """Reject a campaign: nothing will be changed."""
    _send("reject", campaign, reason, output, api_url, token_file)


def answer(
    run: Annotated[str, typer.Argument(help="The run (or for_each page) that asks: `questions` in its status.",
                                       metavar="RUN")],
    question: Annotated[str, typer.Argument(help="The question's id: the wait step's, or STEP#INDEX in a for_each.",
                                            metavar="QUESTION")],
    option: Annotated[str, typer.Argument(help="One of the question's options.", metavar="OPTION")],
    output: Format = "table", api_url: ApiUrl = DEFAULT_API, token_file: TokenFile = None,
) -> None:  # fmt: skip
    """Answer a question a response run waits on (only the person asked, or one of its operators, may)."""
    path = "/v1/responses/" + quote(run, safe="/:") + "/answer"
    finish(call("POST", api_url, path, token(token_file), {"question": question, "option": option}), output)


def _control(name: str) -> Callable[..., None]:
    def command(campaign: Campaign, reason: Reason = "", output: Format = "table", api_url: ApiUrl = DEFAULT_API,
                token_file: TokenFile = None) -> None:  # fmt: skip
        _send(name, campaign, reason, output, api_url, token_file)

    command.__doc__ = {
        "pause": "Pause a rollout before its next resource.",
        "resume": "Resume a paused rollout.",
        "abort": "Stop a campaign before its next resource (changed ones stay changed unless rolled back).",
        "rollback": "Restore the captured prior state of a finished campaign (same approval rules).",
    }[name]
    return command


pause, resume, abort = (_control(n) for n in ("pause", "resume", "abort"))


def _confirmed(question: str) -> bool:
    """The person's yes; no answer at all (stdin closed, not a terminal) is a no."""
    try:
        return typer.confirm(question, default=False, err=True)
    except click.exceptions.Abort:
        return False


def rollback(
    campaign: Campaign,
    reason: Reason = "",
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Roll a response run back without showing and asking first.")
    ] = False,
    output: Format = "table",
    api_url: ApiUrl = DEFAULT_API,
    token_file: TokenFile = None,
) -> None:
    """Restore the captured prior state of a finished campaign (same approval rules), or of a response run —
    running, or ended within its retention window — after showing what will be restored."""
    if is_run_id(campaign) and not yes:
        run = ResponseStatus.model_validate(
            call("GET", api_url, "/v1/responses/" + quote(campaign, safe="/:"), token(token_file))
        )
        if not run.restorable and run.state.value not in ("running", "awaiting_approval", "paused"):
            typer.echo(f"refused: run {campaign} ({run.state.value}) has nothing a rollback could restore", err=True)
            raise typer.Exit(3)
        typer.echo(f"run {campaign} ({run.state.value}): a rollback restores, newest first:", err=True)
        typer.echo(render_restorable(run) if run.restorable else "  (nothing changed yet; the run stops)", err=True)
        if not _confirmed("Roll back these changes?"):
            typer.echo("not confirmed: nothing was rolled back", err=True)
            raise typer.Exit(3)
    _send("rollback", campaign, reason, output, api_url, token_file)


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
    finding: Annotated[str, typer.Argument(help="Finding fingerprint.", metavar="FINGERPRINT")],
    reason: Annotated[str, typer.Option("--reason", help="Why this risk is accepted (required).", metavar="TEXT")],
    expires: Annotated[str, typer.Option("--expires", help="30d, 12h, 2w or an ISO date.", metavar="WHEN")],
    output: Format = "table",
    api_url: ApiUrl = DEFAULT_API,
    token_file: TokenFile = None,
) -> None:
    """Accept a finding's risk until it expires; a durable timer re-opens it then. Exit 3 when refused."""
    if not reason.strip():
        raise InputError("a suppression needs a reason (--reason)")
    until = parse_expiry(expires, now=datetime.now(UTC))
    if until <= datetime.now(UTC):
        raise InputError(f"--expires {expires!r} is in the past")
    answer = call(
        "POST",
        api_url,
        f"/v1/findings/{quote(finding, safe='')}/suppress",
        token(token_file),
        {"reason": reason, "expires_at": until.isoformat()},
    )
    if output == "json" or not answer.get("accepted"):
        finish(answer, output)
        return
    typer.echo(json.dumps({"suppression": answer.get("workflow_id", ""), "until": until.isoformat()}))
