"""Type errors in response-workflow CEL, found at load: the kinds of value an expression adds or compares.

CEL converts nothing: `inputs.count + "a"` fails when the step runs (the step fails, maybe half-way through a
response), and `inputs.user == 3` is simply never true (the guard skips its step on every run, silently). Both are
visible before a run from what the file declares: the inputs' JSON Schema types, the fields each step kind outputs,
`now`, literals and the functions whose result kind is fixed. Anything else (a read's vendor object, an item
variable, a child's outputs) is unknown and never reported, so a report is always a real mistake.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mendflow.rules import ast
from mendflow.rules.values import UInt

Kind = str
"""`string`, `number`, `bool`, `list`, `map`, `timestamp` or `null`; `None` below means not known."""

_SCHEMA_KINDS = {
    "string": "string",
    "integer": "number",
    "number": "number",
    "boolean": "bool",
    "array": "list",
    "object": "map",
}
OUTPUT_KINDS: dict[tuple[str, str], Kind] = {
    ("approve", "approved"): "bool",
    ("approve", "approvers"): "list",
    ("approve", "reason"): "string",
    ("notify", "delivered"): "bool",
    ("notify", "channel"): "string",
    ("notify", "text"): "string",
    ("wait", "timed_out"): "bool",
    ("snapshot", "digest"): "string",
    ("snapshot", "count"): "number",
    ("if", "value"): "bool",
    ("ticket", "key"): "string",
    ("ticket", "url"): "string",
    ("switch", "case"): "string",
    ("call", "run_id"): "string",
    ("call", "state"): "string",
}
"""(step kind, output field) → the kind of value every run gives it (fields not listed are not known)."""
_RESULTS: dict[str, Kind] = {
    "size": "number",
    "int": "number",
    "uint": "number",
    "double": "number",
    "string": "string",
    "timestamp": "timestamp",
    "startsWith": "bool",
    "endsWith": "bool",
    "contains": "bool",
    "matches": "bool",
    "lowerAscii": "string",
    "upperAscii": "string",
}
_WANTED = {
    "bool": "a guard must be true or false, and this is a {kind}: compare it with a value",
    "list": "a for_each needs a list of items, and this is a {kind}: write [inputs.x] for one item, or map a list",
}
_ARITHMETIC = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "%": "take the remainder of"}
_ORDERING = frozenset({"<", "<=", ">", ">="})


@dataclass(frozen=True)
class KindProblem:
    """One type error: what is wrong and the offset (in the expression) of the operator or operand."""

    message: str
    offset: int


def input_kinds(schema: Mapping[str, Any]) -> dict[str, Kind]:
    """Input name → kind, for each input whose schema names one type (`type: string`, not a list of types)."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    out: dict[str, Kind] = {}
    for name, spec in properties.items():
        named = spec.get("type") if isinstance(spec, dict) else None
        if isinstance(named, str) and named in _SCHEMA_KINDS:
            out[name] = _SCHEMA_KINDS[named]
    return out


def type_errors(
    tree: ast.Expr, inputs: Mapping[str, Kind], step_kinds: Mapping[str, str], *, want: Kind | None = None
) -> list[KindProblem]:
    """Every operator whose operands' known kinds cannot work, and the whole expression when it is not of the kind
    `want`ed (`bool` for a guard, `list` for a for_each's items)."""
    found: list[KindProblem] = []
    kind = _Checker(inputs, step_kinds, found).kind(tree, frozenset())
    if want is not None and kind is not None and kind != want:
        found.append(KindProblem(_WANTED[want].format(kind=kind), 0))
    return found


@dataclass
class _Checker:
    inputs: Mapping[str, Kind]
    steps: Mapping[str, str]
    found: list[KindProblem]

    def kind(self, node: ast.Expr, bound: frozenset[str]) -> Kind | None:
        """The kind of value `node` has on every run, or None; records the errors inside it on the way."""
        if isinstance(node, ast.Comprehension):
            self.kind(node.range, bound)
            for part in (node.predicate, node.transform):
                if part is not None:
                    self.kind(part, bound | {node.variable})
            return "list" if node.macro in ("map", "filter") else "bool"
        kinds = [self.kind(child, bound) for child in ast.children(node)]
        if isinstance(node, ast.Literal):
            return _literal(node.value)
        if isinstance(node, ast.Ident):
            return "timestamp" if node.name == "now" and node.name not in bound else None
        if isinstance(node, ast.Select):
            return self._select(node, bound)
        if isinstance(node, (ast.ListLit, ast.MapLit)):
            return "list" if isinstance(node, ast.ListLit) else "map"
        if isinstance(node, ast.Call):
            return _RESULTS.get(node.function)
        if isinstance(node, (ast.Has, ast.Logical)):
            return "bool"
        if isinstance(node, ast.Unary):
            return "bool" if node.op == "!" else kinds[0]
        if isinstance(node, ast.Conditional):
            return kinds[1] if kinds[1] == kinds[2] else None
        if isinstance(node, ast.Binary):
            return self._binary(node, kinds[0], kinds[1])
        return None

    def _select(self, node: ast.Select, bound: frozenset[str]) -> Kind | None:
        operand = node.operand
        if isinstance(operand, ast.Ident) and operand.name not in bound:
            if operand.name == "inputs":
                return self.inputs.get(node.field)
            return None
        if isinstance(operand, ast.Select) and isinstance(operand.operand, ast.Ident):
            root = operand.operand
            if root.name == "steps" and root.name not in bound and node.field == "status":
                return "string"
        if (
            isinstance(operand, ast.Select)
            and operand.field == "output"
            and isinstance(operand.operand, ast.Select)
            and isinstance(operand.operand.operand, ast.Ident)
            and operand.operand.operand.name == "steps"
            and "steps" not in bound
        ):
            step_kind = self.steps.get(operand.operand.field)
            return None if step_kind is None else OUTPUT_KINDS.get((step_kind, node.field))
        return None

    def _binary(self, node: ast.Binary, left: Kind | None, right: Kind | None) -> Kind | None:
        if node.op in ("==", "!=", *_ORDERING):
            if left is not None and right is not None and left != right and "null" not in (left, right):
                self.found.append(KindProblem(_compared(node.op, left, right), node.offset))
            return "bool"
        if node.op == "in":
            return "bool"
        verb = _ARITHMETIC.get(node.op)
        if verb is None or left is None or right is None:
            return None
        if node.op == "+" and left == right and left in ("number", "string", "list"):
            return left
        if node.op != "+" and left == right == "number":
            return "number"
        if "timestamp" in (left, right) and node.op in ("+", "-"):
            return None  # timestamp ± duration, timestamp - timestamp: durations are not tracked
        hint = _HINTS.get(frozenset((left, right)), "")
        if hint and node.op == "+":
            hint = ": wrap the number in string(…) to join text, or the text in int(…) to add numbers"
        self.found.append(
            KindProblem(f"cannot {verb} a {left} and a {right} (CEL converts neither){hint}", node.offset)
        )
        return None


def _literal(value: object) -> Kind | None:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float, UInt)):
        return "number"
    return "string" if isinstance(value, str) else None


_HINTS = {
    frozenset(("string", "number")): ': write both as numbers (3) or both as text ("3"), or convert one side with '
    "int(…) or string(…)",
    frozenset(("string", "bool")): ": compare with true / false, not the text",
    frozenset(("string", "timestamp")): ": wrap the text in timestamp(…)",
}


def _compared(op: str, left: Kind, right: Kind) -> str:
    outcome = "CEL refuses to order them" if op in _ORDERING else f"`{op}` gives the same answer on every run"
    return f"compares a {left} with a {right}, so {outcome}{_HINTS.get(frozenset((left, right)), '')}"


__all__ = ["OUTPUT_KINDS", "KindProblem", "input_kinds", "type_errors"]
