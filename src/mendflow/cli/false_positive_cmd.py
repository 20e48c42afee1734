"""`mendflow mark-false-positive`: label a finding a false positive (M7) through the API, or take the label off.

A client of `POST /v1/findings/{fingerprint}/false-positive` (operator role): exit 0 marked, 2 bad input or no
such finding, 3 refused by the API, 1 failed. The finding stays in the ledger; it stops counting as open.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer

from mendflow.cli.api_client import DEFAULT_API, ApiUrl, Format, TokenFile, call, finish, token
from mendflow.errors import InputError


def mark_false_positive(
    finding: Annotated[str, typer.Argument(help="Finding fingerprint (mendflow findings).", metavar="FINGERPRINT")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is a false positive (required).", metavar="TEXT")],
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Only in this tenant, e.g. github:acme.", metavar="KEY")
    ] = None,
    undo: Annotated[bool, typer.Option("--undo", help="Take the label off: the finding counts as open again.")] = False,
    output: Format = "table",
    api_url: ApiUrl = DEFAULT_API,
    token_file: TokenFile = None,
) -> None:
    """Mark a finding a false positive (or, with --undo, unmark it); recorded with who and why."""
    if not reason.strip():
        raise InputError("a false-positive mark needs a reason (--reason)")
    body = {"reason": reason, "false_positive": not undo, "tenant": tenant}
    answer = call("POST", api_url, f"/v1/findings/{quote(finding, safe='')}/false-positive", token(token_file), body)
    finish(answer, output)


__all__ = ["mark_false_positive"]
