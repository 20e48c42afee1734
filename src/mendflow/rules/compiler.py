"""CEL tree → Python source that works on the plain JSON values directly.

Each node becomes a Python expression (a `Code`), with statements emitted before it where CEL needs control
flow Python expressions lack (error absorption in `&&`/`||`, comprehension loops). Evaluation errors are Python
exceptions; the constructs that absorb errors catch them explicitly, exactly where the CEL spec says.

Fast paths are chosen only where they are exact: `x.f` is `x["f"]` (which raises for every non-map, as CEL
does), `x == "s"` is Python `==` (a string equals only a string), `x == true` is `x is True`, and comparisons
against a literal test the operand's class before using Python's operator. Everything else calls `runtime`.
Sub-expressions without variables are folded to constants; in rule programs, sub-expressions that depend only
on `now` (e.g. `now - duration("4320h")`) are hoisted and computed once per evaluation batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mendflow.rules import ast, calls, control
from mendflow.rules.codegen import PYTHON_CLASS, Code, Constants, Emitter, kind_of
from mendflow.rules.values import TYPE_IDENTIFIERS, TYPES

_ORDERING = {"<": "_lt", "<=": "_le", ">": "_gt", ">=": "_ge"}
_ARITHMETIC = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div", "%": "_mod"}
_NUMERIC = frozenset({"int", "uint", "double"})
_TIMESTAMP_RESULTS = {"+": (("timestamp", "duration"), ("duration", "timestamp")), "-": (("timestamp", "duration"),)}
_NOT_FOLDED = object()
_EXACT_EQ = frozenset({"string", "int", "uint", "double", "bool", "bytes", "null", "timestamp", "duration"})


@dataclass
class Hoist:
    """Where definitions of per-batch invariant sub-expressions go (the body of the bind function)."""

    names: frozenset[str]
    """Variables fixed for a whole batch (`now`)."""
    emitter: Emitter
    count: int = 0
    definitions: list[str] = field(default_factory=list)


class Compiler:
    def __init__(
        self,
        *,
        scope: dict[str, Code],
        declared: frozenset[str],
        checked: bool,
        constants: Constants,
        emitter: Emitter,
        hoist: Hoist | None = None,
        folder: Callable[[ast.Expr], Any] | None = None,
        loop_vars: frozenset[str] = frozenset(),
        fast: bool = False,
    ) -> None:
        self.scope = scope
        self.declared = declared
        self.checked = checked
        self.constants = constants
        self.out = emitter
        self.hoist = hoist
        self.folder = folder
        self.loop_vars = loop_vars
        self.fast = fast
        """Compile `&&` and `||` over bool expressions to Python's `and` and `or`: exact whenever nothing raises,
        so a caller runs that first and the exact code only if it raises. (Comprehensions keep their loops: `any()`
        over a generator costs more than the loop on the short lists vendors return; `all`/`exists` loops drop
        the per-element error bookkeeping instead.)"""
        self.shortcuts = [0]
        """How many fast forms were used (shared with nested compilers): none means the fast code is the exact one."""
        self._free: dict[int, frozenset[str]] = {}

    # Infrastructure

    def nested(self, variable: str, local: str) -> Compiler:
        """A compiler for a comprehension body, where `variable` names the loop's current element."""
        inner = Compiler(
            scope={**self.scope, variable: Code(local, simple=True, total=True)},
            declared=self.declared,
            checked=self.checked,
            constants=self.constants,
            emitter=self.out,
            hoist=self.hoist,
            folder=self.folder,
            loop_vars=self.loop_vars | {variable},
            fast=self.fast,
        )
        inner._free = self._free
        inner.shortcuts = self.shortcuts
        return inner

    def free(self, node: ast.Expr) -> frozenset[str]:
        key = id(node)
        if key not in self._free:
            self._free[key] = frozenset(ast.free_variables(node))
        return self._free[key]

    def reuse(self, code: Code) -> tuple[str, str]:
        """(name, binding text): the binding text evaluates `code` once into the name (walrus) where needed."""
        if code.simple:
            return code.text, code.text
        name = self.out.fresh()
        return name, f"({name} := {code.text})"

    def materialize(self, code: Code) -> str:
        if code.simple:
            return code.text
        name = self.out.fresh()
        self.out.emit(f"{name} = {code.text}")
        return name

    def constant(self, value: Any) -> Code:
        return Code(self.constants.literal(value), kind_of(value), simple=True, total=True)

    # Dispatch

    def compile(self, node: ast.Expr) -> Code:
        if self.folder is not None and not isinstance(node, ast.Literal | ast.Ident) and not self.free(node):
            folded = _fold(self.folder, node)
            if folded is not _NOT_FOLDED:
                return self.constant(folded)
        if self.hoist is not None and self._hoistable(node):
            return self._hoisted(node)
        if isinstance(node, ast.Literal):
            return self.constant(node.value)
        if isinstance(node, ast.Ident):
            return self._ident(node)
        if isinstance(node, ast.Select):
            return self._select(node)
        if isinstance(node, ast.Index):
            return self._index(node)
        if isinstance(node, ast.Call):
            return calls.call(self, node)
        if isinstance(node, ast.ListLit):
            items = ", ".join(self.compile(element).text for element in node.elements)
            return Code(f"[{items}]", "list")
        if isinstance(node, ast.MapLit):
            pairs = "".join(f"({self.compile(k).text}, {self.compile(v).text}), " for k, v in node.entries)
            return Code(f"_make_map(({pairs}))", "map")
        if isinstance(node, ast.Unary):
            return self._unary(node)
        if isinstance(node, ast.Binary):
            return self._binary(node)
        if isinstance(node, ast.Logical):
            return control.logical(self, node)
        if isinstance(node, ast.Conditional):
            return control.conditional(self, node)
        if isinstance(node, ast.Has):
            return self._has(node)
        return control.comprehension(self, node)

    def constant_or_hoisted(self, node: ast.Expr) -> bool:
        """Whether `compile` turns the node into a constant or a hoisted name rather than code of its own."""
        if self.folder is not None and not self.free(node):
            return True
        return self.hoist is not None and self._hoistable(node)

    def _hoistable(self, node: ast.Expr) -> bool:
        assert self.hoist is not None
        if isinstance(node, ast.Literal | ast.Ident):
            return False
        names = self.free(node)
        return bool(names) and names <= self.hoist.names and not (names & self.loop_vars)

    def _hoisted(self, node: ast.Expr) -> Code:
        assert self.hoist is not None
        hoist = self.hoist
        inner = Compiler(
            scope=self.scope,
            declared=self.declared,
            checked=self.checked,
            constants=self.constants,
            emitter=hoist.emitter,
            folder=self.folder,
        )
        code = inner.compile(node)
        hoist.count += 1
        name = f"_H{hoist.count}"
        hoist.emitter.emit(f"{name} = {code.text}")
        hoist.definitions.append(name)
        return Code(name, code.kind, simple=True, total=True)

    # Leaves and access

    def _ident(self, node: ast.Ident) -> Code:
        if node.name in self.scope:
            return self.scope[node.name]
        if node.name in TYPE_IDENTIFIERS:
            return self.constant(TYPES[node.name])
        return Code(f"_unbound({node.name!r})")

    def _select(self, node: ast.Select) -> Code:
        resolved = self._qualified(node)
        if resolved is not None:
            return resolved
        return self.field(self.compile(node.operand), node.field)

    def field(self, operand: Code, name: str) -> Code:
        if self.checked or (operand.kind is not None and operand.kind != "map"):
            return Code(f"_select({operand.text}, {name!r})")
        return Code(f"{operand.text}[{name!r}]")

    def _qualified(self, node: ast.Select) -> Code | None:
        """`a.b.c` where a declared variable is named `a.b.c` or `a.b`: the longest such name wins."""
        if not any("." in name for name in self.declared):
            return None
        fields: list[str] = []
        current: ast.Expr = node
        while isinstance(current, ast.Select):
            fields.append(current.field)
            current = current.operand
        if not isinstance(current, ast.Ident) or current.name in self.loop_vars:
            return None
        parts = [current.name, *reversed(fields)]
        for count in range(len(parts), 1, -1):
            name = ".".join(parts[:count])
            if name in self.declared and name in self.scope:
                code = self.scope[name]
                for rest in parts[count:]:
                    code = self.field(code, rest)
                return code
        return None

    def _index(self, node: ast.Index) -> Code:
        operand = self.compile(node.operand)
        key = node.index
        if isinstance(key, ast.Literal) and key.value.__class__ is str:
            return self.field(operand, key.value)
        return Code(f"_index({operand.text}, {self.compile(key).text})")

    def _has(self, node: ast.Has) -> Code:
        operand = self.compile(node.target.operand)
        name = node.target.field
        if self.checked:
            return Code(f"_has({operand.text}, {name!r})", "bool")
        value, bind = self.reuse(operand)
        return Code(f"({name!r} in {value} if {bind}.__class__ is dict else _has({value}, {name!r}))", "bool")

    # Operators

    def _unary(self, node: ast.Unary) -> Code:
        operand = self.compile(node.operand)
        if node.op == "!":
            if operand.kind == "bool":
                return Code(f"(not {operand.text})", "bool", total=operand.total)
            value, bind = self.reuse(operand)
            return Code(f"(False if {bind} is True else True if {value} is False else _not({value}))", "bool")
        if operand.kind == "double":
            return Code(f"(-{operand.text})", "double", total=operand.total)
        return Code(f"_neg({operand.text})", operand.kind if operand.kind in ("int", "double") else None)

    def _binary(self, node: ast.Binary) -> Code:
        if node.op in ("==", "!="):
            return self._equality(node)
        left, right = self.compile(node.left), self.compile(node.right)
        if node.op in _ORDERING:
            return self._ordering(node.op, left, right)
        if node.op == "in":
            return self._membership(node, left, right)
        return self._arithmetic(node.op, left, right)

    def _equality(self, node: ast.Binary) -> Code:
        left, right = self.compile(node.left), self.compile(node.right)
        negate = node.op == "!="
        for literal, other in ((node.right, left), (node.left, right)):
            if isinstance(literal, ast.Literal):
                text = self._equals_literal(other, literal.value, negate)
                if text is not None:
                    return Code(text, "bool", total=other.total)
        if left.kind is not None and left.kind == right.kind and left.kind in _EXACT_EQ:
            op = "!=" if negate else "=="
            return Code(f"({left.text} {op} {right.text})", "bool", total=left.total and right.total)
        text = f"_eq({left.text}, {right.text})"
        return Code(f"(not {text})" if negate else text, "bool")

    def _equals_literal(self, other: Code, value: Any, negate: bool) -> str | None:
        """`other == value` as exact Python, or None when a runtime call is needed."""
        if value is None or value is True or value is False:
            return f"({other.text} is {'not ' if negate else ''}{value})"
        kind = value.__class__
        literal = self.constants.literal(value)
        if kind is str or kind is bytes:
            return f"({other.text} {'!=' if negate else '=='} {literal})"
        if kind in (int, float) or kind_of(value) == "uint":
            if abs(value) >= 2**53 or value != value:
                return None
            if value in (0, 1):  # True == 1 and False == 0 in Python, never in CEL
                name, bind = self.reuse(other)
                text = f"({bind} == {literal} and {name}.__class__ is not bool)"
            else:
                text = f"({other.text} == {literal})"
            return f"(not {text})" if negate else text
        return None

    def _ordering(self, op: str, left: Code, right: Code) -> Code:
        if left.kind is not None and left.kind == right.kind:
            if left.kind in ("int", "uint", "double", "string", "bytes", "bool"):
                return Code(f"({left.text} {op} {right.text})", "bool", total=left.total and right.total)
            if left.kind in ("timestamp", "duration"):
                return Code(f"({left.text}.ns {op} {right.text}.ns)", "bool", total=left.total and right.total)
        helper = _ORDERING[op]
        for known, other, known_on_right in ((right, left, True), (left, right, False)):
            if known.simple and known.kind in PYTHON_CLASS and other.kind is None:
                name, bind = self.reuse(other)
                pair = (name, known.text) if known_on_right else (known.text, name)
                fast = f"{pair[0]} {op} {pair[1]}"
                return Code(
                    f"({fast} if {bind}.__class__ is {PYTHON_CLASS[known.kind]} else {helper}({pair[0]}, {pair[1]}))",
                    "bool",
                )
        return Code(f"{helper}({left.text}, {right.text})", "bool")

    def _membership(self, node: ast.Binary, left: Code, right: Code) -> Code:
        elements = node.right.elements if isinstance(node.right, ast.ListLit) else None
        if elements and all(isinstance(e, ast.Literal) and e.value.__class__ is str for e in elements):
            values = tuple(e.value for e in elements if isinstance(e, ast.Literal))
            return Code(f"({left.text} in {self.constants.add(values)})", "bool", total=left.total)
        return Code(f"_in({left.text}, {right.text})", "bool")

    def _arithmetic(self, op: str, left: Code, right: Code) -> Code:
        kinds = (left.kind, right.kind)
        if op == "+" and kinds == ("string", "string"):
            return Code(f"({left.text} + {right.text})", "string")
        kind: str | None = None
        if left.kind == right.kind and left.kind in _NUMERIC:
            kind = left.kind
        elif kinds in _TIMESTAMP_RESULTS.get(op, ()):
            kind = "timestamp"
        elif op in "+-" and kinds in (("duration", "duration"), ("timestamp", "timestamp")):
            kind = "duration"
        elif op == "+" and left.kind == right.kind and left.kind in ("bytes", "list"):
            kind = left.kind
        return Code(f"{_ARITHMETIC[op]}({left.text}, {right.text})", kind)


def _fold(folder: Callable[[ast.Expr], Any], node: ast.Expr) -> Any:
    """The constant value of a variable-free node, or _NOT_FOLDED when evaluating it fails (CEL then reports
    the error at run time, or absorbs it)."""
    try:
        return folder(node)
    except Exception:
        return _NOT_FOLDED
