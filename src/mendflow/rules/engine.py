"""The rule engine: every playbook's condition compiled once, evaluated over a tenant's resources.

A condition that cannot be decided for a resource (a field the vendor did not return, a value of an unexpected
type) is reported as a RuleError and is never a finding: an unreadable fact is not evidence of a problem.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from mendflow.errors import PlaybookError
from mendflow.models import Finding, Frozen, Resource, fingerprint
from mendflow.rules import evidence
from mendflow.rules.cel import (
    Condition,
    ConditionError,
    EvaluationError,
    compile_condition,
    timestamp,
    variables,
)

if TYPE_CHECKING:  # the playbook model imports this package to check conditions; avoid the cycle at run time
    from mendflow.playbook import Playbook


class RuleError(Frozen):
    """A rule that could not be evaluated on one resource."""

    rule: str
    """The playbook id."""
    resource_id: str
    """Canonical API path of the resource."""
    message: str
    """What went wrong, e.g. `no such member in mapping: 'config'`."""


class EvaluationResult(BaseModel):
    """What one evaluation found, and what it could not decide."""

    model_config = ConfigDict(extra="forbid")

    findings: list[Finding]
    """Sorted by severity (most urgent first), then rule id, then resource id."""
    errors: list[RuleError]
    """Sorted by rule id, then resource id."""


@dataclass(frozen=True)
class CompiledRule:
    """One playbook's condition, parsed once, with the field paths it reads."""

    playbook: Playbook
    condition: Condition
    paths: tuple[evidence.FieldPath, ...]


class RuleSet:
    """Compiled rules grouped by resource type; evaluate it as many times as you like."""

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self._rules = tuple(rules)
        by_type: dict[str, list[CompiledRule]] = defaultdict(list)
        for rule in self._rules:
            by_type[rule.playbook.resource].append(rule)
        self._by_type = dict(by_type)

    @property
    def rules(self) -> tuple[CompiledRule, ...]:
        return self._rules

    @property
    def resource_types(self) -> frozenset[str]:
        """The resource types at least one rule applies to (a collector may skip the others)."""
        return frozenset(self._by_type)

    def evaluate(
        self, resources: Iterable[Resource], *, tenant: str, provider: str, as_of: datetime
    ) -> EvaluationResult:
        """Evaluate each rule on each resource of its type, as of `as_of` (the CEL variable `now`; it must be
        timezone-aware)."""
        now = timestamp(as_of)
        findings: list[Finding] = []
        errors: list[RuleError] = []
        for resource in resources:
            rules = self._by_type.get(resource.type)
            if not rules:
                continue
            activation = variables(resource=resource.data, related=resource.related, now=now)
            roots = {"resource": resource.data, "related": resource.related}
            for rule in rules:
                try:
                    holds = rule.condition.evaluate(activation)
                except EvaluationError as err:
                    errors.append(RuleError(rule=rule.playbook.id, resource_id=resource.id, message=str(err)))
                    continue
                if holds:
                    findings.append(_finding(rule, resource, roots, tenant=tenant, provider=provider, as_of=as_of))
        findings.sort(key=lambda f: (-f.severity.rank, f.rule, f.resource.id))
        errors.sort(key=lambda e: (e.rule, e.resource_id))
        return EvaluationResult(findings=findings, errors=errors)


def compile_rules(playbooks: Sequence[Playbook]) -> RuleSet:
    """Compile every playbook's `detect.when` once. Loaded playbooks were already checked, so this only raises
    PlaybookError for a Playbook built in code around the loader."""
    rules: list[CompiledRule] = []
    for playbook in playbooks:
        try:
            condition = compile_condition(playbook.detect.when)
        except ConditionError as err:
            where = str(playbook.source) if playbook.source else f"playbook {playbook.id}"
            raise PlaybookError(f"detect.when: {err.message}", path=where) from None
        rules.append(CompiledRule(playbook, condition, evidence.read_paths(condition.tree)))
    return RuleSet(rules)


def _finding(
    rule: CompiledRule,
    resource: Resource,
    roots: Mapping[str, Any],
    *,
    tenant: str,
    provider: str,
    as_of: datetime,
) -> Finding:
    playbook = rule.playbook
    return Finding(
        fingerprint=fingerprint(tenant, playbook.id, resource.id),
        tenant=tenant,
        provider=provider,
        rule=playbook.id,
        title=playbook.title,
        severity=playbook.detect.severity,
        resource=resource.ref,
        evidence=evidence.collect(rule.paths, roots),
        compliance=playbook.detect.compliance,
        observed_at=as_of,
    )
