"""`mendflow sim github --tenant-file F`: serve a tenant file as the vendor's API on loopback."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

from mendflow.runtime.ports import ensure_free
from mendflow.sim.github import create_github_app
from mendflow.sim.server import serve_async
from mendflow.tenant import load_tenant_file

app = typer.Typer(help="Vendor simulators on loopback, seeded from tenant files.", no_args_is_help=True)


@app.command("github")
def github(
    tenant_file: Annotated[Path, typer.Option("--tenant-file", "-f", help="A mendflow.tenant/v1 GitHub tenant.")],
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8787,
    token_env: Annotated[
        str, typer.Option("--token-env", help="Environment variable holding the bearer token to accept.")
    ] = "MENDFLOW_SIM_TOKEN",  # noqa: S107 - the name of a variable, not a secret
) -> None:
    """Serve a GitHub organization from a tenant file until Ctrl-C."""
    tenant = load_tenant_file(tenant_file)
    token = os.environ.get(token_env) or secrets.token_urlsafe(24)
    ensure_free("127.0.0.1", port, what="GitHub simulator", option="--port")
    if token_env not in os.environ:
        typer.echo(f"no ${token_env} set: generated a token for this run (export it to reuse): {token}")
    typer.echo(f"simulated GitHub org '{tenant.tenant}' at http://127.0.0.1:{port}; Ctrl-C to stop.")
    asyncio.run(serve_async(create_github_app(tenant, token=token), host="127.0.0.1", port=port))
