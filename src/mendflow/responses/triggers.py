"""Finding triggers: a workflow playbook with `triggers: [{finding: RULE}]` starts one run per new open finding of
detection playbook RULE, when a scan or a webhook rescan opens it.

    reconcile_findings ─> the findings it opened ─> `triggered_runs` (pure, here) ─> the scan / rescan workflow
        starts each run as a child (ABANDON, REJECT_DUPLICATE), id `response/<workflow>/finding/<tenant>/<fingerprint>`

The run id comes from the finding (its tenant key and fingerprint, the ledger's key), so a run is started once per
finding whatever retries or overlapping scans. Nothing happens unless the workflow playbook is loaded on the
worker. A run's inputs are `{resource: <the finding's resource id>}`, checked against the playbook's inputs schema
like `mendflow run` checks them; a playbook whose schema refuses them, or that names another tenant, is skipped and
the reason reported.
Definitions travel once per playbook (not once per finding), so the activity's result stays small.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mendflow.errors import InputError
from mendflow.models import Finding
from mendflow.responses.calls import pinned_from
from mendflow.responses.inputs import check_inputs
from mendflow.responses.loader import definition_digest
from mendflow.responses.messages import DEFAULT_RETENTION, PinnedDefinition, ResponseInput
from mendflow.responses.model import ResponsePlaybook

RUN_PREFIX = "response/"
"""Every response run id starts so (`mendflow status response/…` tells them from campaign ids)."""


class ResponseLaunch(BaseModel):
    """One run a finding triggers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    """`response/<workflow id>/finding/<tenant key>/<fingerprint>`: the same finding never starts a second run."""
    playbook_id: str
    fingerprint: str
    inputs: dict[str, Any]
    """Checked against the playbook's inputs schema, defaults filled in."""


class TriggeredRuns(BaseModel):
    """The runs one reconciliation triggers, and each definition once (pinned by its digest)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    launches: list[ResponseLaunch] = Field(default_factory=list)
    definitions: dict[str, ResponsePlaybook] = Field(default_factory=dict)
    skipped: list[str] = Field(default_factory=list)
    """Why a triggered playbook started nothing for a finding (`<workflow>: <reason>`)."""


def run_id_for(playbook_id: str, tenant_key: str, fingerprint: str) -> str:
    """The run a finding (the ledger's key: tenant key and fingerprint) triggers of one workflow playbook."""
    return f"{RUN_PREFIX}{playbook_id}/finding/{tenant_key}/{fingerprint}"


def triggered_runs(
    workflows: Mapping[str, ResponsePlaybook], opened: Iterable[Finding], *, tenant_key: str
) -> TriggeredRuns:
    """The runs `opened` findings trigger in `tenant_key`, in finding order."""
    by_rule: dict[str, list[ResponsePlaybook]] = {}
    for workflow in sorted(workflows.values(), key=lambda w: w.id):
        for rule in dict.fromkeys(t.finding for t in workflow.triggers if t.finding):
            by_rule.setdefault(rule, []).append(workflow)
    launches: list[ResponseLaunch] = []
    definitions: dict[str, ResponsePlaybook] = {}
    skipped: list[str] = []
    expanded: set[str] = set()  # workflows whose called workflows are already in `definitions`
    for finding in opened:
        for workflow in by_rule.get(finding.rule, []):
            if workflow.tenant and workflow.tenant != tenant_key:
                skipped.append(f"{workflow.id}: acts on {workflow.tenant}, not {tenant_key}")
                continue
            try:
                inputs = check_inputs(workflow.inputs, {"resource": finding.resource.id})
            except InputError as err:
                skipped.append(f"{workflow.id}: a finding gives only inputs.resource ({err})")
                continue
            definitions[workflow.id] = workflow
            if workflow.id not in expanded:  # once per workflow, not per finding (pinned_from hashes each callee)
                expanded.add(workflow.id)
                definitions.update((i, pinned.definition) for i, pinned in pinned_from(workflow, workflows).items())
            launches.append(
                ResponseLaunch(
                    run_id=run_id_for(workflow.id, tenant_key, finding.fingerprint),
                    playbook_id=workflow.id,
                    fingerprint=finding.fingerprint,
                    inputs=inputs,
                )
            )
    return TriggeredRuns(launches=launches, definitions=definitions, skipped=skipped)


def dead_triggers(workflows: Iterable[ResponsePlaybook], rules: Iterable[str]) -> list[str]:
    """A warning for each finding trigger whose detection playbook is not among `rules` (it can never fire)."""
    known = set(rules)
    return [
        f"{w.id}: triggered by findings of {t.finding}, which is not loaded: it will start no run"
        for w in workflows
        for t in w.triggers
        if t.finding and t.finding not in known
    ]


def launch_inputs(runs: TriggeredRuns, *, tenant_key: str, requested_by: str) -> Iterator[ResponseInput]:
    """Each launch's input, in order: the definition pinned by its digest, rollback kept for `DEFAULT_RETENTION`.
    Each definition is hashed once, not once per finding (this runs in the scan's workflow task)."""
    pins: dict[str, tuple[str, dict[str, PinnedDefinition]]] = {}
    for launch in runs.launches:
        definition = runs.definitions[launch.playbook_id]
        if launch.playbook_id not in pins:
            pins[launch.playbook_id] = (definition_digest(definition), pinned_from(definition, runs.definitions))
        digest, children = pins[launch.playbook_id]
        yield ResponseInput(
            run_id=launch.run_id,
            tenant_key=tenant_key,
            definition=definition,
            digest=digest,
            inputs=launch.inputs,
            requested_by=requested_by,
            retention=DEFAULT_RETENTION,
            children=children,
        )


def launch_input(runs: TriggeredRuns, launch: ResponseLaunch, *, tenant_key: str, requested_by: str) -> ResponseInput:
    """One launch's input (`launch_inputs` for all of them)."""
    one = runs.model_copy(update={"launches": [launch]})
    return next(launch_inputs(one, tenant_key=tenant_key, requested_by=requested_by))


__all__ = [
    "RUN_PREFIX",
    "ResponseLaunch",
    "TriggeredRuns",
    "dead_triggers",
    "launch_input",
    "launch_inputs",
    "run_id_for",
    "triggered_runs",
]
