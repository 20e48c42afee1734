"""The Temporal SDK's own metrics, from its runtime, on `telemetry.temporal_metrics_address`."""

from __future__ import annotations

import subprocess
import sys

import pytest
from temporalio.testing import WorkflowEnvironment

from mendflow.runtime.ports import free_port

pytestmark = pytest.mark.slow  # a fresh interpreter and a client: seconds

SCRIPT = """
import asyncio, sys, urllib.request
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.telemetry.config import TelemetrySettings
from mendflow.telemetry.setup import start_telemetry

start_telemetry(TelemetrySettings(temporal_metrics_address=sys.argv[2]))

async def main():
    client = await connect(TemporalSettings(address=sys.argv[1]))
    await client.count_workflows()
    print(urllib.request.urlopen(f"http://{sys.argv[2]}/metrics", timeout=10).read().decode())

asyncio.run(main())
"""


def test_the_sdk_metrics_are_served_where_the_config_says(dev_env: WorkflowEnvironment) -> None:
    """A process started with `temporal_metrics_address` serves Temporal's client metrics there (a fresh process:
    the runtime is chosen before the first client connects)."""
    address = f"127.0.0.1:{free_port()}"
    target = dev_env.client.service_client.config.target_host
    done = subprocess.run([sys.executable, "-c", SCRIPT, target, address], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "temporal_request" in done.stdout, done.stdout[:2000]
