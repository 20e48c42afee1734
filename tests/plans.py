"""A campaign plan for tests that need one: one secret-scanning fix on one repository, changed per test."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mendflow.models import ResourceRef, Severity
from mendflow.workflow_types import CampaignPlanDetail, Target


def secret_scanning_plan(campaign_id: str, **changes: Any) -> CampaignPlanDetail:
    """Turn on secret scanning of acme/api behind one approval by secops; `changes` sets any other field."""
    fields: dict[str, Any] = {
        "campaign_id": campaign_id,
        "tenant_key": "github:acme",
        "playbook_id": "github.repo.secret_scanning",
        "title": "Secret scanning on",
        "severity": Severity.high,
        "compliance": [],
        "mode": "approval",
        "action": "github.repo.update",
        "reversible": True,
        "targets": [
            Target(
                fingerprint="f",
                resource=ResourceRef(type="github.repo", id="/repos/acme/api"),
                current={"secret_scanning": "disabled"},
                intended={"secret_scanning": "enabled"},
            )
        ],
        "approvers": ["group:secops-oncall"],
        "required_approvals": 1,
        "approval_timeout": timedelta(hours=24),
        "escalate_after": None,
        "escalate_to": None,
        "canary": 1,
        "batches": ["100%"],
        "bake": timedelta(0),
        "max_failures": 0,
        "writes_per_minute": 30,
    }
    return CampaignPlanDetail(**(fields | changes))
