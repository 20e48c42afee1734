"""Turn compiled expressions into Python functions: one `compile()` per program, run many times.

* `value_function`: one expression → `f(*variables)` returning its value or raising (CelError and friends).
* `batch_binder`: many rule conditions over the same variables → `bind(now)` returning
  `run(resource, related)`, which evaluates every condition and returns a tuple with, per condition, True,
  False, or something else (ERROR, or a non-bool value) meaning the condition could not be decided.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from mendflow.rules import ast, runtime
from mendflow.rules.calls import function_name
from mendflow.rules.codegen import Code, Constants, Emitter
from mendflow.rules.compiler import Compiler, Hoist
from mendflow.rules.functions import GLOBALS, METHODS
from mendflow.rules.timefmt import timestamp_of
from mendflow.rules.values import CelError, Timestamp, UInt


class _Error:
    """The marker a batch returns for a condition that raised."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ERROR"


ERROR: Any = _Error()

_RUNTIME: dict[str, Any] = {
    "_eq": runtime.eq,
    "_lt": runtime.lt,
    "_le": runtime.le,
    "_gt": runtime.gt,
    "_ge": runtime.ge,
    "_add": runtime.add,
    "_sub": runtime.sub,
    "_mul": runtime.mul,
    "_div": runtime.div,
    "_mod": runtime.mod,
    "_neg": runtime.neg,
    "_not": runtime.not_,
    "_select": runtime.select,
    "_has": runtime.has,
    "_index": runtime.index,
    "_in": runtime.in_,
    "_iterate": runtime.iterate,
    "_fail": runtime.fail,
    "_make_map": runtime.make_map,
    "_unbound": runtime.unbound,
    "_unknown_function": runtime.unknown_function,
    "_Timestamp": Timestamp,
    "_timestamp_of": timestamp_of,
    "_UInt": UInt,
    "_ERROR": ERROR,
    **{function_name(name, False): implementation for name, (implementation, _) in GLOBALS.items()},
    **{function_name(name, True): implementation for name, (implementation, _) in METHODS.items()},
}


def _locals(variables: Sequence[str]) -> dict[str, str]:
    """CEL variable name → Python parameter name (variable names may contain dots)."""
    return {
        name: f"V{index}_" + "".join(c if c.isalnum() else "_" for c in name) for index, name in enumerate(variables)
    }


def _scope(names: dict[str, str], kinds: dict[str, str]) -> dict[str, Code]:
    return {name: Code(local, kinds.get(name), simple=True, total=True) for name, local in names.items()}


def fold(node: ast.Expr) -> Any:
    """The value of a variable-free expression (raises if evaluating it fails)."""
    return value_function(node, (), checked=False, fold_constants=False, fast=False)()  # run once: no fast form


def value_function(
    node: ast.Expr, variables: Sequence[str], *, checked: bool, fold_constants: bool = True, fast: bool = True
) -> Callable[..., Any]:
    """`f(*values)` for `variables` in order: the expression's value, or an exception for a CEL error. With
    `fast`, an expression with a fast form (see `Compiler.fast`) runs it first and its exact form if it raises."""
    names = _locals(variables)
    out = Emitter()
    constants = Constants()

    def compiler(quick: bool) -> Compiler:
        return Compiler(
            scope=_scope(names, {}),
            declared=frozenset(variables),
            checked=checked,
            constants=constants,
            emitter=out,
            folder=fold if fold_constants else None,
            fast=quick,
        )

    with out.block(f"def _run({', '.join(names.values())}):"):
        lines, quick = _captured(out, compiler(True), node) if fast else ([], None)
        exact_lines, exact = _captured(out, compiler(False), node)
        if quick is not None and not lines and (exact_lines or quick.text != exact.text):
            with out.block("try:"):
                out.emit(f"return {quick.text}")
            with out.block("except Exception:"):  # an error somewhere: CEL may still absorb it, so decide exactly
                out.emit("pass")
        out.splice(exact_lines)
        out.emit(f"return {exact.text}")
    return _build(out.lines, constants)["_run"]  # type: ignore[no-any-return]


def _captured(out: Emitter, compiler: Compiler, node: ast.Expr) -> tuple[list[str], Code]:
    """The statements and the expression `compiler` makes of `node`, captured rather than emitted."""
    with out.capture() as lines:
        code = compiler.compile(node)
    return lines, code


Runner = Callable[[Any, Any], tuple[Any, ...]]
Binder = Callable[[Any], Runner]


def batch_binder(nodes: Sequence[ast.Expr]) -> Binder:
    """`bind(now)(resource, related)` → one decision per node (see the module docstring)."""
    constants = Constants()
    plain = Emitter()
    _batch(plain, constants, nodes, "_bind_plain", hoist=None)
    hoisted_defs = Emitter()
    hoisted_defs.level = 2
    hoist = Hoist(names=frozenset({"now"}), emitter=hoisted_defs)
    fast = Emitter()
    _batch(fast, constants, nodes, "_bind", hoist=hoist)
    if not hoist.definitions:
        namespace = _build(plain.lines, constants)
        return namespace["_bind_plain"]  # type: ignore[no-any-return]
    lines = [
        fast.lines[0],
        "    try:",
        *hoisted_defs.lines,
        "    except Exception:",
        "        return _bind_plain(V_now)",
    ]
    namespace = _build(plain.lines + lines + fast.lines[1:], constants)
    return namespace["_bind"]  # type: ignore[no-any-return]


def _batch(out: Emitter, constants: Constants, nodes: Sequence[ast.Expr], name: str, hoist: Hoist | None) -> None:
    """`name(now)` returning `_run`. A condition with a fast form (see `Compiler.fast`) runs it first; if that
    raises, its exact form (a function of its own, so nesting depth stays as it was) decides."""
    names = {"resource": "V_resource", "related": "V_related", "now": "V_now"}

    def compiler(fast: bool) -> Compiler:
        return Compiler(
            scope=_scope(names, {"now": "timestamp"}),
            declared=frozenset(names),
            checked=False,
            constants=constants,
            emitter=out,
            hoist=hoist,
            folder=fold,
            fast=fast,
        )

    with out.block(f"def {name}(V_now):"):
        bodies: list[tuple[list[str] | None, list[str]]] = []
        for index, node in enumerate(nodes):
            quick = compiler(True)
            lines, fast = _captured(out, quick, node)
            exact_lines, exact = _captured(out, compiler(False), node)
            body = [*exact_lines, f"_R{index} = {exact.text}"]
            if not quick.shortcuts[0] or _depth(lines) > MAX_FAST_DEPTH:
                bodies.append((None, body))
                continue
            bodies.append(([*lines, f"_R{index} = {fast.text}"], body))
            with out.block(f"def _X{index}(V_resource, V_related):"):
                with out.block("try:"):
                    out.splice(body)
                    out.emit(f"return _R{index}")
                with out.block("except Exception:"):
                    out.emit("return _ERROR")
        with out.block("def _run(V_resource, V_related):"):
            for index, (fast_lines, body) in enumerate(bodies):
                with out.block("try:"):
                    out.splice(fast_lines if fast_lines is not None else body)
                with out.block("except Exception:"):
                    out.emit(
                        f"_R{index} = _X{index}(V_resource, V_related)"
                        if fast_lines is not None
                        else f"_R{index} = _ERROR"
                    )
            out.emit(f"return ({''.join(f'_R{index}, ' for index in range(len(bodies)))})")
        out.emit("return _run")


MAX_FAST_DEPTH = 8
"""Indentation levels a fast form may add inside `_run`'s `try` (loops and `if`s of lean `exists`/`&&`): beyond
it the exact form runs alone, so generated code stays far from Python's nesting limits."""


def _depth(lines: list[str]) -> int:
    return max(((len(line) - len(line.lstrip(" "))) // 4 for line in lines), default=0)


def _build(lines: list[str], constants: Constants) -> dict[str, Any]:
    source = "\n".join(lines) + "\n"
    namespace: dict[str, Any] = {**_RUNTIME, **constants.namespace, "__name__": "mendflow.rules.generated"}
    try:
        with warnings.catch_warnings():  # e.g. "'NoneType' object is not subscriptable": CEL reports that at run time
            warnings.simplefilter("ignore", SyntaxWarning)
            code = compile(source, "<cel>", "exec")
    except (SyntaxError, RecursionError, MemoryError) as err:  # e.g. more nested blocks than Python allows
        raise CelError(f"expression too complex to compile: {err}") from None
    exec(code, namespace)  # noqa: S102 - the source is generated from a parsed CEL tree, never user text
    namespace["__source__"] = source
    return namespace
