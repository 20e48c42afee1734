"""Which runs a reconciliation's new findings trigger (pure: no Temporal)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mendflow.models import Finding, ResourceRef, Severity
from mendflow.responses import ResponsePlaybook
from mendflow.responses.triggers import dead_triggers, launch_input, run_id_for, triggered_runs

RULE = "github.repo_hook.insecure_ssl"


def _workflow(wid: str, *, rule: str | None = RULE, tenant: str | None = None, **inputs: Any) -> ResponsePlaybook:
    return ResponsePlaybook.model_validate(
        {
            "apiVersion": "mendflow/v1", "kind": "Workflow", "id": wid, "title": wid, "tenant": tenant,
            "inputs": inputs or {"type": "object", "properties": {"resource": {"type": "string"}}},
            "triggers": [{"finding": rule}] if rule else [{"manual": True}],
            "steps": [{"id": "say", "kind": "notify", "message": "${{ inputs.resource }}"}],
        }
    )  # fmt: skip


def _finding(resource: str, rule: str = RULE) -> Finding:
    return Finding(
        fingerprint=f"fp-{resource.rsplit('/', 1)[1]}", tenant="acme", provider="github", rule=rule, title="t",
        severity=Severity.high, resource=ResourceRef(type="github.repo_hook", id=resource), evidence={},
        observed_at=datetime(2026, 12, 1, tzinfo=UTC),
    )  # fmt: skip


def test_one_run_per_finding_of_the_named_rule_with_the_resource_as_input() -> None:
    """Each finding of the rule gives one launch, its id from the fingerprint; other rules' findings give none."""
    workflows = {w.id: w for w in (_workflow("x.hooks"), _workflow("x.manual", rule=None))}
    opened = [_finding("/repos/acme/api/hooks/11"), _finding("/repos/acme/web/hooks/21"),
              _finding("/orgs/acme/members/9", rule="github.member.no_2fa")]  # fmt: skip
    runs = triggered_runs(workflows, opened, tenant_key="github:acme")
    assert [(r.run_id, r.inputs) for r in runs.launches] == [
        (run_id_for("x.hooks", "github:acme", "fp-11"), {"resource": "/repos/acme/api/hooks/11"}),
        (run_id_for("x.hooks", "github:acme", "fp-21"), {"resource": "/repos/acme/web/hooks/21"}),
    ]
    assert runs.launches[0].run_id == "response/x.hooks/finding/github:acme/fp-11" and list(runs.definitions) == [
        "x.hooks"
    ]
    started = launch_input(runs, runs.launches[0], tenant_key="github:acme", requested_by="scan:s1")
    assert started.tenant_key == "github:acme" and started.retention.days == 7 and started.digest.startswith("sha256:")


def test_a_playbook_for_another_tenant_or_with_inputs_a_finding_cannot_give_is_skipped_with_the_reason() -> None:
    """`tenant: okta:acme` is not triggered by a github:acme finding; a required input besides `resource` cannot be
    filled by a finding: both are skipped, each saying why."""
    other = _workflow("x.okta", tenant="okta:acme")
    needy = _workflow("x.needy", type="object", required=["resource", "ticket"],
                      properties={"resource": {"type": "string"}, "ticket": {"type": "string"}})  # fmt: skip
    runs = triggered_runs({w.id: w for w in (other, needy)}, [_finding("/repos/acme/api/hooks/11")],
                          tenant_key="github:acme")  # fmt: skip
    assert runs.launches == [] and runs.definitions == {}
    assert (
        runs.skipped[0]
        == "x.needy: a finding gives only inputs.resource (inputs.ticket: 'ticket' is a required property)"
    )
    assert runs.skipped[1] == "x.okta: acts on okta:acme, not github:acme"


def test_a_trigger_naming_a_detection_playbook_not_loaded_is_reported() -> None:
    """It could never fire: the worker says so at start instead of staying silent."""
    workflows = [_workflow("x.hooks"), _workflow("x.typo", rule="github.repo_hook.insecure_sll")]
    assert dead_triggers(workflows, [RULE]) == [
        "x.typo: triggered by findings of github.repo_hook.insecure_sll, which is not loaded: it will start no run"
    ]
