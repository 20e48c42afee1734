"""A worker process for crash tests: the test SIGKILLs it mid-campaign and starts another one.

Usage: python -m tests.workflows.crash_worker TEMPORAL_ADDRESS TASK_QUEUE DATA_DIR BASE_URL TOKEN_ENV PLAYBOOK_YAML
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from mendflow.config import TenantConnection, TenantRegistry
from mendflow.playbooks.loader import load_playbook_file
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.worker import build_worker
from mendflow.secrets import SecretRef
from mendflow.worker_context import WorkerContext


async def main(address: str, queue: str, data_dir: str, base_url: str, token_env: str, playbook: str) -> None:
    connection = TenantConnection(
        key="github:acme", provider="github", tenant="acme", base_url=base_url, token=SecretRef(ref=f"env:{token_env}")
    )
    loaded = load_playbook_file(Path(playbook))
    context = WorkerContext(
        registry=TenantRegistry(tenants={connection.key: connection}),
        data_dir=Path(data_dir),
        playbooks={loaded.id: loaded},
    )
    client = await connect(TemporalSettings(address=address))
    async with build_worker(client, context, task_queue=queue):
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
