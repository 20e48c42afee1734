"""Starting the campaigns a reconciliation planned, and the response runs its new findings trigger: shared by full
scans and targeted rescans.

Each campaign is a child RemediationWorkflow whose id is derived from its content (ABANDON, REJECT_DUPLICATE),
so a campaign already started by another scan is counted as existing, never started twice. Each triggered response
run is a child ResponseWorkflow whose id is derived from the finding's fingerprint, in the same way.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from mendflow.responses.triggers import TriggeredRuns, launch_inputs
    from mendflow.workflow_types import CampaignPlan, RemediationInput

    from .remediation import RemediationWorkflow
    from .response import ResponseWorkflow


async def start_campaigns(
    campaigns: list[CampaignPlan], *, tenant_key: str, requested_by: str
) -> tuple[list[str], list[str]]:
    """Start each planned campaign; returns (started, already existing) campaign ids."""
    started: list[str] = []
    existing: list[str] = []
    for campaign in campaigns:
        try:
            await workflow.start_child_workflow(
                RemediationWorkflow.run,
                RemediationInput(
                    campaign_id=campaign.campaign_id,
                    tenant_key=tenant_key,
                    playbook_id=campaign.playbook_id,
                    findings=campaign.findings,
                    findings_digest=campaign.findings_digest,
                    findings_count=campaign.findings_count,
                    requested_by=requested_by,
                ),
                id=campaign.campaign_id,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
            started.append(campaign.campaign_id)
        except WorkflowAlreadyStartedError:
            existing.append(campaign.campaign_id)
    return started, existing


async def start_responses(runs: TriggeredRuns, *, tenant_key: str, requested_by: str) -> tuple[list[str], list[str]]:
    """Start each triggered response run; returns (started, already existing) run ids."""
    started: list[str] = []
    existing: list[str] = []
    for request in launch_inputs(runs, tenant_key=tenant_key, requested_by=requested_by):
        try:
            await workflow.start_child_workflow(
                ResponseWorkflow.run,
                request,
                id=request.run_id,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
            started.append(request.run_id)
        except WorkflowAlreadyStartedError:
            existing.append(request.run_id)
    return started, existing
