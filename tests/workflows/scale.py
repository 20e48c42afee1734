"""Building blocks for campaigns at scale: a generated GitHub org with N insecure webhooks on loopback, an
instrumented gate in front of it, and the history of every run of a campaign."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from mendflow.config import TenantConnection, TenantRegistry
from mendflow.playbooks.model import Playbook
from mendflow.redaction import register_secret
from mendflow.runtime.loopback import serve_in_thread
from mendflow.secrets import SecretRef
from mendflow.sim.generate import github_tenant
from mendflow.sim.github import create_github_app
from mendflow.tenant import parse_tenant
from mendflow.workflow_types import RemediationInput

INSECURE_TEMPLATES = 2
"""Of every 4 generated repositories (cloned from the demo's api, web, infra, docs) the first 2 have one
insecure webhook each (the clones of hooks 11 and 21)."""


@dataclass
class Gate:
    """ASGI wrapper in front of the simulator: counts writes in flight, can delay writes and answer the first write
    to a path with a rate limit (429 + Retry-After); records every request it sees (method, path)."""

    app: Any
    write_delay: float = 0.0
    first_read_delay: float = 0.0
    """Delay the first GET of each path (a campaign's capture reads), not the re-reads after a write."""
    slow_reads: tuple[str, ...] = ()
    read_delay: float = 0.0
    """Delay every GET of these paths by this long."""
    limit_first_write_to: str = ""
    retry_after: int = 0
    inflight: int = 0
    max_inflight: int = 0
    writes: list[str] = field(default_factory=list)
    limited: int = 0
    seen: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            first = ("GET", scope["path"]) not in self.seen
            self.seen.append((scope["method"], scope["path"]))
            if scope["method"] == "GET" and first and self.first_read_delay:
                await asyncio.sleep(self.first_read_delay)
            if scope["method"] == "GET" and scope["path"] in self.slow_reads:
                await asyncio.sleep(self.read_delay)
        if scope["type"] != "http" or scope["method"] != "PATCH":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == self.limit_first_write_to and not self.limited:
            self.limited += 1
            headers = [(b"retry-after", str(self.retry_after).encode()), (b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 429, "headers": headers})
            await send({"type": "http.response.body", "body": b'{"message": "secondary rate limit"}'})
            return
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            if self.write_delay:
                await asyncio.sleep(self.write_delay)
            self.writes.append(path)
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1


@dataclass
class ScaleOrg:
    connection: TenantConnection
    state: Any
    gate: Gate
    hooks: list[str]
    """Resource ids of the insecure webhooks, in repository order."""

    def registry(self) -> TenantRegistry:
        return TenantRegistry(tenants={self.connection.key: self.connection})

    def insecure(self) -> int:
        """How many of the campaign's webhooks still have TLS verification off."""
        count = 0
        for rid in self.hooks:
            _, _, name, _, hook = rid.strip("/").split("/")[:5]
            config = next(h["config"] for h in self.state.repo(name)["_hooks"] if str(h["id"]) == hook)
            count += config.get("insecure_ssl") == "1"
        return count


@contextmanager
def scale_org(targets: int, *, monkeypatch: Any, gate: dict[str, Any] | None = None) -> Iterator[ScaleOrg]:
    """A generated org with `targets` insecure webhooks, served on loopback behind a `Gate`."""
    repos = -(-targets // INSECURE_TEMPLATES) * 4
    document = github_tenant(repos=repos, members=5)
    tenant = parse_tenant(document, source="generated")
    token = "ghp_" + secrets.token_hex(18)
    register_secret(token)
    env_name = f"MENDFLOW_SCALE_TOKEN_{secrets.token_hex(4).upper()}"
    monkeypatch.setenv(env_name, token)
    app = create_github_app(tenant, token=token, rate_limit=10_000_000)
    wrapped = Gate(app, **(gate or {}))
    hooks = [
        f"/repos/acme/{repo['name']}/hooks/{hook['id']}"
        for repo in document["github"]["repos"]
        for hook in repo["_hooks"]
        if hook["config"].get("insecure_ssl") == "1"
    ][:targets]
    with serve_in_thread(wrapped) as server:
        yield ScaleOrg(
            connection=TenantConnection(
                key="github:acme",
                provider="github",
                tenant="acme",
                base_url=server.base_url,
                token=SecretRef(ref=f"env:{env_name}"),
            ),
            state=app.state.github,
            gate=wrapped,
            hooks=hooks,
        )


def campaign_input(playbook: Playbook, **extra: Any) -> RemediationInput:
    campaign = f"remediate/scale/{uuid.uuid4()}"
    fields: dict[str, Any] = {
        "campaign_id": campaign,
        "tenant_key": "github:acme",
        "playbook_id": playbook.id,
        "requested_by": "scan:test",
        "step_heartbeat": timedelta(seconds=5),
        **extra,
    }
    return RemediationInput(**fields)


async def run_histories(client: Client, workflow_id: str, first_run_id: str) -> list[WorkflowHistory]:
    """Every run of a workflow, following its continue-as-new chain from the first run."""
    histories = []
    run_id: str | None = first_run_id
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        run_id = None
        if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return histories


def history_bytes(history: WorkflowHistory) -> int:
    """The size of a history as the server counts it: the sum of its events' encoded sizes."""
    return sum(event.ByteSize() for event in history.events)


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started
