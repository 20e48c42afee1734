"""`mendflow findings`: the findings ledger through the API, so nobody opens the database to find a fingerprint.

A client of `GET /v1/findings` (viewer role) like the other operator verbs: exit 0 listed (even when nothing
matches), 2 bad filter value (naming the flag, checked before anything is sent), 3 refused by the API, 1 failed.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

import typer

from mendflow.cli.api_client import DEFAULT_API, ApiUrl, Format, TokenFile, call, token
from mendflow.findings.view import DEFAULT_LIMIT, FindingsPage, parse_filter, render_findings


def findings(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Tenant key, e.g. github:acme.", metavar="KEY")] = None,
    severity: Annotated[
        str | None, typer.Option("--severity", help="info, low, medium, high or critical.", metavar="S")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="open, regressed, remediating, resolved, failed, rolled_back or suppressed.",
            metavar="S",
        ),
    ] = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Playbook id.", metavar="ID")] = None,
    false_positive: Annotated[
        str | None,
        typer.Option(
            "--false-positive", help="yes: only findings marked false positives; no: only the others.", metavar="yes|no"
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", help="Most findings to show (1–10000).", metavar="N")
    ] = DEFAULT_LIMIT,
    output: Format = "table",
    api_url: ApiUrl = DEFAULT_API,
    token_file: TokenFile = None,
) -> None:
    """List findings: fingerprint, tenant, rule, resource, severity, risk, status, first/last seen, campaign and
    why it resolved."""
    raw = {"tenant": tenant, "severity": severity, "status": status, "rule": rule, "limit": str(limit),
           "false_positive": false_positive}  # fmt: skip
    wanted = parse_filter(raw, name=lambda field: f"--{field.replace('_', '-')}")
    query = urlencode(wanted.model_dump(mode="json", exclude_none=True))
    page = FindingsPage.model_validate(call("GET", api_url, f"/v1/findings?{query}", token(token_file)))
    if output == "json":
        for view in page.findings:
            typer.echo(view.model_dump_json())
    else:
        typer.echo(render_findings(page.findings))
        typer.echo(f"\n{len(page.findings)} finding(s)")
    if page.more:
        typer.echo(f"more than {wanted.limit} findings match; narrow the filters or raise --limit", err=True)


__all__ = ["findings"]
