"""The operator verbs on a response run end to end: `mendflow pause|resume|abort|rollback|status response/…` through
the operator API (token → role → signed request → the run's validator), audited, on a real dev server with the
Okta simulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import io
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from mendflow.api.assemble import build_api
from mendflow.audit import AuditLog
from mendflow.auth.tokens import Role, StoredTokens
from mendflow.config import TenantConnection, TenantRegistry
from mendflow.data import demo_tenant_path
from mendflow.redaction import register_secret
from mendflow.responses import ResponsePlaybook
from mendflow.responses.messages import ResponseStatus, RunState
from mendflow.runtime.client import TemporalSettings
from mendflow.runtime.loopback import serve_in_thread
from mendflow.runtime.responses import start_response, wait_response_idle
from mendflow.runtime.worker import build_worker
from mendflow.secrets import SecretRef
from mendflow.settings import Settings
from mendflow.sim.okta import create_okta_app
from mendflow.store import Database, database_url
from mendflow.tenant import load_tenant_file
from mendflow.worker_context import WorkerContext
from tests.cli_in_process import Done, invoker
from tests.signing import SIGNER
from tests.workflows.campaigns import RBAC, settings

OWNER = "00u00000000000001sim"
DEFINITION = ResponsePlaybook.model_validate(
    {
        "apiVersion": "mendflow/v1", "kind": "Workflow", "id": "test.operated", "title": "operated",
        "tenant": "okta:acme", "inputs": {"type": "object", "properties": {"user": {"type": "string"}}},
        "steps": yaml.safe_load("""
        - {id: suspend, kind: action, action: okta.user.set_status, target: "/api/v1/users/${{ inputs.user }}",
           with: {status: SUSPENDED}}
        - {id: hold, kind: wait, duration: 2s}
        - {id: tell, kind: notify, message: "suspended ${{ inputs.user }}"}
        """),
    }
)  # fmt: skip
LINGERING = DEFINITION.model_copy(
    update={
        "steps": (
            *DEFINITION.steps,
            DEFINITION.steps[1].model_copy(update={"id": "linger", "duration": timedelta(hours=1)}),
        )
    }
)
"""DEFINITION with an hour's wait at the end: resumed, the run is still running when the abort comes (without it,
the run could finish between resume and abort, and the abort would be refused as 'not running')."""


@dataclass
class Stack:
    client: Client
    queue: str
    okta: Any
    api_url: str
    audit: AuditLog
    cli: Callable[..., Done]
    token: str
    """bob's API token."""

    def user(self) -> str:
        return str(next(u for u in self.okta.users if u["id"] == OWNER)["status"])

    async def run(self, *args: str) -> Done:
        return await asyncio.to_thread(self.cli, *args, "--api-url", self.api_url)

    async def status(self, run_id: str) -> ResponseStatus:
        status: ResponseStatus = await self.client.get_workflow_handle(run_id).query(
            "status", result_type=ResponseStatus
        )
        return status


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Stack]:
    """Worker + Okta simulator + operator API; the CLI's token is bob's (operator role, secops-oncall)."""
    tenant = load_tenant_file(demo_tenant_path().with_name("demo-okta.json"))
    vendor_token = secrets.token_hex(21)
    register_secret(vendor_token)
    monkeypatch.setenv("MENDFLOW_OKTA_OPERATED_TOKEN", vendor_token)
    app = create_okta_app(tenant, token=vendor_token)
    queue = f"q-{uuid.uuid4()}"
    address = dev_env.client.service_client.config.target_host
    api_dir = tmp_path / "api"
    api = build_api(Settings(rbac=RBAC), TemporalSettings(address=address), data_dir=api_dir, signer=SIGNER)
    db = Database.open(database_url(api_dir))
    secret, _ = StoredTokens(db).create(person="bob", role=Role.operator, name="t", ttl_seconds=3600)
    monkeypatch.setenv("MENDFLOW_TOKEN", secret)
    with serve_in_thread(app) as okta_server, serve_in_thread(api) as api_server:
        connection = TenantConnection(
            key="okta:acme", provider="okta", tenant=tenant.tenant, base_url=okta_server.base_url,
            token=SecretRef(ref="env:MENDFLOW_OKTA_OPERATED_TOKEN"),
        )  # fmt: skip
        context = WorkerContext(
            registry=TenantRegistry(tenants={connection.key: connection}), data_dir=tmp_path / "worker",
            playbooks={}, settings=settings(),
        )  # fmt: skip
        async with build_worker(dev_env.client, context, task_queue=queue):
            yield Stack(dev_env.client, queue, app.state.okta, api_server.base_url, AuditLog(db),
                        invoker(capsys, monkeypatch), secret)  # fmt: skip
    db.dispose()


def _controls(audit: AuditLog, run_id: str) -> list[tuple[str, str, str]]:
    return [
        (r["details"]["verb"], r["outcome"], r["actor"])
        for r in audit.records()
        if r["kind"] == "control" and r["campaign_id"] == run_id
    ]


async def test_pause_resume_and_abort_through_the_cli_are_answered_and_audited(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pause → held before the next step (exit 0); a viewer is refused by the API (exit 3); a reason too long is
    bad input (exit 2); resume; abort ends the run with the suspension kept; each request is in the audit chain."""
    run_id = (await start_response(stack.client, LINGERING, {"user": OWNER}, task_queue=stack.queue)).id
    done = await stack.run("pause", run_id, "--reason", "checking with the owner")
    assert done.returncode == 0 and "holds before its next step" in done.stdout, done.stderr
    held = await wait_response_idle(stack.client, run_id)
    assert held.state is RunState.paused and stack.user() == "SUSPENDED"
    assert {s.id: s.status.value for s in held.steps}["tell"] == "pending"
    refused = await stack.run("resume", run_id, "--reason", "x" * 2001)
    assert refused.returncode == 2 and "reason" in refused.stderr
    again = await stack.run("pause", run_id)
    assert again.returncode == 3 and "already paused" in again.stderr
    db = Database.open(database_url(tmp_path / "api"))
    viewer, _ = StoredTokens(db).create(person="mallory", role=Role.viewer, name="v", ttl_seconds=3600)
    outsider, _ = StoredTokens(db).create(person="mallory", role=Role.operator, name="o", ttl_seconds=3600)
    db.dispose()
    monkeypatch.setenv("MENDFLOW_TOKEN", viewer)
    denied = await stack.run("abort", run_id)
    assert denied.returncode == 3 and "abort needs operator" in denied.stderr
    monkeypatch.setenv("MENDFLOW_TOKEN", outsider)  # the role allows it; the run's RBAC does not (not an approver)
    not_hers = await stack.run("abort", run_id, "--reason", "let me")
    assert not_hers.returncode == 3 and "mallory may not operate test.operated" in not_hers.stderr
    monkeypatch.setenv("MENDFLOW_TOKEN", "")
    no_token = await stack.run("abort", run_id)
    assert no_token.returncode == 2 and "no API token" in no_token.stderr
    monkeypatch.setenv("MENDFLOW_TOKEN", stack.token)
    assert (await stack.run("resume", run_id)).returncode == 0
    aborted = await stack.run("abort", run_id, "--reason", "owner confirmed")
    assert aborted.returncode == 0 and "aborted" in aborted.stdout, aborted.stderr
    ended = await wait_response_idle(stack.client, run_id)
    assert ended.state is RunState.aborted and stack.user() == "SUSPENDED"
    assert _controls(stack.audit, run_id) == [
        ("pause", "accepted", "bob"), ("pause", "refused", "bob"), ("abort", "refused", "mallory"),
        ("resume", "accepted", "bob"), ("abort", "accepted", "bob"),
    ]  # fmt: skip
    assert any(r["kind"] == "auth" and r["outcome"] == "refused" and r["actor"] == "mallory"
               for r in stack.audit.records())  # fmt: skip


async def test_a_finished_run_is_rolled_back_after_showing_what_will_be_restored(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run completes and keeps its captured state: `mendflow rollback RUN` lists the suspension and asks; no
    is exit 3 and nothing changes; --yes restores it (verified) and `status` shows the step rolled back."""
    run_id = (
        await start_response(
            stack.client, DEFINITION, {"user": OWNER}, task_queue=stack.queue, retention=timedelta(days=7)
        )
    ).id
    ended = await wait_response_idle(stack.client, run_id)
    assert ended.state is RunState.completed and stack.user() == "SUSPENDED"
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    declined = await stack.run("rollback", run_id, "--reason", "wrong user")
    assert declined.returncode == 3 and "nothing was rolled back" in declined.stderr
    assert f"/api/v1/users/{OWNER}" in declined.stderr and "status: SUSPENDED → ACTIVE" in declined.stderr
    assert stack.user() == "SUSPENDED" and (await stack.status(run_id)).state is RunState.completed
    confirmed = await stack.run("rollback", run_id, "--reason", "wrong user", "--yes")
    assert confirmed.returncode == 0 and "rollback starts" in confirmed.stdout, confirmed.stderr
    done = await stack.client.get_workflow_handle(run_id, result_type=ResponseStatus).result()
    assert done.state is RunState.rolled_back and stack.user() == "ACTIVE"
    assert {s.id: s.status.value for s in done.steps}["suspend"] == "rolled_back"
    address = stack.client.service_client.config.target_host
    shown = await asyncio.to_thread(stack.cli, "status", run_id, "--temporal-address", address)
    assert shown.returncode == 0 and "rolled_back" in shown.stdout.splitlines()[1]
    assert any(line.split()[:3] == ["suspend", "action", "rolled_back"] for line in shown.stdout.splitlines())
    assert "rollback requested by bob  wrong user" in shown.stdout and "rollback state kept" in shown.stdout
    late = await stack.run("rollback", run_id, "--yes")
    assert late.returncode == 3 and "not running" in late.stderr
    assert _controls(stack.audit, run_id) == [("rollback", "accepted", "bob"), ("rollback", "refused", "bob")]


async def test_status_of_a_run_takes_the_temporal_tls_options(stack: Stack, tmp_path: Path) -> None:
    """`status response/…` reaches Temporal through --temporal-address, and an unreadable --tls-ca is bad input
    naming the option (exit 2), as for every other command that talks to Temporal."""
    run_id = (await start_response(stack.client, DEFINITION, {"user": OWNER}, task_queue=stack.queue)).id
    await stack.client.get_workflow_handle(run_id).result()
    address = stack.client.service_client.config.target_host
    shown = await asyncio.to_thread(stack.cli, "status", run_id, "--temporal-address", address, "--format", "json")
    assert shown.returncode == 0 and ResponseStatus.model_validate_json(shown.stdout).state is RunState.completed
    missing = tmp_path / "no-such-ca.pem"
    bad = await asyncio.to_thread(
        stack.cli, "status", run_id, "--temporal-address", address, "--tls", "--tls-ca", str(missing)
    )
    assert bad.returncode == 2 and "--tls-ca" in bad.stderr
