"""Type-check a condition against the vendor's schema, so a comparison cannot silently miss a documented shape.

A condition compares vendor fields with literals. GitHub documents a webhook's `insecure_ssl` as a string *or* a
number, so `resource.config.insecure_ssl == "1"` is false for the number 1 and the hook is never reported; no
evaluation error says so. This checker walks the parsed condition with the `Shape` of every field it reads
(`vendor_schema`) and reports, with the offset of the field or literal:

- a field the schema does not have (`unknown field`);
- a comparison with a literal of a kind the field may not be (`type_mismatch`: never true) or a literal matching
  only some of its kinds (`partial_type`: misses the others), with the converted comparison to write instead;
- an enum field compared with a value the vendor does not document (`enum_member`);
- `!=` on a field that may be null (`null_counts`: an unknown value becomes a finding), and `timestamp()`,
  string methods or ordering on a field that may be null or of another kind, unless a guard rules that out;
- a field that may be absent whose documented default is exactly what the comparison looks for
  (`default_missed`: resources relying on the default cannot be compared, so they are missed);
- a URL's scheme matched case-sensitively (`case_sensitive`: `HTTP://` is the same scheme).

Guards narrow shapes as a reader would: in `x != null && …`, `x == null || …`, `has(x) && …`, `!has(x) || …` and
`x != null ? … : …` the later operand sees `x` without null (and present).
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, replace

from mendflow import providers
from mendflow.playbooks.guards import Facts, guards
from mendflow.playbooks.vendor_schema import Schemas, Shape, Unknown, describe, schemas_for
from mendflow.playbooks.wording import (
    ORDERING,
    as_text,
    cel,
    converted,
    example,
    flipped,
    guard_hint,
    holds,
    literal_end,
    literal_kind,
    opposite,
    retyped,
)
from mendflow.rules import ConditionError, ast, compile_condition

TYPE_PROBLEMS = frozenset(
    {"type_mismatch", "partial_type", "enum_member", "null_counts", "null_or_kind", "default_missed", "case_sensitive"}
)
"""The error types the checker reports besides `unknown_field` (the loader points inside the condition for each)."""

_STRING_METHODS = frozenset({"matches", "contains", "startsWith", "endsWith", "lowerAscii", "upperAscii"})
_SCHEME = re.compile(r"\^?[A-Za-z][A-Za-z0-9+.-]*(:|\\:)//")
"""A literal that spells a URL scheme (`http://`, `^https://`): schemes and hosts are case-insensitive."""


@dataclass(frozen=True)
class TypeProblem:
    """One place where a condition does not fit the vendor's schema."""

    kind: str
    """`unknown_field`, `type_mismatch`, `partial_type`, `enum_member`, `null_counts`, `null_or_kind`,
    `default_missed`, `case_sensitive`."""
    message: str
    offset: int
    """0-based character index inside the condition."""


def check_condition(condition: str, resource_type: str) -> list[TypeProblem]:
    """Every way `condition` does not fit the schema of `resource_type`, in source order (none when the type has
    no packaged schema or the condition does not compile: the loader reports that itself)."""
    return list(_checked(condition, resource_type))


@functools.lru_cache(maxsize=1024)
def _checked(condition: str, resource_type: str) -> tuple[TypeProblem, ...]:
    """Cached like compile_condition: a file is validated by every command and worker that loads it."""
    found = schemas_for(resource_type)
    if found is None:
        return ()
    try:
        tree = compile_condition(condition).tree  # the loader's own (cached) parse
    except ConditionError:
        return ()
    env = {name: found.root(resource_type, name) for name in ("resource", "related")}
    checker = _Checker(found, condition, resource_type)
    checker.visit(tree, env, Facts())
    unique = {(p.offset, p.message): p for p in checker.problems}
    return tuple(sorted(unique.values(), key=lambda p: p.offset))


class _Checker:
    def __init__(self, schemas: Schemas, source: str, resource_type: str) -> None:
        self.schemas = schemas
        self.source = source
        self.resource_type = resource_type
        self.problems: list[TypeProblem] = []

    def report(self, kind: str, message: str, offset: int) -> None:
        self.problems.append(TypeProblem(kind, message, offset))

    # Shapes of expressions

    def shape(self, node: ast.Expr, env: dict[str, Shape], facts: Facts) -> Shape | None:
        """The schema shape of a field access (None for anything computed), with the guards applied."""
        if isinstance(node, ast.Ident):
            found = env.get(node.name)
            return None if found is None else self._narrow(found, facts)
        if isinstance(node, ast.Select):
            return self._field(node.operand, node.field, node.offset, env, facts)
        if isinstance(node, ast.Index) and isinstance(node.index, ast.Literal):
            if isinstance(node.index.value, str):
                return self._field(node.operand, node.index.value, node.index.offset + 1, env, facts)
            parent = self.shape(node.operand, env, facts)
            if parent is not None and "array" in parent.kinds:
                return self.schemas.items(parent, f"{parent.path}[{node.index.value}]")
        if isinstance(node, ast.Conditional):
            inner = facts | guards(node.condition, True)
            then = self.shape(node.then, env, inner)
            otherwise = self.shape(node.otherwise, env, facts | guards(node.condition, False))
            if then is not None and otherwise is not None and not then.free and not otherwise.free:
                return replace(then, kinds=then.kinds | otherwise.kinds, path=then.path or otherwise.path)
        return None

    def _field(self, operand: ast.Expr, name: str, offset: int, env: dict[str, Shape], facts: Facts) -> Shape | None:
        parent = self.shape(operand, env, facts)
        if parent is None or parent.free:
            return None
        child = self.schemas.field(parent, name)
        if isinstance(child, Unknown):
            self._unknown(parent, child, offset)
            return None
        return None if child.free else self._narrow(child, facts)

    def _unknown(self, parent: Shape, child: Unknown, offset: int) -> None:
        path = f"{parent.path}.{child.name}"
        if child.not_object:
            vendor = self._vendor()
            message = f"'{parent.path}' is {child.not_object} in the {vendor} schema, so it has no field '{child.name}'"
        else:
            close = difflib.get_close_matches(child.name, child.known, n=1, cutoff=0.6)
            hint = f" — did you mean '{parent.path}.{close[0]}'?" if close else ""
            known = f" (known: {', '.join(child.known)})" if 0 < len(child.known) <= 12 else ""
            message = f"unknown field '{path}' for {self.resource_type}{hint}{known}"
        self.report("unknown_field", message, offset)

    @staticmethod
    def _narrow(found: Shape, facts: Facts) -> Shape:
        if found.path in facts.not_null:
            found = found.without_null().present()
        if found.path in facts.present:
            found = found.present()
        return found

    def _vendor(self) -> str:
        name = self.schemas.provider
        return providers.get(name).title if name in providers.names() else name

    # The walk

    def visit(self, node: ast.Expr, env: dict[str, Shape], facts: Facts) -> None:
        if isinstance(node, ast.Logical):
            current = facts
            for operand in node.operands:
                self.visit(operand, env, current)
                current = current | guards(operand, node.op == "&&")
            return
        if isinstance(node, ast.Conditional):
            self.visit(node.condition, env, facts)
            self.visit(node.then, env, facts | guards(node.condition, True))
            self.visit(node.otherwise, env, facts | guards(node.condition, False))
            return
        if isinstance(node, ast.Comprehension):
            self.visit(node.range, env, facts)
            ranged = self.shape(node.range, env, facts)
            inner = dict(env)
            if ranged is not None and "array" in ranged.kinds:
                inner[node.variable] = self.schemas.items(ranged, node.variable)
            else:
                inner.pop(node.variable, None)
            for part in (node.predicate, node.transform):
                if part is not None:
                    self.visit(part, inner, facts)
            return
        if isinstance(node, ast.Has):
            self.shape(node.target, env, facts)  # reports an unknown field; has() itself copes with absence
            return
        if isinstance(node, ast.Binary) and node.op in ("==", "!=", "in", *ORDERING):
            self._comparison(node, env, facts)
        elif isinstance(node, ast.Call):
            self._call(node, env, facts)
        elif isinstance(node, (ast.Select, ast.Index)):
            self.shape(node, env, facts)
            if isinstance(node, ast.Index):
                self.visit(node.index, env, facts)
            return
        for child in ast.children(node):
            self.visit(child, env, facts)

    def _call(self, node: ast.Call, env: dict[str, Shape], facts: Facts) -> None:
        if node.target is not None and node.function in ("matches", "startsWith", "contains", "endsWith"):
            self._case(node, env, facts)
        if node.target is not None and node.function in _STRING_METHODS:
            found = self.shape(node.target, env, facts)
            if found is not None and not found.free and found.kinds != {"string"}:
                other = describe(found.kinds)
                self.report(
                    "null_or_kind",
                    f"'{found.path}' may be {other} in the {self._vendor()} schema; .{node.function}() reads strings "
                    f"only, so such a resource cannot be decided — "
                    f"{guard_hint(found, f'{found.path}.{node.function}(…)')}",
                    _offset(node.target),
                )
        if node.target is None and node.function == "timestamp" and len(node.args) == 1:
            # a fallback chosen with `x != null ? x : y` is the author's answer to null; only bare fields are checked
            found = None if isinstance(node.args[0], ast.Conditional) else self.shape(node.args[0], env, facts)
            if found is not None and not found.free and found.kinds != {"string"}:
                self.report(
                    "null_or_kind",
                    f"'{found.path}' may be {describe(found.kinds)} in the {self._vendor()} schema; timestamp() "
                    f"reads strings only, so such a resource cannot be decided — "
                    f"{guard_hint(found, f'timestamp({found.path})')}",
                    _offset(node.args[0]),
                )

    def _case(self, node: ast.Call, env: dict[str, Shape], facts: Facts) -> None:
        """`url.startsWith("http://")` misses `HTTP://`: a URL's scheme (and host) has no case."""
        assert node.target is not None
        found = self.shape(node.target, env, facts)
        literal = node.args[0] if len(node.args) == 1 else None
        if found is None or found.free or not isinstance(literal, ast.Literal) or not isinstance(literal.value, str):
            return
        pattern = literal.value
        if "uri" not in found.formats and not found.path.endswith("url"):
            return
        if not _SCHEME.match(pattern) or pattern.startswith("(?i)") or pattern.lower() == pattern.upper():
            return
        text = self.source[literal.offset : literal_end(self.source, literal)]
        fix = (
            f'{found.path}.matches("(?i){pattern}")'
            if node.function == "matches"
            else f"{found.path}.lowerAscii().{node.function}({text.lower()})"
        )
        same = pattern.lstrip("^").upper()
        self.report(
            "case_sensitive",
            f"'{found.path}' is a URL, whose scheme and host have no case ({same!r} is the same), so "
            f".{node.function}({text}) misses such a value — write {fix}",
            literal.offset,
        )

    def _comparison(self, node: ast.Binary, env: dict[str, Shape], facts: Facts) -> None:
        left, right = self.shape(node.left, env, facts), self.shape(node.right, env, facts)
        if node.op == "in":
            if left is not None and isinstance(node.right, ast.ListLit):
                for element in node.right.elements:
                    if isinstance(element, ast.Literal):
                        self._against_literal(left, "in", element, node, element.offset)
            elif right is not None and "array" in right.kinds and isinstance(node.left, ast.Literal):
                items = self.schemas.items(right, f"{right.path}[]")
                if not items.free:
                    member = replace(items, path=right.path + "[]")
                    self._against_literal(member, "in", node.left, node, node.left.offset)
            return
        if left is not None and isinstance(node.right, ast.Literal):
            self._against_literal(left, node.op, node.right, node, node.right.offset)
        elif right is not None and isinstance(node.left, ast.Literal):
            self._against_literal(right, flipped(node.op), node.left, node, node.left.offset)

    def _against_literal(self, found: Shape, op: str, literal: ast.Literal, node: ast.Binary, at: int) -> None:
        if found.free:
            return
        value = literal.value
        kind = literal_kind(value)
        if kind is None or kind == "null":
            return
        text = self.source[literal.offset : literal_end(self.source, literal)]
        shown = f"in [… {text} …]" if op == "in" else f"{op} {text}"
        nonnull = found.kinds - {"null"}
        vendor = self._vendor()
        if nonnull and kind not in nonnull:
            never = "is never true" if op in ("==", "in") else ("is always true" if op == "!=" else "cannot be decided")
            fix = retyped(value, nonnull)
            suggestion = f" — compare with {fix}" if fix else ""
            self.report(
                "type_mismatch",
                f"'{found.path}' is {describe(nonnull)} in the {vendor} schema, so `{shown}` {never}{suggestion}",
                at,
            )
            return
        missed = nonnull - {kind}
        if missed:
            suggestion = converted(found.path, op, value, text, kind)
            if op == "in" and isinstance(node.right, ast.ListLit):
                items = ", ".join(as_text(element) for element in node.right.elements)
                suggestion = f"string({found.path}) in [{items}]"
            self.report(
                "partial_type",
                f"'{found.path}' may be {describe(nonnull)} in the {vendor} schema, so `{shown}` misses "
                f"{example(missed, value)} — write {suggestion}",
                at,
            )
            return
        if kind == "string" and found.enum is not None and value not in found.enum:
            close = difflib.get_close_matches(value, sorted(found.enum), n=1, cutoff=0.5)
            hint = f" — did you mean {close[0]!r}?" if close else ""
            self.report(
                "enum_member",
                f"{value!r} is not a value {vendor} documents for '{found.path}'{hint} "
                f"(one of: {', '.join(sorted(found.enum))})",
                at,
            )
            return
        if kind == "string" and "date-time" in found.formats and op in ORDERING | {"==", "!="}:
            self.report(
                "type_mismatch",
                f"'{found.path}' is a date-time in the {vendor} schema; comparing its text with {text} misses "
                f"fractions of seconds and offsets — write timestamp({found.path}) {op} timestamp({text})",
                at,
            )
            return
        if op == "!=" and found.nullable:
            self.report(
                "null_counts",
                f"'{found.path}' may be null in the {vendor} schema (unknown), and `{shown}` counts a null as a "
                f"finding — write what is a finding (e.g. {found.path} == {opposite(value, text)}), or test "
                f"`{found.path} != null &&` first",
                at,
            )
            return
        if op in ORDERING and found.nullable:
            self.report(
                "null_or_kind",
                f"'{found.path}' may be null in the {vendor} schema, so `{shown}` cannot be decided for such a "
                f"resource — {guard_hint(found, f'{found.path} {shown}')}",
                at,
            )
            return
        if found.optional and found.default and holds(found.default[0], op, value):
            default = cel(found.default[0])
            self.report(
                "default_missed",
                f"'{found.path}' may be absent, which means {default} (the {vendor} default) and is what "
                f"`{shown}` looks for, but an absent field cannot be compared — write "
                f"(!has({found.path}) || {found.path} {shown})",
                at,
            )


def _offset(node: ast.Expr) -> int:
    while isinstance(node, (ast.Select, ast.Index)):
        if isinstance(node, ast.Select):
            return node.offset
        node = node.operand
    return getattr(node, "offset", 0)
