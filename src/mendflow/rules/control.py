"""Control flow with CEL's error rules: `&&`/`||` (errors absorbed when the other side decides), `?:`, macros.

a && b    false if either side is false (even if the other is an error); else an error if either side is
          one (or not a bool); else true. `||` is the mirror image. Chains are evaluated left to right.
c ? x : y an error if c is (or is not a bool); only the chosen branch is evaluated.
all       like && over the elements; exists like ||; exists_one, map and filter propagate any error.

Fast forms (`Compiler.fast`) are exact whenever nothing raises: `&&`/`||` over bools become `and`/`or` (with `if`
blocks around operands that need statements, so they still short-circuit), and `all`/`exists` over a bool
predicate a loop that breaks at the deciding element.
"""

from __future__ import annotations

from contextlib import ExitStack, nullcontext
from typing import TYPE_CHECKING

from mendflow.rules import ast
from mendflow.rules.codegen import Code

if TYPE_CHECKING:
    from mendflow.rules.compiler import Compiler


def logical(compiler: Compiler, node: ast.Logical, *, absorb: bool = False) -> Code:
    """`a && b && …` or `a || b || …`. With `absorb`, an undecided error is left in the result (an exception
    or the offending value) for an enclosing `&&`/`||` to weigh, instead of being raised: nested logical
    operators then need no `try` of their own, which keeps generated code within Python's block nesting limit."""
    out = compiler.out
    if compiler.fast:
        fast = _fast_logical(compiler, node)
        if fast is not None:
            return fast
    parts: list[tuple[list[str], Code, bool]] = []
    for operand in node.operands:
        nested = isinstance(operand, ast.Logical) and not compiler.constant_or_hoisted(operand)
        with out.capture() as lines:
            code = logical(compiler, operand, absorb=True) if isinstance(operand, ast.Logical) and nested else None
            code = code or compiler.compile(operand)
        parts.append((lines, code, nested))
    if all(not lines and code.kind == "bool" and code.total for lines, code, _ in parts):
        joiner = " and " if node.op == "&&" else " or "
        return Code("(" + joiner.join(code.text for _, code, _ in parts) + ")", "bool", total=True)
    decisive, neutral = ("False", "True") if node.op == "&&" else ("True", "False")
    result, error = out.fresh("r"), out.fresh("e")
    out.emit(f"{result} = {neutral}")
    out.emit(f"{error} = None")
    for position, (lines, code, nested) in enumerate(parts):
        guard = out.block(f"if {result} is {neutral}:") if position else nullcontext()
        with guard:
            value = _guarded(compiler, lines, code, safe=nested)
            with out.block(f"if {value} is {decisive}:"):
                out.emit(f"{result} = {decisive}")
            with out.block(f"elif {value} is not {neutral} and {error} is None:"):
                out.emit(f"{error} = {value}")
    with out.block(f"if {result} is {neutral} and {error} is not None:"):
        out.emit(f"{result} = {error}" if absorb else f"_fail({error}, {'_' + node.op + '_'!r})")
    # With `absorb` the result may hold an error, so it is not known to be a bool.
    return Code(result, None if absorb else "bool", simple=True)


def _fast_logical(compiler: Compiler, node: ast.Logical) -> Code | None:
    """`a and b …` when every operand is a bool expression (see `Compiler.fast`). Operands that need statements
    (a lean `exists` loop) are run only when the operands before them have not decided: `if` blocks in order."""
    parts: list[tuple[list[str], Code]] = []
    for operand in node.operands:
        with compiler.out.capture() as lines:
            code = compiler.compile(operand)
        if code.kind != "bool":
            return None
        parts.append((lines, code))
    compiler.shortcuts[0] += 1
    joiner = " and " if node.op == "&&" else " or "
    if not any(lines for lines, _ in parts):
        return Code("(" + joiner.join(c.text for _, c in parts) + ")", "bool", total=all(c.total for _, c in parts))
    groups: list[tuple[list[str], list[str]]] = []
    """Runs of operands: the statements of the first, then the expressions of all of them."""
    for lines, code in parts:
        if lines or not groups:
            groups.append((lines, [code.text]))
        else:
            groups[-1][1].append(code.text)
    out = compiler.out
    result = out.fresh("f")
    undecided = f"if {result}:" if node.op == "&&" else f"if not {result}:"
    with ExitStack() as stack:
        for position, (lines, texts) in enumerate(groups):
            if position:
                stack.enter_context(out.block(undecided))
            out.splice(lines)
            out.emit(f"{result} = " + (texts[0] if len(texts) == 1 else "(" + joiner.join(texts) + ")"))
    return Code(result, "bool", simple=True)


def _guarded(compiler: Compiler, lines: list[str], code: Code, *, safe: bool) -> str:
    """Evaluate a captured operand into a fresh name, holding an error (exception) instead of raising.
    `safe` code (a nested logical operator in absorbing mode, or a total expression) needs no `try`."""
    out = compiler.out
    value = out.fresh("v")
    if safe or (code.total and not lines):
        out.splice(lines)
        out.emit(f"{value} = {code.text}")
        return value
    with out.block("try:"):
        out.splice(lines)
        out.emit(f"{value} = {code.text}")
    with out.block("except Exception as _x:"):
        out.emit(f"{value} = _x.with_traceback(None)")
    return value


def conditional(compiler: Compiler, node: ast.Conditional) -> Code:
    out = compiler.out
    condition = compiler.compile(node.condition)
    with out.capture() as then_lines:
        then = compiler.compile(node.then)
    with out.capture() as else_lines:
        otherwise = compiler.compile(node.otherwise)
    kind = then.kind if then.kind == otherwise.kind else None
    if not then_lines and not else_lines:
        if condition.kind == "bool":
            total = condition.total and then.total and otherwise.total
            return Code(f"({then.text} if {condition.text} else {otherwise.text})", kind, total=total)
        value, bind = compiler.reuse(condition)
        text = f"({then.text} if {bind} is True else {otherwise.text} if {value} is False else _fail({value}, '_?_:_'))"
        return Code(text, kind)
    test = compiler.materialize(condition)
    result = out.fresh("c")
    strict = condition.kind != "bool"
    with out.block(f"if {test} is True:" if strict else f"if {test}:"):
        out.splice(then_lines)
        out.emit(f"{result} = {then.text}")
    with out.block(f"elif {test} is False:" if strict else "else:"):
        out.splice(else_lines)
        out.emit(f"{result} = {otherwise.text}")
    if strict:
        with out.block("else:"):
            out.emit(f"_fail({test}, '_?_:_')")
    return Code(result, kind, simple=True)


def comprehension(compiler: Compiler, node: ast.Comprehension) -> Code:
    out = compiler.out
    source = compiler.materialize(compiler.compile(node.range))
    items = out.fresh("rng")
    out.emit(f"{items} = {source} if {source}.__class__ is list else _iterate({source})")
    local = out.fresh("L") + "_" + "".join(c if c.isalnum() else "_" for c in node.variable)
    inner = compiler.nested(node.variable, local)
    loop = f"for {local} in {items}:"
    if node.macro in ("all", "exists"):
        lean = _lean_quantifier(inner, node, loop) if compiler.fast else None
        return lean or _quantifier(inner, node, loop)
    if node.macro == "exists_one":
        count = out.fresh("n")
        out.emit(f"{count} = 0")
        with out.block(loop):
            value = _predicate(inner, node)
            with out.block(f"if {value} is True:"):
                out.emit(f"{count} += 1")
            with out.block(f"elif {value} is not False:"):
                out.emit(f"_fail({value}, 'exists_one')")
        return Code(f"({count} == 1)", "bool")
    result = out.fresh("out")
    out.emit(f"{result} = []")
    with out.block(loop):
        if node.predicate is not None:
            value = _predicate(inner, node)
            with out.block(f"if {value} is True:"):
                element = local if node.transform is None else inner.compile(node.transform).text
                out.emit(f"{result}.append({element})")
            with out.block(f"elif {value} is not False:"):
                out.emit(f"_fail({value}, {node.macro!r})")
        else:
            assert node.transform is not None
            out.emit(f"{result}.append({inner.compile(node.transform).text})")
    return Code(result, "list", simple=True)


def _predicate(inner: Compiler, node: ast.Comprehension) -> str:
    assert node.predicate is not None
    return inner.materialize(inner.compile(node.predicate))


def _lean_quantifier(inner: Compiler, node: ast.Comprehension, loop: str) -> Code | None:
    """The fast form of `all`/`exists` over a bool predicate: a plain loop that stops at the deciding element,
    without the exact form's per-element `try` and error bookkeeping. Exact whenever nothing raises (an element
    whose predicate fails raises here, and the exact form then decides whether another element absorbs it)."""
    assert node.predicate is not None
    out = inner.out
    with out.capture() as lines:
        code = inner.compile(node.predicate)
    if code.kind != "bool":
        return None
    inner.shortcuts[0] += 1
    exists = node.macro == "exists"
    result = out.fresh("q")
    out.emit(f"{result} = {not exists}")
    with out.block(loop):
        out.splice(lines)
        with out.block(f"if {code.text}:" if exists else f"if not {code.text}:"):
            out.emit(f"{result} = {exists}")
            out.emit("break")
    return Code(result, "bool", simple=True)


def _quantifier(inner: Compiler, node: ast.Comprehension, loop: str) -> Code:
    """`all` (decided by a false element) and `exists` (decided by a true one); errors count only if undecided."""
    out = inner.out
    decisive, neutral = ("False", "True") if node.macro == "all" else ("True", "False")
    result, error = out.fresh("r"), out.fresh("e")
    out.emit(f"{result} = {neutral}")
    out.emit(f"{error} = None")
    assert node.predicate is not None
    with out.block(loop):
        with out.capture() as lines:
            code = inner.compile(node.predicate)
        value = out.fresh("v")
        if code.total and not lines:
            out.emit(f"{value} = {code.text}")
        else:
            with out.block("try:"):
                out.splice(lines)
                out.emit(f"{value} = {code.text}")
            with out.block("except Exception as _x:"):
                with out.block(f"if {error} is None:"):
                    out.emit(f"{error} = _x.with_traceback(None)")
                out.emit("continue")
        with out.block(f"if {value} is {decisive}:"):
            out.emit(f"{result} = {decisive}")
            out.emit("break")
        with out.block(f"if {value} is not {neutral} and {error} is None:"):
            out.emit(f"{error} = {value}")
    with out.block(f"if {result} is {neutral} and {error} is not None:"):
        out.emit(f"_fail({error}, {node.macro!r})")
    return Code(result, "bool", simple=True)
