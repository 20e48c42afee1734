"""The operator verbs' HTTP client: one request to mendflow's API, its answer mapped to an exit code.

200 accepted → 0    409 refused by the workflow, 401/403/429 refused by the API → 3
400/404/413/422 bad input → 2    5xx, unreachable API → 1
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from mendflow.errors import ConnectionProblem, InputError, Refused

TOKEN_ENV = "MENDFLOW_TOKEN"  # noqa: S105 - the name of the variable, not a token
ApiUrl = Annotated[
    str, typer.Option("--api-url", envvar="MENDFLOW_API_URL", help="Base URL of mendflow's API.", metavar="URL")
]
TokenFile = Annotated[
    Path | None,
    typer.Option("--token-file", help=f"File holding your API token (default: ${TOKEN_ENV}).", metavar="PATH"),
]


def _known_format(value: str) -> str:
    """Refuse an unknown --format before the command runs (exit 2, as for any bad option)."""
    if value not in ("table", "json"):
        raise InputError(f"--format {value!r}: use table or json")
    return value


Format = Annotated[str, typer.Option("--format", help="table or json.", metavar="table|json", callback=_known_format)]
DEFAULT_API = "http://127.0.0.1:8088"


def token(token_file: Path | None) -> str:
    if token_file is not None:
        try:
            value = token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            raise InputError(f"--token-file {token_file}: cannot read a token from it") from None
    else:
        value = os.environ.get(TOKEN_ENV, "").strip()
    if not value:
        raise InputError(
            f"no API token: set {TOKEN_ENV} or pass --token-file (create one with `mendflow tokens create`)"
        )
    return value


def call(method: str, api_url: str, path: str, token_text: str, body: dict[str, Any] | None = None) -> Any:
    """The decoded JSON answer of a 2xx or 409 (`accepted: false`); other statuses raise the matching error."""
    try:
        with httpx.Client(base_url=api_url, timeout=60) as http:
            response = http.request(method, path, json=body, headers={"Authorization": f"Bearer {token_text}"})
    except httpx.HTTPError as err:
        raise ConnectionProblem(
            f"mendflow API at {api_url} cannot be reached ({type(err).__name__}); is it running?"
        ) from None
    try:
        data = response.json()
    except ValueError:
        data = {"error": response.text[:200]}
    problem = data.get("error", "") if isinstance(data, dict) else ""
    status = response.status_code
    if status < 300 or status == 409:
        return data
    if status in (401, 403, 429):
        raise Refused(f"the API refused the request: {problem}")
    if 400 <= status < 500:
        raise InputError(problem or f"HTTP {status}")
    raise ConnectionProblem(f"mendflow API failed (HTTP {status}): {problem}")


def finish(answer: dict[str, Any], output: str) -> None:
    """Print the workflow's answer; exit 3 when it was refused."""
    if output == "json":
        typer.echo(json.dumps(answer))
    elif answer.get("accepted"):
        typer.echo(answer.get("message", ""))
    else:
        typer.echo(f"refused: {answer.get('message', '')}", err=True)
    if not answer.get("accepted"):
        raise typer.Exit(3)


__all__ = ["DEFAULT_API", "TOKEN_ENV", "ApiUrl", "Format", "TokenFile", "call", "finish", "token"]
