"""One worker process of a multi-worker test: its own data directory, the shared database from
MENDFLOW_DATABASE_URL, the shipped playbooks.

Usage: python -m tests.store.cluster_worker TEMPORAL_ADDRESS TASK_QUEUE DATA_DIR BASE_URL TOKEN_ENV [SETUP_JSON]

SETUP_JSON (optional): a file `{"settings": {...}, "playbooks": [...]}`: the worker's settings (Slack, Jira, RBAC,
trusted keys) and playbooks that replace the shipped ones of the same id.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from mendflow.config import TenantConnection, TenantRegistry
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.playbooks.model import Playbook
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.worker import build_worker
from mendflow.secrets import SecretRef
from mendflow.settings import Settings
from mendflow.worker_context import WorkerContext


def _setup(setup: str) -> tuple[Settings, dict[str, Playbook]]:
    """The settings and playbooks: defaults and the shipped ones, or as SETUP_JSON says."""
    playbooks = {p.id: p for p in load_playbooks([bundled_playbook_dir()]).playbooks}
    if not setup:
        return Settings(), playbooks
    given = json.loads(Path(setup).read_text())
    extra = (Playbook.model_validate(p) for p in given["playbooks"])
    return Settings.model_validate(given["settings"]), playbooks | {p.id: p for p in extra}


async def main(address: str, queue: str, data_dir: str, base_url: str, token_env: str, setup: str = "") -> None:
    connection = TenantConnection(
        key="github:acme", provider="github", tenant="acme", base_url=base_url, token=SecretRef(ref=f"env:{token_env}")
    )
    settings, playbooks = _setup(setup)
    context = WorkerContext(
        registry=TenantRegistry(tenants={connection.key: connection}),
        data_dir=Path(data_dir),
        playbooks=playbooks,
        settings=settings,
    )
    client = await connect(TemporalSettings(address=address))
    async with build_worker(client, context, task_queue=queue):
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
