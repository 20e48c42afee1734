"""Building blocks for campaign tests: playbooks with policies, an RBAC config, and a direct campaign start."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client, WorkflowHandle

from mendflow.campaigns.windows import ChangePolicy
from mendflow.models import Finding, ResourceRef, Severity, fingerprint
from mendflow.playbooks.model import Playbook
from mendflow.rbac import Person, RbacConfig
from mendflow.settings import Settings
from mendflow.workflow_types import RemediationInput, RemediationResult
from tests.signing import trusting
from tests.workflows.helpers import AS_OF

RBAC = RbacConfig(
    people={
        "alice": Person(groups=("secops-oncall",)),
        "bob": Person(groups=("secops-oncall",)),
        "carol": Person(groups=("secops-oncall", "secops-leads")),
        "mallory": Person(groups=("sales",)),
    },
    default_approvers=("group:secops-oncall",),
)

HOOKS = ["/repos/acme/api/hooks/11", "/repos/acme/web/hooks/21"]


def hook_playbook(*, mode: str = "approval", severity: str = "high", bake: str = "0s", extra: str = "") -> Playbook:
    """The repo-hook TLS playbook with the given mode and policies (two targets in the demo org)."""
    text = {
        "apiVersion": "mendflow/v1",
        "id": "github.repo_hook.insecure_ssl",
        "title": "Repository webhooks must verify TLS certificates",
        "resource": "github.repo_hook",
        "detect": {"when": 'string(resource.config.insecure_ssl) == "1"', "severity": severity},
        "respond": {
            "mode": mode,
            "action": "github.repo_hook.update_config",
            "with": {"insecure_ssl": "0"},
            "approval": {"timeout": "4h", "escalate_after": "30m", "escalate_to": "user:carol"},
            "rollout": {"canary": 1, "batches": ["100%"], "bake": bake, "max_failures": 0},
        },
    }
    if extra:
        import yaml

        text["respond"].update(yaml.safe_load(extra))  # type: ignore[union-attr]
    return Playbook.model_validate(text)


def settings(changes: ChangePolicy | None = None) -> Settings:
    """The test RBAC, and workers that trust the test API key (`tests.signing.SIGNER`)."""
    return trusting(Settings(rbac=RBAC, changes=changes or ChangePolicy()))


def findings_for(playbook: Playbook, ids: list[str] = HOOKS) -> list[Finding]:
    return [
        Finding(
            fingerprint=fingerprint("acme", playbook.id, rid),
            tenant="acme",
            provider="github",
            rule=playbook.id,
            title=playbook.title,
            severity=Severity(playbook.detect.severity),
            resource=ResourceRef(type=playbook.resource, id=rid),
            evidence={},
            observed_at=AS_OF,
        )
        for rid in ids
    ]


async def start_campaign(
    client: Client,
    queue: str,
    playbook: Playbook,
    *,
    requested_by: str = "scan:test",
    retention: timedelta = timedelta(days=7),
) -> WorkflowHandle[object, RemediationResult]:
    """Start a RemediationWorkflow directly (the ledger is not involved), as ScanWorkflow would."""
    campaign = f"remediate/test/{uuid.uuid4()}"
    return await client.start_workflow(
        "RemediationWorkflow",
        RemediationInput(
            campaign_id=campaign,
            tenant_key="github:acme",
            playbook_id=playbook.id,
            findings=findings_for(playbook),
            requested_by=requested_by,
            retention=retention,
            step_heartbeat=timedelta(seconds=5),
        ),
        id=campaign,
        task_queue=queue,
        result_type=RemediationResult,
    )


def hook_configs(state: object) -> dict[int, dict[str, object]]:
    import copy

    return {h["id"]: copy.deepcopy(h["config"]) for repo in ("api", "web") for h in state.repo(repo)["_hooks"]}  # type: ignore[attr-defined]


__all__ = ["HOOKS", "RBAC", "Path", "findings_for", "hook_configs", "hook_playbook", "settings", "start_campaign"]
