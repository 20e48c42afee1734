"""`mendflow sim github|okta --tenant-file F`: serve a tenant file as the vendor's API on loopback
(`mendflow sim serve PROVIDER -f F` for any registered provider).

`--generate` serves a large deterministic tenant instead (GitHub: 300 repos, 1,500 members; Okta: 20,000
users), and the `--fault-…` flags inject faults for resilience tests and benchmarks.

The simulators are imported inside each command: every `mendflow` command loads this module to register `sim`,
and production commands (worker, api, scan) must never load a simulator.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from starlette.types import ASGIApp

from mendflow import providers
from mendflow.errors import InputError
from mendflow.redaction import register_secret
from mendflow.runtime.loopback import serve_async
from mendflow.runtime.ports import ensure_free
from mendflow.tenant import TenantFile, load_tenant_file, parse_tenant

if TYPE_CHECKING:
    from mendflow.sim.deliveries import WebhookTarget

app = typer.Typer(help="Vendor simulators on loopback, seeded from tenant files.", no_args_is_help=True)

TenantOption = Annotated[
    Path | None, typer.Option("--tenant-file", "-f", help="A mendflow.tenant/v1 tenant file (JSON or YAML).")
]
GenerateOption = Annotated[
    bool, typer.Option("--generate", help="Serve a large generated tenant instead of a file (deterministic).")
]
PortOption = Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")]
TokenEnvOption = Annotated[str, typer.Option("--token-env", help="Environment variable holding the token to accept.")]
SeedOption = Annotated[int, typer.Option("--fault-seed", help="Seed for every injected fault (reruns repeat them).")]
ErrorRateOption = Annotated[float, typer.Option("--fault-5xx-rate", min=0.0, max=1.0, help="Share answered 5xx.")]
LatencyOption = Annotated[float, typer.Option("--fault-latency", min=0.0, help="Mean added latency, seconds.")]
ForbidOption = Annotated[
    list[str] | None,
    typer.Option("--fault-403", help="Answer 403 on paths matching this pattern (repeatable), e.g. '/orgs/*/hooks'."),
]
TruncateOption = Annotated[
    float, typer.Option("--fault-truncate-rate", min=0.0, max=1.0, help="Share of bodies cut in half.")
]
RateLimitOption = Annotated[
    int | None, typer.Option("--fault-rate-limit", min=1, help="Requests per rate-limit window (per bucket).")
]
RateWindowOption = Annotated[
    float | None, typer.Option("--fault-rate-window", min=0.1, help="Seconds per rate-limit window.")
]
WebhookUrlOption = Annotated[
    str | None,
    typer.Option("--webhook-url", help="Deliver the vendor's webhooks for every write here (mendflow's /webhooks/…)."),
]
WebhookSecretEnvOption = Annotated[
    str, typer.Option("--webhook-secret-env", help="Environment variable holding the webhook secret.")
]
AppIdOption = Annotated[
    str | None, typer.Option("--app-id", help="Register a GitHub App with this id (needs --app-public-key).")
]
AppKeyOption = Annotated[
    Path | None, typer.Option("--app-public-key", help="The app's PEM public key (mendflow holds the private one).")
]
AppPermissionsOption = Annotated[
    str | None,
    typer.Option(
        "--app-permissions",
        help="What the installation is granted, NAME=read|write comma-separated (default: what the shipped "
        "playbooks need).",
        metavar="NAME=LEVEL[,…]",
    ),
]
ServiceAppOption = Annotated[
    str | None,
    typer.Option("--service-app", help="Register an Okta API service app with this client id (needs its key)."),
]
ServiceKeyOption = Annotated[
    Path | None, typer.Option("--service-app-public-key", help="The service app's PEM public key.")
]
ServiceScopesOption = Annotated[
    str | None,
    typer.Option(
        "--service-app-scopes",
        help="Scopes granted to it, comma-separated (default: what the shipped playbooks need).",
        metavar="SCOPE[,…]",
    ),
]
DEFAULT_TOKEN_ENV = "MENDFLOW_SIM_TOKEN"  # noqa: S105 - the name of a variable, not a secret
DEFAULT_WEBHOOK_SECRET_ENV = "MENDFLOW_SIM_WEBHOOK_SECRET"  # noqa: S105


def _tenant(tenant_file: Path | None, generate: bool, generated: dict[str, object], provider: str) -> TenantFile:
    if (tenant_file is None) == (not generate):
        raise InputError("give exactly one of --tenant-file F or --generate")
    tenant = parse_tenant(generated, source="generated") if tenant_file is None else load_tenant_file(tenant_file)
    if tenant.provider != provider:
        raise InputError(f"{tenant_file}: a {tenant.provider} tenant cannot be served by the {provider} simulator")
    return tenant


def _token(token_env: str) -> str:
    token = os.environ.get(token_env) or secrets.token_urlsafe(24)
    if token_env not in os.environ:
        typer.echo(f"no ${token_env} set: generated a token for this run (export it to reuse): {token}")
    return token


def _webhook(url: str | None, secret_env: str) -> WebhookTarget | None:
    """Where writes deliver webhooks, with the secret from `secret_env` (which must be set: mendflow needs it too)."""
    from mendflow.sim.deliveries import WebhookTarget

    if url is None:
        return None
    secret = os.environ.get(secret_env)
    if not secret:
        raise InputError(f"--webhook-url needs the webhook secret in ${secret_env} (the same one mendflow.yaml names)")
    register_secret(secret)
    return WebhookTarget(url, secret)


def _serve(vendor: str, tenant: TenantFile, port: int, token_env: str, make_app: Callable[[str], ASGIApp]) -> None:
    """The part every vendor simulator command shares: check the port, settle the token, serve until Ctrl-C."""
    ensure_free("127.0.0.1", port, what=f"{vendor} simulator", option="--port")
    token = _token(token_env)
    typer.echo(f"simulated {vendor} org '{tenant.tenant}' at http://127.0.0.1:{port}; Ctrl-C to stop.")
    asyncio.run(serve_async(make_app(token), host="127.0.0.1", port=port))


@app.command("serve")
def serve(
    provider: Annotated[str, typer.Argument(help="A registered provider: github, okta, …")],
    tenant_file: Annotated[
        Path, typer.Option("--tenant-file", "-f", help="A mendflow.tenant/v1 tenant file of that provider.")
    ],
    port: PortOption = 8790,
    token_env: TokenEnvOption = DEFAULT_TOKEN_ENV,
) -> None:
    """Serve a tenant file with any registered provider's simulator (`Provider.simulator`: no faults, no app) until
    Ctrl-C; `mendflow sim github|okta` add their vendor's own options."""
    found = providers.get(provider)
    tenant = _tenant(tenant_file, False, {}, found.name)
    _serve(found.title, tenant, port, token_env, lambda token: found.simulator(tenant, token))


@app.command("github")
def github(
    tenant_file: TenantOption = None,
    generate: GenerateOption = False,
    port: PortOption = 8787,
    token_env: TokenEnvOption = DEFAULT_TOKEN_ENV,
    fault_seed: SeedOption = 0,
    fault_5xx_rate: ErrorRateOption = 0.0,
    fault_latency: LatencyOption = 0.0,
    fault_403: ForbidOption = None,
    fault_truncate_rate: TruncateOption = 0.0,
    fault_rate_limit: RateLimitOption = None,
    fault_rate_window: RateWindowOption = None,
    webhook_url: WebhookUrlOption = None,
    webhook_secret_env: WebhookSecretEnvOption = DEFAULT_WEBHOOK_SECRET_ENV,
    app_id: AppIdOption = None,
    app_public_key: AppKeyOption = None,
    app_permissions: AppPermissionsOption = None,
    api_prefix: Annotated[
        str,
        typer.Option(
            "--api-prefix",
            metavar="PATH",
            help="Also serve the API under this path, as GitHub Enterprise Server does (/api/v3); answers keep it.",
        ),
    ] = "",
) -> None:
    """Serve a GitHub organization from a tenant file (or a generated one) until Ctrl-C; with --app-id, also as a
    GitHub App's installation (JWT → installation tokens, permissions enforced per endpoint). Every API URL in an
    answer is on the simulator's own base, so clients that follow them (PyGithub) stay on it."""
    from mendflow.sim.common import FaultPlan
    from mendflow.sim.demo_app import github_authority
    from mendflow.sim.generate import github_tenant
    from mendflow.sim.github import create_github_app

    tenant = _tenant(tenant_file, generate, github_tenant() if generate else {}, "github")
    if (app_id is None) != (app_public_key is None):
        raise InputError("--app-id and --app-public-key go together")
    app_auth = (
        None if app_id is None or app_public_key is None else github_authority(app_id, app_public_key, app_permissions)
    )
    faults = FaultPlan(fault_seed, fault_5xx_rate, fault_latency, tuple(fault_403 or ()), fault_truncate_rate,
                       fault_rate_limit, fault_rate_window)  # fmt: skip
    webhook = _webhook(webhook_url, webhook_secret_env)
    _serve(
        "GitHub",
        tenant,
        port,
        token_env,
        lambda token: create_github_app(
            tenant, token=token, faults=faults, webhook=webhook, app_auth=app_auth, api_prefix=api_prefix
        ),
    )


@app.command("okta")
def okta(
    tenant_file: TenantOption = None,
    generate: GenerateOption = False,
    users: Annotated[int, typer.Option("--users", min=1, help="Users in a generated org.")] = 20_000,
    port: PortOption = 8788,
    token_env: TokenEnvOption = DEFAULT_TOKEN_ENV,
    fault_seed: SeedOption = 0,
    fault_5xx_rate: ErrorRateOption = 0.0,
    fault_latency: LatencyOption = 0.0,
    fault_403: ForbidOption = None,
    fault_truncate_rate: TruncateOption = 0.0,
    fault_rate_limit: RateLimitOption = None,
    fault_rate_window: RateWindowOption = None,
    webhook_url: WebhookUrlOption = None,
    webhook_secret_env: WebhookSecretEnvOption = DEFAULT_WEBHOOK_SECRET_ENV,
    service_app: ServiceAppOption = None,
    service_app_public_key: ServiceKeyOption = None,
    service_app_scopes: ServiceScopesOption = None,
) -> None:
    """Serve an Okta org from a tenant file (or a generated one) until Ctrl-C; accepts `SSWS` and `Bearer`, and
    with --service-app serves `/oauth2/v1/token` for that service app (scopes enforced per endpoint)."""
    from mendflow.sim.common import FaultPlan
    from mendflow.sim.demo_app import okta_authority
    from mendflow.sim.generate import okta_tenant
    from mendflow.sim.okta import create_okta_app

    tenant = _tenant(tenant_file, generate, okta_tenant(users=users) if generate else {}, "okta")
    if (service_app is None) != (service_app_public_key is None):
        raise InputError("--service-app and --service-app-public-key go together")
    apps = (
        None
        if service_app is None or service_app_public_key is None
        else okta_authority(service_app, service_app_public_key, service_app_scopes)
    )
    faults = FaultPlan(fault_seed, fault_5xx_rate, fault_latency, tuple(fault_403 or ()), fault_truncate_rate,
                       fault_rate_limit, fault_rate_window)  # fmt: skip
    webhook = _webhook(webhook_url, webhook_secret_env)
    _serve(
        "Okta",
        tenant,
        port,
        token_env,
        lambda token: create_okta_app(tenant, token=token, faults=faults, webhook=webhook, service_apps=apps),
    )


# --- Slack and Jira (approval cards, interactivity, tickets) ------------------------------------------------

# Names of environment variables, not secrets.
SLACK_BOT_ENV = "MENDFLOW_SIM_SLACK_BOT_TOKEN"
SLACK_APP_ENV = "MENDFLOW_SIM_SLACK_APP_TOKEN"
SLACK_SIGNING_ENV = "MENDFLOW_SIM_SLACK_SIGNING_SECRET"
JIRA_TOKEN_ENV = "MENDFLOW_SIM_JIRA_TOKEN"  # noqa: S105


def _secret(env: str, prefix: str, what: str) -> str:
    value = os.environ.get(env)
    if value:
        return value
    value = prefix + secrets.token_hex(16)
    typer.echo(f"no ${env} set: generated the {what} for this run (export it to reuse): {value}")
    return value


def _pairs(values: list[str], option: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise typer.BadParameter(f"expected KEY=VALUE, got {value!r}", param_hint=option)
        out[key] = rest
    return out


@app.command("slack")
def slack(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8790,
    interactivity_url: Annotated[
        str, typer.Option("--interactivity-url", help="Where clicks are POSTed (mendflow api's /slack/interactivity).")
    ] = "http://127.0.0.1:8088/slack/interactivity",
    user: Annotated[
        list[str] | None, typer.Option("--user", help="Slack user as ID=name, e.g. U0ALICE001=alice (repeatable).")
    ] = None,
    usergroup: Annotated[
        list[str] | None,
        typer.Option("--usergroup", help="Slack user group as ID=U1,U2, e.g. S0ONCALL01=U0ALICE001 (repeatable)."),
    ] = None,
    rate_limit: Annotated[int, typer.Option("--rate-limit", help="Web API calls per minute before 429 (0: none).")] = 0,
    bot_token_env: Annotated[str, typer.Option("--bot-token-env")] = SLACK_BOT_ENV,
    app_token_env: Annotated[str, typer.Option("--app-token-env")] = SLACK_APP_ENV,
    signing_secret_env: Annotated[str, typer.Option("--signing-secret-env")] = SLACK_SIGNING_ENV,
) -> None:
    """Serve a Slack workspace (Web API, Socket Mode, a clicking user) until Ctrl-C."""
    from mendflow.runtime.loopback import LoopbackServer
    from mendflow.sim.slack import SlackWorkspace, create_slack_app

    users = _pairs(user or ["U0ALICE001=alice", "U0BOB00001=bob"], "--user")
    groups = {k: v.split(",") for k, v in _pairs(usergroup or [], "--usergroup").items()}
    ensure_free("127.0.0.1", port, what="Slack simulator", option="--port")
    workspace = SlackWorkspace(
        bot_token=_secret(bot_token_env, "xoxb-", "bot token"),
        app_token=_secret(app_token_env, "xapp-", "app-level token"),
        signing_secret=_secret(signing_secret_env, "", "signing secret"),
        users=users,
        usergroups=groups,
        interactivity_url=interactivity_url,
        rate_limit=rate_limit,
    )

    def ready(server: LoopbackServer) -> None:
        workspace.base_url = server.base_url
        typer.echo(f"simulated Slack at {server.base_url}/api/ (#sec-remediation = C0SECREMED1); Ctrl-C to stop.")
        typer.echo(f"clicks go to {interactivity_url}; click as a person with:")
        typer.echo(
            f"  curl -s {server.base_url}/_sim/click -d "
            """'{"user": "U0ALICE001", "campaign": "CAMPAIGN_ID", "verdict": "approve"}'"""
        )

    asyncio.run(serve_async(create_slack_app(workspace), host="127.0.0.1", port=port, ready=ready))


@app.command("jira")
def jira(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8791,
    user: Annotated[str, typer.Option("--user", help="The account for basic auth.")] = "mendflow@example.com",
    project: Annotated[
        list[str] | None, typer.Option("--project", help="Project as KEY=Name (repeatable; default SEC=Security).")
    ] = None,
    token_env: Annotated[str, typer.Option("--token-env")] = JIRA_TOKEN_ENV,
) -> None:
    """Serve a Jira site (REST v2 and v3: issues, comments, transitions) until Ctrl-C."""
    from mendflow.runtime.loopback import LoopbackServer
    from mendflow.sim.jira import JiraState, create_jira_app

    projects = _pairs(project or ["SEC=Security"], "--project")
    ensure_free("127.0.0.1", port, what="Jira simulator", option="--port")
    state = JiraState(token=_secret(token_env, "", "API token"), user=user, projects=projects)

    def ready(server: LoopbackServer) -> None:
        state.base_url = server.base_url
        listed = ", ".join(projects)
        typer.echo(f"simulated Jira at {server.base_url} (projects: {listed}; user {user}); Ctrl-C to stop.")

    asyncio.run(serve_async(create_jira_app(state), host="127.0.0.1", port=port, ready=ready))
