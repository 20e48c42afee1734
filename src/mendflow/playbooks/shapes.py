"""Value-shape companions of playbook test cases: every documented shape of every field a condition reads.

A test case shows a condition on the values its author wrote. The vendor may send the same meaning in another
shape: GitHub documents a hook's `insecure_ssl` as a string or a number, Okta writes timestamps with milliseconds,
nullable fields come back null and optional ones go missing. For each field below `resource` that a condition
reads (a scalar, by the vendor's schema) and each resource of a case (or object of its tenant file) that carries
it, companions are generated as data (`ShapeCase`) and run through the same simulator, connector and engine as
the case itself:

- the same value in each other kind the schema allows (`"1"` → `1`, `"true"` → `true`), a date-time with a
  fraction of a second or another offset, a URL with an upper-case scheme: the resource must come out exactly as
  in the case (a finding, not a finding, or undecidable);
- null, where the schema allows it, and absent, where the field is optional: the resource must not become a
  finding it was not (null is unknown; absent is undecidable), unless the condition tests that form itself
  (`x == null`, `has(x)`), which is the author's explicit answer; an absent field with a documented default must
  come out as with the default.

Per playbook, each field's shape is tried once on a resource that is a finding in its case and once on one that
is not, so the companions stay few (the shipped GitHub playbooks get about fifty).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from mendflow.errors import MendflowError
from mendflow.playbooks.case_result import CaseResult
from mendflow.playbooks.cases import tenant_for_case
from mendflow.playbooks.model import Playbook, PlaybookTest
from mendflow.playbooks.plan import PlaybookPlan, plan_tenant
from mendflow.playbooks.tenant_objects import locate, objects
from mendflow.playbooks.vendor_schema import NUMBER, Shape, Unknown, schemas_for
from mendflow.rules import ast
from mendflow.rules.cel import ConditionError, parse_expression
from mendflow.tenant import TenantFile


class Expect(StrEnum):
    """What a companion must show."""

    same = "same"
    """The resource comes out as in the case it was derived from."""
    no_new_finding = "no_new_finding"
    """The resource does not become a finding it was not in the case (it may be undecidable)."""
    as_default = "as_default"
    """The resource comes out as with the field set to its documented default."""


class ShapeCase(BaseModel):
    """One generated companion: a case's resource with one field in another documented shape."""

    model_config = ConfigDict(frozen=True)

    playbook_id: str
    base: str
    """The name of the test case it is derived from."""
    resource_id: str
    field: str
    """The field below `resource`, dotted (`config.insecure_ssl`)."""
    variant: str
    """The shape in words: `the number 1`, `null`, `absent`, `with milliseconds`."""
    value: Any = None
    """The value set (ignored when `absent`)."""
    absent: bool = False
    """The field is left out instead."""
    expect: Expect
    default: Any = None
    """The documented default (for `as_default`)."""

    @property
    def name(self) -> str:
        return f"shape: resource.{self.field} as {self.variant} on {self.resource_id} (from '{self.base}')"


def shape_cases(playbook: Playbook) -> list[ShapeCase]:
    """The companions of every case of `playbook` (of its resources, or of the objects of its tenant file)."""
    schemas = schemas_for(playbook.resource)
    if schemas is None:
        return []
    try:
        tree = parse_expression(playbook.detect.when)
    except ConditionError:
        return []
    reads = _Reads()
    reads.visit(tree)
    root = schemas.root(playbook.resource, "resource")
    fields: list[tuple[tuple[str, ...], Shape]] = []
    for path in sorted(reads.paths):
        shape: Shape | Unknown = root
        for name in path:
            if isinstance(shape, Unknown) or shape.free:
                break
            shape = schemas.field(shape, name)
        if isinstance(shape, Shape) and not shape.free and shape.kinds <= {"null", "boolean", NUMBER, "string"}:
            fields.append((path, shape))
    cases: list[ShapeCase] = []
    picked: set[tuple[str, str, bool]] = set()
    for case in playbook.tests:
        try:
            section = tenant_for_case(playbook, case).section()
        except MendflowError:
            continue
        # a case's own resources, or every object of the type in its tenant file
        listed = [(r.id, locate(section, playbook.resource, r.id)) for r in case.resources]
        candidates = listed or list(objects(section, playbook.resource))
        for path, shape in fields:
            dotted = ".".join(path)
            explicit_null = f"resource.{dotted}" in reads.null_tested
            explicit_absent = f"resource.{dotted}" in reads.has_tested
            for resource_id, found in candidates:
                if found is None or not _has(found, path):
                    continue
                finding = resource_id in case.expect.findings
                variants = _variants(_get(found, path), shape, explicit_null, explicit_absent)
                for key, variant, value, absent, expect in variants:
                    if (dotted, key, finding) in picked:
                        continue  # one finding and one other resource per field and shape is enough
                    picked.add((dotted, key, finding))
                    cases.append(
                        ShapeCase(
                            playbook_id=playbook.id, base=case.name, resource_id=resource_id, field=dotted,
                            variant=variant, value=value, absent=absent, expect=expect,
                            default=shape.default[0] if shape.default else None,
                        )
                    )  # fmt: skip
    return cases


def run_shape_cases(playbooks: Iterable[Playbook]) -> list[CaseResult]:
    """Generate and run the companions of every playbook (each case's own plan is made once)."""
    results: list[CaseResult] = []
    for playbook in playbooks:
        cases = {case.name: case for case in playbook.tests}
        bases: dict[str, PlaybookPlan | MendflowError] = {}
        for shape in shape_cases(playbook):
            if shape.base not in bases:
                try:
                    bases[shape.base] = _plan(playbook, cases[shape.base], tenant_for_case(playbook, cases[shape.base]))
                except MendflowError as err:
                    bases[shape.base] = err
            results.append(run_shape_case(playbook, cases[shape.base], shape, base=bases[shape.base]))
    return results


def run_shape_case(
    playbook: Playbook, case: PlaybookTest, shape: ShapeCase, *, base: PlaybookPlan | MendflowError | None = None
) -> CaseResult:
    """Plan the case with the one field changed, and compare the resource's outcome with what `expect` asks
    (`base`: the case's own plan, when the caller already has it)."""
    result = CaseResult(playbook.id, shape.name)
    try:
        if isinstance(base, MendflowError):
            raise base
        tenant = tenant_for_case(playbook, case)
        original = _outcome(base if base is not None else _plan(playbook, case, tenant), shape)
        got = _outcome(_plan(playbook, case, _changed(tenant, playbook.resource, shape, shape.value)), shape)
        if shape.expect is Expect.as_default:
            wanted = _outcome(_plan(playbook, case, _changed(tenant, playbook.resource, shape, shape.default)), shape)
            reference = f"with the documented default {shape.default!r}"
        else:
            wanted, reference = original, "in the case"
    except MendflowError as err:
        result.problems.append(f"cannot run: {err}")
        return result
    if shape.expect is Expect.no_new_finding:
        if got == "a finding" and original != "a finding":
            result.problems.append(
                f"{shape.resource_id} became a finding with resource.{shape.field} {shape.variant} "
                f"(it is {original} in the case)"
            )
    elif got != wanted:
        result.problems.append(
            f"{shape.resource_id} is {got} with resource.{shape.field} {shape.variant}, but {wanted} {reference}"
        )
    return result


def _plan(playbook: Playbook, case: PlaybookTest, tenant: TenantFile) -> PlaybookPlan:
    return plan_tenant(tenant, [playbook], as_of=case.as_of).playbooks[0]


def _outcome(plan: PlaybookPlan, shape: ShapeCase) -> str:
    if any(f.resource.id == shape.resource_id for f in plan.findings):
        return "a finding"
    if any(e.resource_id == shape.resource_id for e in plan.errors):
        return "undecidable"
    return "not a finding"


def _changed(tenant: TenantFile, resource_type: str, shape: ShapeCase, value: Any) -> TenantFile:
    section = copy.deepcopy(tenant.section())
    found = locate(section, resource_type, shape.resource_id)
    if found is None:
        raise MendflowError(f"{shape.resource_id} is not in the case's tenant")
    path = tuple(shape.field.split("."))
    parent = _get(found, path[:-1]) if len(path) > 1 else found
    if shape.absent and value is None:
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = copy.deepcopy(value)
    return tenant.model_copy(update={tenant.provider: section})


def _variants(
    value: Any, shape: Shape, explicit_null: bool, explicit_absent: bool
) -> Iterator[tuple[str, str, Any, bool, Expect]]:
    """(key, words, value, absent, expectation) for each other documented shape of `value`."""
    kind = _kind(value)
    for other in sorted(shape.kinds - {"null", kind}):
        converted = _converted(value, other)
        if converted is not None:
            yield other, _words(converted), converted, False, Expect.same
    if isinstance(value, str) and "date-time" in shape.formats:
        yield from _timestamps(value)
    if isinstance(value, str) and ("uri" in shape.formats or value.lower().startswith(("http://", "https://"))):
        scheme, sep, rest = value.partition("://")
        if sep and scheme.upper() != scheme:
            yield "scheme", "an upper-case scheme", f"{scheme.upper()}://{rest}", False, Expect.same
    if shape.nullable and value is not None and not explicit_null:
        yield "null", "null", None, False, Expect.no_new_finding
    if shape.optional and not explicit_absent:
        if shape.default:
            yield "absent", "absent", None, True, Expect.as_default
        elif not explicit_null:
            yield "absent", "absent", None, True, Expect.no_new_finding


def _timestamps(value: str) -> Iterator[tuple[str, str, Any, bool, Expect]]:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return
    if moment.tzinfo is None:
        return
    utc = moment.astimezone(UTC)
    millis = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    yield "fraction", "a time with milliseconds", millis, False, Expect.same
    shifted = utc.astimezone(timezone(timedelta(hours=2))).isoformat(timespec="seconds")
    yield "offset", "a time with a +02:00 offset", shifted, False, Expect.same


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return NUMBER
    if isinstance(value, str):
        return "string"
    return "object"


def _converted(value: Any, kind: str) -> Any:
    """The same meaning in another JSON kind, when there is one."""
    if kind == NUMBER and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return None
    if kind == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if kind == "string" and isinstance(value, bool):
        return "true" if value else "false"
    if kind == "boolean" and isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    return None


def _words(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"the string {value!r}"


def _has(data: dict[str, Any], path: tuple[str, ...]) -> bool:
    node: Any = data
    for name in path:
        if not isinstance(node, dict) or name not in node:
            return False
        node = node[name]
    return True


def _get(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = data
    for name in path:
        node = node[name]
    return node


@dataclass
class _Reads:
    """The `resource.…` paths a condition reads, and those it tests for null or presence itself."""

    paths: set[tuple[str, ...]]
    null_tested: set[str]
    has_tested: set[str]

    def __init__(self) -> None:
        self.paths, self.null_tested, self.has_tested = set(), set(), set()

    def visit(self, node: ast.Expr) -> None:
        path = _resource_path(node)
        if path:
            self.paths.add(path)
            return
        if isinstance(node, ast.Has):
            target = _resource_path(node.target)
            if target:
                self.has_tested.add("resource." + ".".join(target))
                self.paths.add(target)
            return
        if isinstance(node, ast.Binary) and node.op in ("==", "!="):
            for side, other in ((node.left, node.right), (node.right, node.left)):
                read = _resource_path(side)
                if read and isinstance(other, ast.Literal) and other.value is None:
                    self.null_tested.add("resource." + ".".join(read))
        for child in ast.children(node):
            self.visit(child)


def _resource_path(node: ast.Expr) -> tuple[str, ...]:
    """`resource.a.b` as ("a", "b"); () for anything else."""
    names: list[str] = []
    while True:
        if isinstance(node, ast.Select):
            names.append(node.field)
            node = node.operand
        elif isinstance(node, ast.Index) and isinstance(node.index, ast.Literal) and isinstance(node.index.value, str):
            names.append(node.index.value)
            node = node.operand
        else:
            break
    if isinstance(node, ast.Ident) and node.name == "resource" and names:
        return tuple(reversed(names))
    return ()
