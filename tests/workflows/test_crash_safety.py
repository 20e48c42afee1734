"""Crash safety: a worker killed with SIGKILL at each step of a rollout; a new worker finishes the campaign.

The simulator holds the response of one chosen request (after the write was applied, the worst moment) until
the worker is dead. The new worker must finish with the same result as an uninterrupted run, and no resource
may be changed more often than that run changes it.
"""

from __future__ import annotations

import asyncio
import copy
import os
import secrets
import subprocess
import sys
import threading
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.testing import WorkflowEnvironment

from mendflow.data import demo_tenant_path
from mendflow.models import Outcome
from mendflow.playbooks.model import Playbook
from mendflow.redaction import register_secret
from mendflow.runtime.loopback import serve_in_thread
from mendflow.sim.github import create_github_app
from mendflow.tenant import load_tenant_file
from mendflow.workflow_types import CampaignStatus
from tests.workflows.campaigns import hook_playbook, start_campaign
from tests.workflows.helpers import forget_the_dead_workers_cache

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]


class Gate:
    """ASGI wrapper: holds the response to the n-th matching request; records which writes changed state."""

    def __init__(self, app: Any, state: Any, method: str, path: str, nth: int) -> None:
        self.app, self.state, self.trigger, self.nth = app, state, (method, path), nth
        self.seen: Counter[tuple[str, str]] = Counter()
        self.hit, self.release = threading.Event(), threading.Event()
        self.effective_writes: Counter[str] = Counter()

    def _configs(self) -> dict[str, Any]:
        return {
            f"/repos/acme/{repo}/hooks/{h['id']}/config": copy.deepcopy(h["config"])
            for repo in ("api", "web")
            for h in self.state.repo(repo)["_hooks"]
        }

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = (scope["method"], scope["path"])
        self.seen[key] += 1
        hold = key == self.trigger and self.seen[key] == self.nth
        before = self._configs()

        async def gated_send(message: Any) -> None:
            if hold and message["type"] == "http.response.start":
                self.hit.set()
                while not self.release.is_set():  # noqa: ASYNC110 - set from the test's thread
                    await asyncio.sleep(0.01)
            await send(message)

        await self.app(scope, receive, gated_send)
        after = self._configs()
        for path in after:
            if after[path] != before[path]:
                self.effective_writes[path] += 1


def _worker(address: str, queue: str, data_dir: Path, base_url: str, token_env: str, playbook: Path) -> Any:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.workflows.crash_worker", address, queue, str(data_dir), base_url, token_env,
         str(playbook)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=os.environ.copy(),
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


async def _crash_run(
    env: WorkflowEnvironment, tmp_path: Path, playbook: Playbook, trigger: tuple[str, str, int]
) -> tuple[CampaignStatus, Gate]:
    token = "ghp_" + secrets.token_hex(18)
    register_secret(token)
    token_env = f"MENDFLOW_CRASH_TOKEN_{secrets.token_hex(3).upper()}"
    os.environ[token_env] = token
    app = create_github_app(load_tenant_file(demo_tenant_path()), token=token)
    gate = Gate(app, app.state.github, *trigger)
    playbook_file = tmp_path / "playbook.yaml"
    playbook_file.write_text(yaml.safe_dump(playbook.model_dump(mode="json", by_alias=True)))
    address = env.client.service_client.config.target_host
    queue = f"crash-{uuid.uuid4()}"
    with serve_in_thread(gate) as server:
        first = _worker(address, queue, tmp_path / "w1", server.base_url, token_env, playbook_file)
        handle = await start_campaign(env.client, queue, playbook)
        assert await asyncio.to_thread(gate.hit.wait, 60), "the chosen step was never reached"
        first.kill()  # SIGKILL: no cleanup, no goodbye
        first.wait()
        first.stdout.close()
        await forget_the_dead_workers_cache(env.client, handle.id)
        gate.release.set()
        second = _worker(address, queue, tmp_path / "w2", server.base_url, token_env, playbook_file)
        try:
            async with asyncio.timeout(120):
                status: CampaignStatus = await handle.execute_update("wait_idle", result_type=CampaignStatus)
        finally:
            second.kill()
            second.wait()
            second.stdout.close()
    return status, gate


@pytest.mark.parametrize(
    "trigger",
    [
        # The hook's own object is read twice per target: to prepare (rule + capture), then to verify.
        pytest.param(("GET", "/repos/acme/api/hooks/11", 1), id="during-capture"),
        pytest.param(("PATCH", "/repos/acme/api/hooks/11/config", 1), id="mid-apply-of-the-canary"),
        pytest.param(("GET", "/repos/acme/api/hooks/11", 2), id="during-verify"),
        pytest.param(("PATCH", "/repos/acme/web/hooks/21/config", 1), id="mid-batch"),
    ],
)
async def test_killed_worker_mid_rollout_changes_nothing_twice(
    dev_env: WorkflowEnvironment, tmp_path: Path, trigger: tuple[str, str, int]
) -> None:
    """Whatever step the worker dies in, the campaign finishes verified and each hook is written once."""
    status, gate = await _crash_run(dev_env, tmp_path, hook_playbook(mode="auto"), trigger)
    assert status.state == "completed"
    assert [c.outcome for c in status.changes] == [Outcome.verified, Outcome.verified]
    assert gate.effective_writes == {"/repos/acme/api/hooks/11/config": 1, "/repos/acme/web/hooks/21/config": 1}
    configs = gate._configs()
    assert configs["/repos/acme/api/hooks/11/config"]["insecure_ssl"] == "0"
    assert configs["/repos/acme/web/hooks/21/config"]["insecure_ssl"] == "0"


async def test_killed_worker_during_restore_still_restores_exactly(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """A canary that fails verification is restored even if the worker dies mid-restore; nothing else is touched."""
    stubborn = Playbook.model_validate(
        hook_playbook(mode="auto").model_dump(by_alias=True)
        | {
            "detect": {
                "when": 'string(resource.config.insecure_ssl) == "1" || resource.config.content_type == "json"',
                "severity": "high",
            }
        }
    )
    original = load_tenant_file(demo_tenant_path()).section()["repos"][0]["_hooks"][0]["config"]
    status, gate = await _crash_run(dev_env, tmp_path, stubborn, ("PATCH", "/repos/acme/api/hooks/11/config", 2))
    assert status.state == "rolled_back"
    assert [c.outcome for c in status.changes] == [Outcome.restored, Outcome.planned]
    assert gate.effective_writes == {"/repos/acme/api/hooks/11/config": 2}  # the change and its restore
    served = {**original, "secret": "********"}
    assert {k: v for k, v in gate._configs()["/repos/acme/api/hooks/11/config"].items() if k != "secret"} == {
        k: v for k, v in served.items() if k != "secret"
    }
