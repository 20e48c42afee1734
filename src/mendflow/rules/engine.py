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
from mendflow.rules.cel import Condition, ConditionError, EvaluationError, compile_condition, timestamp
from mendflow.rules.program import Binder, Runner, batch_binder
from mendflow.rules.values import CelError

if TYPE_CHECKING:  # the playbook model imports this package to check conditions; avoid the cycle at run time
    from mendflow.playbooks.model import Playbook


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
    """Compiled rules grouped by resource type; evaluate it as many times as you like.

    All conditions of one resource type are compiled into one Python function, which decides every rule for a
    resource in a single call on the resource's JSON as it is (see docs/rule-engine.md).
    """

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self._rules = tuple(rules)
        by_type: dict[str, list[CompiledRule]] = defaultdict(list)
        for rule in self._rules:
            by_type[rule.playbook.resource].append(rule)
        self._by_type = {kind: tuple(group) for kind, group in by_type.items()}
        self._binders = {kind: _binder(group) for kind, group in self._by_type.items()}

    @property
    def rules(self) -> tuple[CompiledRule, ...]:
        return self._rules

    @property
    def resource_types(self) -> frozenset[str]:
        """The resource types at least one rule applies to (a collector may skip the others)."""
        return frozenset(self._by_type)

    def rules_for(self, resource_type: str) -> tuple[CompiledRule, ...]:
        """The rules of one resource type, in the order `decider` reports them."""
        return self._by_type.get(resource_type, ())

    def decider(self, resource_type: str, as_of: datetime) -> Runner | None:
        """`decide(data, related)` → one decision per rule of the type (True, False, or anything else for
        "could not decide"), without building findings: the engine's inner loop, exposed for benchmarks."""
        binder = self._binders.get(resource_type)
        return binder(timestamp(as_of)) if binder is not None else None

    def evaluate(
        self, resources: Iterable[Resource], *, tenant: str, provider: str, as_of: datetime
    ) -> EvaluationResult:
        """Evaluate each rule on each resource of its type, as of `as_of` (the CEL variable `now`; it must be
        timezone-aware)."""
        now = timestamp(as_of)
        findings: list[Finding] = []
        errors: list[RuleError] = []
        deciders: dict[str, Runner] = {}
        for resource in resources:
            kind = resource.type
            decide = deciders.get(kind)
            if decide is None:
                binder = self._binders.get(kind)
                if binder is None:
                    continue
                decide = deciders[kind] = binder(now)
            decisions = decide(resource.data, resource.related)
            for rule, decision in zip(self._by_type[kind], decisions, strict=True):
                if decision is True:
                    roots = {"resource": resource.data, "related": resource.related}
                    findings.append(_finding(rule, resource, roots, tenant=tenant, provider=provider, as_of=as_of))
                elif decision is not False:
                    message = rule.condition.explain([resource.data, resource.related, now])
                    errors.append(RuleError(rule=rule.playbook.id, resource_id=resource.id, message=message))
        findings.sort(key=lambda f: (-f.severity.rank, f.rule, f.resource.id))
        errors.sort(key=lambda e: (e.rule, e.resource_id))
        return EvaluationResult(findings=findings, errors=errors)


def compile_rules(playbooks: Sequence[Playbook]) -> RuleSet:
    """Compile every playbook's `detect.when` once. Loaded playbooks were already checked, so this only raises
    PlaybookError for a Playbook built in code around the loader."""
    rules: list[CompiledRule] = []
    for playbook in playbooks:
        try:
            condition = compile_condition(playbook.condition())  # parameters bound in as literals
        except ConditionError as err:
            where = str(playbook.source) if playbook.source else f"playbook {playbook.id}"
            raise PlaybookError(f"detect.when: {err.message}", path=where) from None
        rules.append(CompiledRule(playbook, condition, evidence.read_paths(condition.tree)))
    return RuleSet(rules)


def _binder(rules: Sequence[CompiledRule]) -> Binder:
    """One generated function for all the rules of a type; rule by rule if that cannot be compiled."""
    try:
        return batch_binder([rule.condition.tree for rule in rules])
    except CelError:
        conditions = [rule.condition for rule in rules]

        def bind(now: Any) -> Runner:
            def decide(data: Any, related: Any) -> tuple[Any, ...]:
                return tuple(_decide(condition, [data, related, now]) for condition in conditions)

            return decide

        return bind


def _decide(condition: Condition, arguments: list[Any]) -> Any:
    try:
        return condition.evaluate(dict(zip(("resource", "related", "now"), arguments, strict=True)))
    except EvaluationError:
        return None


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
        evidence={**evidence.collect(rule.paths, roots), **playbook.params_evidence()},
        compliance=playbook.detect.compliance,
        observed_at=as_of,
    )
