"""Playbook test cases as data: a small tenant, and the findings and plan the playbook must produce on it.

A case lists resources of the playbook's type as the condition sees them (`id`, `data`, `related`), or names a
tenant file. Resources are turned into a mendflow.tenant/v1 tenant by the playbook's provider
(`Provider.case_tenant`: the org, parent repositories, the lists the connector derives `related` facts from), which
then goes through the same path as `mendflow plan`: simulator,
production connector, rule engine, the action's read of the current values. So a case tests the playbook against
the vendor's real shapes, not against a hand-made evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from mendflow import providers
from mendflow.errors import MendflowError
from mendflow.playbooks.case_result import CaseResult
from mendflow.playbooks.model import ParamError, Playbook, PlaybookTest
from mendflow.playbooks.plan import plan_tenant
from mendflow.render import diff
from mendflow.tenant import TENANT_FORMAT, TenantFile, load_tenant_file, parse_tenant


def run_playbook_tests(playbooks: Iterable[Playbook]) -> list[CaseResult]:
    """Run every test case of every playbook, in order."""
    return [run_case(playbook, case) for playbook in playbooks for case in playbook.tests]


def run_case(playbook: Playbook, case: PlaybookTest) -> CaseResult:
    """Build the case's tenant, plan the playbook on it, compare with the expectation."""
    result = CaseResult(playbook.id, case.name)
    try:
        tenant = tenant_for_case(playbook, case)
        provider = playbook.resource.split(".", 1)[0]
        if tenant.provider != provider:
            raise MendflowError(
                f"the tenant is a {tenant.provider} tenant, but the playbook acts on {playbook.resource}"
            )
        bound = playbook.with_params(case.params) if case.params else playbook
        plan = plan_tenant(tenant, [bound], as_of=case.as_of).playbooks[0]
    except (MendflowError, ParamError) as err:
        result.problems.append(f"cannot run: {err}")
        return result
    result.plan = plan
    expect = case.expect
    _compare(result.problems, "findings", set(expect.findings), {f.resource.id for f in plan.findings})
    _compare(result.problems, "evaluation errors", set(expect.errors), {e.resource_id for e in plan.errors})
    for error in plan.errors:
        if error.resource_id not in expect.errors:
            result.problems.append(f"  {error.resource_id}: {error.message}")
    if expect.plan is not None:
        planned = {c.resource.id: c for c in plan.changes}
        _compare(result.problems, "planned resources", set(expect.plan), set(planned))
        for resource_id, wanted in expect.plan.items():
            got = planned.get(resource_id)
            if got is not None and (got.before, got.after) != (wanted.before, wanted.after):
                expected, actual = diff(wanted.before, wanted.after), diff(got.before, got.after)
                note = f" ({got.note})" if got.note else ""
                result.problems.append(f"plan for {resource_id}: expected {expected}, got {actual}{note}")
    return result


def _compare(problems: list[str], what: str, expected: set[str], got: set[str]) -> None:
    if expected == got:
        return
    missing, extra = sorted(expected - got), sorted(got - expected)
    parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
        [f"unexpected {', '.join(extra)}"] if extra else []
    )
    problems.append(f"{what}: {'; '.join(parts)}")


def tenant_for_case(playbook: Playbook, case: PlaybookTest) -> TenantFile:
    """The tenant a case describes: its tenant file, or one built around its resources."""
    if case.tenant_file is not None:
        base = case.source.parent if case.source is not None else Path.cwd()
        return load_tenant_file(base / case.tenant_file)
    provider = providers.provider_of(playbook.resource)
    as_of = (case.as_of or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    source = f"{case.source or playbook.id}: test {case.name!r}"
    if provider.case_tenant is None:
        raise MendflowError(f"test cases with 'resources' are not supported for {provider.name}; use 'tenant_file'")
    tenant, section = provider.case_tenant(playbook.resource, as_of, case.resources)
    document = {"format": TENANT_FORMAT, "provider": provider.name, "tenant": tenant, "taken_at": as_of.isoformat()}
    return parse_tenant({**document, provider.name: section}, source=source)
