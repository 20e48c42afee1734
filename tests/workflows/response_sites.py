"""The Okta, Slack and Jira simulators on loopback for response-workflow runs, and worker settings that reach them
(one copy of each site for every response test)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mendflow.config import TenantConnection, TenantRegistry
from mendflow.data import demo_tenant_path
from mendflow.redaction import register_secret
from mendflow.runtime.loopback import serve_in_thread
from mendflow.secrets import SecretRef
from mendflow.settings import JiraSettings, Settings
from mendflow.sim.common import FaultPlan
from mendflow.sim.okta import create_okta_app
from mendflow.sim.slack import SlackWorkspace, create_slack_app
from mendflow.tenant import load_tenant_file
from mendflow.worker_context import WorkerContext
from tests.integrations.conftest import ALICE, BOB, CAROL, SimulatedJira, jira_site, slack_settings
from tests.workflows.campaigns import settings as campaign_settings

__all__ = ["OktaSite", "connected", "jira_settings", "jira_site", "okta_site", "slack_site", "worker_context"]


@contextmanager
def slack_site() -> Iterator[SlackWorkspace]:
    """The Slack simulator with alice, bob and carol; its tokens registered as secrets."""
    bot, app, signing = "xoxb-" + secrets.token_hex(12), "xapp-" + secrets.token_hex(12), secrets.token_hex(16)
    for value in (bot, app, signing):
        register_secret(value)
    workspace = SlackWorkspace(
        bot_token=bot, app_token=app, signing_secret=signing, users={ALICE: "alice", BOB: "bob", CAROL: "carol"}
    )
    with serve_in_thread(create_slack_app(workspace)) as server:
        workspace.base_url = server.base_url
        yield workspace


@dataclass
class OktaSite:
    """The Okta simulator serving the demo tenant, and the worker's connection to it as `okta:acme`."""

    okta: Any
    """The simulator's state."""
    connection: TenantConnection
    token: str
    """The API token the connection sends (a registered secret)."""


@contextmanager
def okta_site(monkeypatch: pytest.MonkeyPatch, env: str, *, faults: FaultPlan | None = None) -> Iterator[OktaSite]:
    """The Okta simulator on loopback with the demo tenant; its token a registered secret behind `env:<env>`."""
    tenant = load_tenant_file(demo_tenant_path().with_name("demo-okta.json"))
    token = secrets.token_hex(21)
    register_secret(token)
    monkeypatch.setenv(env, token)
    app = create_okta_app(tenant, token=token, faults=faults)
    with serve_in_thread(app) as server:
        connection = TenantConnection(
            key="okta:acme", provider="okta", tenant=tenant.tenant, base_url=server.base_url,
            token=SecretRef(ref=f"env:{env}"),
        )  # fmt: skip
        yield OktaSite(app.state.okta, connection, token)


def worker_context(tmp_path: Path, *connections: TenantConnection, settings: Settings | None = None) -> WorkerContext:
    """A worker's context for response runs: these tenants, no playbooks, the campaigns' test settings by default."""
    return WorkerContext(
        registry=TenantRegistry(tenants={c.key: c for c in connections}),
        data_dir=tmp_path,
        playbooks={},
        settings=settings or campaign_settings(),
    )


def jira_settings(jira: SimulatedJira, monkeypatch: pytest.MonkeyPatch, env: str) -> JiraSettings:
    """Jira settings for the simulator, project SEC; its token behind `env:<env>`."""
    monkeypatch.setenv(env, jira.token)
    return JiraSettings(server=jira.base_url, user=jira.state.user, token=SecretRef(ref=f"env:{env}"), project="SEC")


def connected(slack: SlackWorkspace, jira: SimulatedJira, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The campaigns' test settings (RBAC, trusted keys) with Slack and Jira pointing at the simulators."""
    return campaign_settings().model_copy(
        update={
            "slack": slack_settings(slack, monkeypatch, "SITES_SLACK"),
            "jira": jira_settings(jira, monkeypatch, "SITES_JIRA_TOKEN"),
        }
    )
