"""One worker process of a multi-worker test: its own data directory, the shared database from
MENDFLOW_DATABASE_URL, the shipped playbooks.

Usage: python -m tests.store.cluster_worker TEMPORAL_ADDRESS TASK_QUEUE DATA_DIR BASE_URL TOKEN_ENV
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from mendflow.config import TenantConnection, TenantRegistry
from mendflow.playbook_loader import bundled_playbook_dir, load_playbooks
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.worker import build_worker
from mendflow.secrets import SecretRef
from mendflow.worker_context import WorkerContext


async def main(address: str, queue: str, data_dir: str, base_url: str, token_env: str) -> None:
    connection = TenantConnection(
        key="github:acme", provider="github", tenant="acme", base_url=base_url, token=SecretRef(ref=f"env:{token_env}")
    )
    playbooks = load_playbooks([bundled_playbook_dir()]).playbooks
    context = WorkerContext(
        registry=TenantRegistry(tenants={connection.key: connection}),
        data_dir=Path(data_dir),
        playbooks={p.id: p for p in playbooks},
    )
    client = await connect(TemporalSettings(address=address))
    async with build_worker(client, context, task_queue=queue):
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
