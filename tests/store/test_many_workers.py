"""Three worker processes with separate data directories, one Temporal dev server and one PostgreSQL give the
same scan and campaign results as one worker: no activity depends on the worker it runs on; and a worker killed
mid-campaign leaves nothing done twice."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import uuid
from collections import Counter
from pathlib import Path
from typing import IO, Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from mendflow.data import demo_tenant_path
from mendflow.playbooks.model import Playbook
from mendflow.redaction import register_secret
from mendflow.runtime.loopback import serve_in_thread
from mendflow.runtime.scans import wait_idle
from mendflow.runtime.worker import build_worker
from mendflow.secrets import SecretRef
from mendflow.settings import JiraSettings, SlackSettings
from mendflow.sim.generate import github_tenant
from mendflow.sim.github import create_github_app
from mendflow.sim.slack import SlackWorkspace
from mendflow.store import DATABASE_URL_ENV
from mendflow.tenant import load_tenant_file, parse_tenant
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus, ScanResult
from tests.conftest import SimulatedOrg
from tests.integrations.conftest import SimulatedJira
from tests.signing import signed_decision
from tests.store.postgres import PostgresServer
from tests.workflows.campaigns import RBAC, findings_for, hook_playbook, settings
from tests.workflows.helpers import campaign_results, forget_the_dead_workers_cache, run_scan
from tests.workflows.scale import campaign_input

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]


def _summary(scan: ScanResult, results: dict[str, CampaignStatus], state: Any) -> dict[str, Any]:
    """What must not depend on how many workers ran it: counts, outcomes per resource, the tenant afterwards."""
    return {
        "scan": (scan.resources, scan.findings, scan.new, scan.gone, len(scan.campaigns_started), scan.gaps),
        "campaigns": {
            playbook: (status.state, sorted((c.resource.id, c.outcome.value) for c in status.changes))
            for playbook, status in results.items()
        },
        "org hooks": [(h["id"], copy.deepcopy(h["config"])) for h in state.hooks],
        "repo hooks": {
            name: [(h["id"], copy.deepcopy(h["config"])) for h in state.repo(name)["_hooks"]] for name in ("api", "web")
        },
        "repo security": {
            name: copy.deepcopy(state.repo(name)["security_and_analysis"]) for name in ("api", "web", "infra")
        },
        "org settings": {k: v for k, v in state.org.items() if not k.endswith("_at")},
    }


def _worker_errors(tmp_path: Path) -> list[str]:
    return [w.read_text()[-2000:] for w in sorted(tmp_path.glob("w*.err"))]


def _spawn(args: list[str], errors: IO[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """A `cluster_worker` process (its stderr kept for diagnosis)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.store.cluster_worker", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True, env=env,
    )  # fmt: skip


async def _workers_that_ran(env: WorkflowEnvironment, workflow_ids: list[str]) -> set[str]:
    identities = set()
    for workflow_id in workflow_ids:
        async for event in env.client.get_workflow_handle(workflow_id).fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                identities.add(event.activity_task_started_event_attributes.identity)
    return identities


async def test_three_workers_on_one_postgres_match_one_worker(
    dev_env: WorkflowEnvironment,
    github_org: SimulatedOrg,
    shipped_playbooks: list[Playbook],
    postgres: PostgresServer,
    tmp_path: Path,
) -> None:
    """Scan + every campaign it starts: identical results and tenant state; activities ran on several workers."""
    context = WorkerContext(
        registry=github_org.registry(), data_dir=tmp_path / "single", playbooks={p.id: p for p in shipped_playbooks}
    )
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(dev_env.client, context, task_queue=queue):
        scan = await run_scan(dev_env.client, queue)
        single = _summary(scan, await campaign_results(dev_env.client, scan), github_org.state)
    context.close()

    token = "ghp_" + secrets.token_hex(18)
    register_secret(token)
    token_env = f"MENDFLOW_CLUSTER_TOKEN_{secrets.token_hex(3).upper()}"
    app = create_github_app(load_tenant_file(demo_tenant_path()), token=token)
    env = {**os.environ, token_env: token, DATABASE_URL_ENV: postgres.create_database()}
    address = dev_env.client.service_client.config.target_host
    queue = f"cluster-{uuid.uuid4()}"
    procs = []
    with serve_in_thread(app) as server, contextlib.ExitStack() as stack:
        try:
            for n in range(3):
                errors = stack.enter_context((tmp_path / f"w{n}.err").open("w"))
                args = [address, queue, str(tmp_path / f"w{n}"), server.base_url, token_env]
                procs.append(_spawn(args, errors, env))
            for proc in procs:
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            scan = await run_scan(dev_env.client, queue)
            many = _summary(scan, await campaign_results(dev_env.client, scan), app.state.github)
            ran_on = await _workers_that_ran(dev_env, [*scan.campaigns_started])
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
                if proc.stdout is not None:
                    proc.stdout.close()
    assert many == single, _worker_errors(tmp_path)
    assert single["scan"][1] > 0 and single["campaigns"]
    assert len(ran_on) >= 2, ran_on


class HoldOneWrite:
    """ASGI wrapper in front of the GitHub simulator: holds the answer to the `nth` PATCH (after the write was
    applied: the worst moment to die) until released; counts every PATCH and every write that changed a config."""

    def __init__(self, app: Any, nth: int) -> None:
        self.app, self.nth = app, nth
        self.patches: Counter[str] = Counter()
        self.effective: Counter[str] = Counter()
        self.hit, self.release = threading.Event(), threading.Event()
        self.held_from = 0
        """The local port of the worker's connection that sent the held write."""

    def _config(self, path: str) -> Any:
        _, _, _, name, _, hook, _ = path.split("/")
        repo = self.app.state.github.repo(name)
        return copy.deepcopy(next(h["config"] for h in repo["_hooks"] if str(h["id"]) == hook))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "PATCH":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        self.patches[path] += 1
        hold = sum(self.patches.values()) == self.nth
        if hold:
            self.held_from = scope["client"][1]
        before = self._config(path)

        async def held(message: Any) -> None:
            if hold and message["type"] == "http.response.start":
                self.hit.set()
                while not self.release.is_set():  # noqa: ASYNC110 - set from the test's thread
                    await asyncio.sleep(0.01)
            await send(message)

        await self.app(scope, receive, held)
        self.effective[path] += self._config(path) != before


def _owner_of(port: int, pids: list[int]) -> int:
    """Which of `pids` owns the loopback TCP socket bound to local `port` (Linux: /proc/net/tcp, then fds)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) in inodes:
                    return pid
    raise AssertionError(f"no worker owns the connection from port {port}")


async def test_a_worker_killed_mid_campaign_duplicates_no_write_card_or_ticket(
    dev_env: WorkflowEnvironment, postgres: PostgresServer, slack: SlackWorkspace, jira: SimulatedJira, tmp_path: Path
) -> None:
    """Three workers; an approved campaign of 8 targets; the worker whose write is in flight is SIGKILLed: the
    others finish it, every resource written once, one Slack card, one Jira ticket, its Done transition once."""
    document = github_tenant(repos=16, members=5)
    token = "ghp_" + secrets.token_hex(18)
    register_secret(token)
    app = HoldOneWrite(create_github_app(parse_tenant(document, source="generated"), token=token), nth=3)
    hooks = [
        f"/repos/acme/{repo['name']}/hooks/{hook['id']}"
        for repo in document["github"]["repos"]
        for hook in repo["_hooks"]
        if hook["config"].get("insecure_ssl") == "1"
    ]
    playbook = hook_playbook(mode="approval")
    secret_envs = {"KILL_SLACK_BOT": slack.bot_token, "KILL_SLACK_SIGNING": slack.signing_secret}
    secret_envs["KILL_JIRA_TOKEN"] = jira.token
    worker_settings = settings().model_copy(
        update={
            "slack": SlackSettings(
                bot_token=SecretRef(ref="env:KILL_SLACK_BOT"), signing_secret=SecretRef(ref="env:KILL_SLACK_SIGNING"),
                base_url=slack.base_url + "/api/", max_retries=0, timeout=5,
            ),
            "jira": JiraSettings(
                server=jira.base_url, user=jira.state.user, token=SecretRef(ref="env:KILL_JIRA_TOKEN"), project="SEC"
            ),
        }
    )  # fmt: skip
    setup = tmp_path / "setup.json"
    setup.write_text(
        json.dumps(
            {"settings": worker_settings.model_dump(mode="json"), "playbooks": [playbook.model_dump(mode="json")]}
        )
    )
    token_env = f"MENDFLOW_KILL_TOKEN_{secrets.token_hex(3).upper()}"
    env = {**os.environ, **secret_envs, token_env: token, DATABASE_URL_ENV: postgres.create_database()}
    address = dev_env.client.service_client.config.target_host
    queue = f"kill-{uuid.uuid4()}"
    procs: dict[str, subprocess.Popen[str]] = {}
    with serve_in_thread(app) as server, contextlib.ExitStack() as stack:
        try:
            for n in range(3):
                errors = stack.enter_context((tmp_path / f"w{n}.err").open("w"))
                args = [address, queue, str(tmp_path / f"w{n}"), server.base_url, token_env, str(setup)]
                proc = _spawn(args, errors, env)
                procs[f"{proc.pid}@{socket.gethostname()}"] = proc
            for proc in procs.values():
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            request = campaign_input(playbook, findings=findings_for(playbook, hooks))
            handle = await dev_env.client.start_workflow(
                "RemediationWorkflow", request, id=request.campaign_id, task_queue=queue
            )
            async with asyncio.timeout(180):
                assert (await wait_idle(dev_env.client, handle.id)).state == "awaiting_approval"
                await handle.execute_update("decide", signed_decision(handle.id, "alice", RBAC))
                assert await asyncio.to_thread(app.hit.wait, 60), "the third write never came"
                pid = _owner_of(app.held_from, [p.pid for p in procs.values()])  # the worker whose write is held
                killed = f"{pid}@{socket.gethostname()}"
                procs[killed].kill()  # SIGKILL: no cleanup, no goodbye
                procs[killed].wait()
                await forget_the_dead_workers_cache(dev_env.client, handle.id)
                app.release.set()
                status = await wait_idle(dev_env.client, handle.id)
                while not any(i.transitions for i in jira.state.issues.values()):  # noqa: ASYNC110 - the final publish
                    await asyncio.sleep(0.1)
                await asyncio.sleep(1.0)  # a duplicate publish would come now, if at all
            ran_on = await _workers_that_ran(dev_env, [handle.id])
        finally:
            for proc in procs.values():
                proc.kill()
                proc.wait()
                if proc.stdout is not None:
                    proc.stdout.close()
    errors_seen = _worker_errors(tmp_path)
    assert status.state == "completed" and status.totals.get("verified") == len(hooks) == 8, errors_seen
    assert killed in ran_on and len(ran_on) >= 2, ran_on
    assert app.patches == Counter(dict.fromkeys(app.patches, 1)) and set(app.patches) == {f"{h}/config" for h in hooks}
    assert app.effective == app.patches
    assert len(slack.messages) == 1 and len(jira.state.issues) == 1, (slack.messages.keys(), jira.state.issues)
    [issue] = jira.state.issues.values()
    assert issue.transitions == ["Done"]
