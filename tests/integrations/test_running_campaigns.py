"""Operations.running: every running campaign's status, queried at once (bounded), not one after another."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import Client, Interceptor, OutboundInterceptor, QueryWorkflowInput
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from mendflow.api.operations import RUNNING_QUERIES, Operations
from mendflow.workflow_types import CampaignStatus
from tests.conftest import BIN
from tests.signing import SIGNER

CAMPAIGNS = 6
QUERY_DELAY = 0.3


@workflow.defn(name="RemediationWorkflow")
class WaitingCampaign:
    """Stands in for a campaign waiting on a person: runs until terminated, answers `status`."""

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.query
    def status(self) -> CampaignStatus:
        return CampaignStatus(campaign_id=workflow.info().workflow_id, playbook_id="p", state="awaiting_approval")


class SlowQueries(Interceptor):
    """Holds every status query a moment and counts how many are in flight at once (Temporal's client side)."""

    def __init__(self) -> None:
        self.inflight = 0
        self.peak = 0

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Counting(next, self)


class _Counting(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, owner: SlowQueries) -> None:
        super().__init__(next)
        self.owner = owner

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        self.owner.inflight += 1
        self.owner.peak = max(self.owner.peak, self.owner.inflight)
        try:
            await asyncio.sleep(QUERY_DELAY)
            return await super().query_workflow(input)
        finally:
            self.owner.inflight -= 1


@pytest.fixture
async def own_server() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server of this test's own: campaigns other tests left running on the shared one would be listed."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"), data_converter=pydantic_data_converter, ui=False
    )
    yield env
    await env.shutdown()


async def test_running_asks_every_campaign_at_once_and_sorts_them(own_server: WorkflowEnvironment) -> None:
    """Six waiting campaigns: all six statuses, sorted by id, their queries in flight together."""
    counter = SlowQueries()
    client = Client(**{**own_server.client.config(), "interceptors": [counter]})
    queue = f"q-{uuid.uuid4()}"
    ids = [f"remediate/running/{i}" for i in range(CAMPAIGNS)]
    async with Worker(
        client, task_queue=queue, workflows=[WaitingCampaign], workflow_runner=UnsandboxedWorkflowRunner()
    ):
        handles = [await client.start_workflow("RemediationWorkflow", id=i, task_queue=queue) for i in ids[::-1]]
        for handle in handles:  # visible to the list query once started
            await handle.query("status", result_type=CampaignStatus)
        for _ in range(100):
            if len([e async for e in client.list_workflows("WorkflowType = 'RemediationWorkflow'")]) == CAMPAIGNS:
                break
            await asyncio.sleep(0.1)
        counter.peak = 0
        statuses = await Operations(client, SIGNER, None).running()
        for handle in handles:
            await handle.terminate()
    assert [s.campaign_id for s in statuses] == ids
    assert counter.peak == min(CAMPAIGNS, RUNNING_QUERIES)
