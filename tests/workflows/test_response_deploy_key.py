"""Scenario 4 (examples/responses/github_deploy_key_leak.yaml) through `mendflow run … --wait`, against the GitHub
and Jira simulators on loopback and the dev server: approved, the key is removed and the ticket lists the
repository it could write to; rejected, the key stays and the ticket says so; a removal GitHub refuses is in the
ticket too.

The approval path's history is recorded into tests/histories/response-deploy-key-approved.json
(MENDFLOW_RECORD_HISTORIES=1) and replayed by tests/workflows/test_replay.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from mendflow.config import TenantConnection
from mendflow.data import demo_tenant_path
from mendflow.models import DecisionOutcome, Verdict
from mendflow.redaction import register_secret
from mendflow.responses.messages import FINISHED, ResponseStatus, RunState, StepRecord
from mendflow.runtime.loopback import serve_in_thread
from mendflow.runtime.responses import wait_response_idle
from mendflow.runtime.worker import build_worker
from mendflow.secrets import SecretRef
from mendflow.sim.common import FaultPlan
from mendflow.sim.github import create_github_app
from mendflow.tenant import load_tenant_file
from mendflow.worker_context import WorkerContext
from tests.conftest import SimulatedOrg
from tests.integrations.conftest import SimulatedJira
from tests.signing import signed_decision
from tests.workflows.campaigns import RBAC
from tests.workflows.response_helpers import in_process_cli
from tests.workflows.response_sites import connected, jira_site, slack_site

EXAMPLE = Path(__file__).parents[2] / "examples" / "responses" / "github_deploy_key_leak.yaml"
HISTORIES = Path(__file__).parent.parent / "histories"


@dataclass
class Site:
    client: Client
    queue: str
    github: SimulatedOrg
    jira: SimulatedJira
    context: WorkerContext
    cli: Callable[..., tuple[int, str, str]]


@pytest.fixture
def forbidden() -> tuple[str, ...]:
    """GitHub requests the simulator refuses (403) in a test; none unless a test says otherwise."""
    return ()


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch, forbidden: tuple[str, ...]) -> Iterator[SimulatedOrg]:
    """The demo GitHub org on loopback (as the `github_org` fixture), refusing the `forbidden` requests."""
    tenant = load_tenant_file(demo_tenant_path())
    token = "ghp_" + secrets.token_hex(18)
    register_secret(token)
    monkeypatch.setenv("MENDFLOW_DEPLOY_KEY_TOKEN", token)
    app = create_github_app(tenant, token=token, faults=FaultPlan(forbidden=forbidden))
    with serve_in_thread(app) as server:
        connection = TenantConnection(
            key="github:acme", provider="github", tenant="acme", base_url=server.base_url,
            token=SecretRef(ref="env:MENDFLOW_DEPLOY_KEY_TOKEN"),
        )  # fmt: skip
        yield SimulatedOrg(base_url=server.base_url, state=app.state.github, connection=connection, token=token)


@pytest.fixture
async def site(
    dev_env: WorkflowEnvironment,
    github: SimulatedOrg,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> AsyncIterator[Site]:
    github_org = github
    monkeypatch.setenv("MENDFLOW_TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    queue = f"q-{uuid.uuid4()}"

    cli = in_process_cli(monkeypatch, capsys)

    with slack_site() as slack, jira_site() as jira:
        context = WorkerContext(
            registry=github_org.registry(),
            data_dir=tmp_path,
            playbooks={},
            settings=connected(slack, jira, monkeypatch),
        )
        async with build_worker(dev_env.client, context, task_queue=queue):
            yield Site(dev_env.client, queue, github_org, jira, context, cli)


def _keys(site: Site, repo: str) -> list[int]:
    return [k["id"] for k in site.github.state.repo(repo)["_keys"]]


def _step(status: ResponseStatus, step_id: str) -> StepRecord:
    return next(step for step in status.steps if step.id == step_id)


async def _respond(site: Site, repo: str, key_id: int, verdict: Verdict) -> ResponseStatus:
    """Start through the CLI, check nothing changed at the approval, decide, and wait for the end."""
    code, out, err = await asyncio.to_thread(
        site.cli, "run", str(EXAMPLE), "-i", f"repo=acme/{repo}", "-i", f"key_id={key_id}",
        "--task-queue", site.queue, "--wait", "--format", "json", "--as", "carol",
    )  # fmt: skip
    assert code == 0, err
    waiting = ResponseStatus.model_validate_json(out)
    assert waiting.state is RunState.awaiting_approval and key_id in _keys(site, repo)
    reach = next(iter(site.context.snapshots.read_lines(_step(waiting, "reach").output["digest"])))["values"]
    handle = site.client.get_workflow_handle(waiting.run_id)
    # critical: the RBAC config asks two people to approve (one rejection is enough)
    for person in ("bob", "alice") if verdict is Verdict.approve else ("bob",):
        reason = "" if verdict is Verdict.approve else "rotated"
        decision = signed_decision(waiting.run_id, person, RBAC, verdict, reason)
        await handle.execute_update("decide", decision, result_type=DecisionOutcome)
    done = await wait_response_idle(site.client, waiting.run_id)
    for _ in range(100):  # the decision may be answered before the run has moved on from its gate
        if done.state in FINISHED:
            break
        await asyncio.sleep(0.1)
        done = await wait_response_idle(site.client, waiting.run_id)
    assert done.state in FINISHED
    return done.model_copy(update={"timeline": [*done.timeline, {"event": "reach", "detail": json.dumps(reach)}]})


async def test_approved_the_key_is_removed_and_the_ticket_lists_the_repository_it_could_write_to(
    site: Site,
) -> None:
    """deploy-bot on acme/api is read-write: removed once approved; the ticket names acme/api as writable."""
    done = await _respond(site, "api", 7, Verdict.approve)
    assert done.state is RunState.completed and 7 not in _keys(site, "api")
    assert {s.id: s.status.value for s in done.steps} == {
        "key": "done", "repository": "done", "reach": "done", "ask": "approved", "remove": "done", "ticket": "done",
    }  # fmt: skip
    reach = json.loads(done.timeline[-1]["detail"])
    assert reach["writable"] == ["acme/api"] and reach["key"]["title"] == "deploy-bot"
    issue = site.jira.state.issue(_step(done, "ticket").output["key"])
    assert issue.summary == "Leaked deploy key deploy-bot on acme/api: removed" and "deploy-key" in issue.labels
    assert "Repositories it could write to: acme/api\n" in str(issue.description)
    assert "remove (action): done" in str(issue.description)
    if os.environ.get("MENDFLOW_RECORD_HISTORIES"):
        history = await site.client.get_workflow_handle(done.run_id).fetch_history()
        saved = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
        (HISTORIES / "response-deploy-key-approved.json").write_text(json.dumps(saved, indent=1))


async def test_rejected_a_read_only_key_stays_and_the_ticket_says_it_could_write_nowhere(site: Site) -> None:
    """ci-readonly on acme/web: rejected, the key is kept; the ticket says it was kept and could write nowhere."""
    done = await _respond(site, "web", 8, Verdict.reject)
    assert done.state is RunState.completed and 8 in _keys(site, "web")
    assert _step(done, "remove").status.value == "skipped" and _step(done, "ticket").status.value == "done"
    assert json.loads(done.timeline[-1]["detail"])["writable"] == []
    issue = site.jira.state.issue(_step(done, "ticket").output["key"])
    assert issue.summary.endswith(": kept") and "could write to: none (read-only key)" in str(issue.description)
    assert "Decision: rejected rotated" in str(issue.description)


@pytest.mark.parametrize("forbidden", [("DELETE /repos/*/keys/*",)])
async def test_a_removal_github_refuses_fails_the_step_and_the_ticket_says_the_key_is_still_there(site: Site) -> None:
    """GitHub refuses the DELETE (403): the step fails (on_failure: continue), the key is still installed, and the
    run goes on to a ticket that says the removal failed, so a person removes the key by hand."""
    done = await _respond(site, "api", 7, Verdict.approve)
    assert _step(done, "remove").status.value == "failed" and 7 in _keys(site, "api")
    assert _step(done, "ticket").status.value == "done" and done.state is RunState.completed
    issue = site.jira.state.issue(_step(done, "ticket").output["key"])
    assert issue.summary.endswith(": REMOVAL FAILED, still installed")
    assert "Removal: failed — remove it by hand now" in str(issue.description)
