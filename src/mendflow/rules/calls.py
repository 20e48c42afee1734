"""Function calls: standard functions by name, with inline fast paths for the common string and time ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mendflow.rules import ast
from mendflow.rules.codegen import Code
from mendflow.rules.functions import GLOBALS, METHODS
from mendflow.rules.regex import compile_pattern
from mendflow.rules.values import CelError

if TYPE_CHECKING:
    from mendflow.rules.compiler import Compiler

_RESULT_KIND = {
    "int": "int",
    "uint": "uint",
    "double": "double",
    "string": "string",
    "bool": "bool",
    "bytes": "bytes",
    "timestamp": "timestamp",
    "duration": "duration",
    "type": "type",
    "size": "int",
    "matches": "bool",
    "contains": "bool",
    "startsWith": "bool",
    "endsWith": "bool",
    "lowerAscii": "string",
    "upperAscii": "string",
}
_STRING_TESTS = {"startsWith": "{t}.startswith({a})", "endsWith": "{t}.endswith({a})", "contains": "{a} in {t}"}


def function_name(name: str, method: bool) -> str:
    """The name the generated module binds a standard function's implementation to."""
    return f"_m_{name}" if method else f"_f_{name}"


def known(name: str, method: bool, arity: int) -> bool:
    table = METHODS if method else GLOBALS
    return name in table and arity in table[name][1]


def call(compiler: Compiler, node: ast.Call) -> Code:
    name = node.function
    method = node.target is not None
    target = compiler.compile(node.target) if node.target is not None else None
    args = [compiler.compile(arg) for arg in node.args]
    if not known(name, method, len(args)):
        return Code(f"_unknown_function({name!r})")
    kind = _RESULT_KIND.get(name, "int" if name.startswith("get") else None)
    if method:
        assert target is not None
        special = _method(compiler, node, target, args)
        if special is not None:
            return special
        texts = [target.text, *(arg.text for arg in args)]
    else:
        special = _global(compiler, node, args)
        if special is not None:
            return special
        texts = [arg.text for arg in args]
    return Code(f"{function_name(name, method)}({', '.join(texts)})", kind)


def _method(compiler: Compiler, node: ast.Call, target: Code, args: list[Code]) -> Code | None:
    name = node.function
    literal = node.args[0].value if node.args and isinstance(node.args[0], ast.Literal) else None
    if name in _STRING_TESTS and literal.__class__ is str:
        value, bind = compiler.reuse(target)
        fast = _STRING_TESTS[name].format(t=value, a=args[0].text)
        return Code(
            f"({fast} if {bind}.__class__ is str else {function_name(name, True)}({value}, {args[0].text}))", "bool"
        )
    if name == "matches" and literal.__class__ is str:
        return _matches(compiler, target, args[0], str(literal))
    if name == "size" and target.kind in ("string", "bytes", "list", "map"):
        return Code(f"len({target.text})", "int", total=target.total)
    if name == "size" and target.kind is None:
        value, bind = compiler.reuse(target)
        return Code(f"(len({value}) if {bind}.__class__ is list else _m_size({value}))", "int")
    return None


def _global(compiler: Compiler, node: ast.Call, args: list[Code]) -> Code | None:
    name = node.function
    if name == "timestamp":
        if args[0].kind == "string":
            return Code(f"_timestamp_of({args[0].text})", "timestamp")
        value, bind = compiler.reuse(args[0])
        return Code(f"(_timestamp_of({value}) if {bind}.__class__ is str else _f_timestamp({value}))", "timestamp")
    if name == "matches" and len(node.args) == 2 and isinstance(node.args[1], ast.Literal):
        pattern = node.args[1].value
        if pattern.__class__ is str:
            return _matches(compiler, args[0], args[1], pattern)
    if name == "size" and args[0].kind in ("string", "bytes", "list", "map"):
        return Code(f"len({args[0].text})", "int", total=args[0].total)
    if name == "size" and args[0].kind is None:  # most often a JSON list: no call for it
        value, bind = compiler.reuse(args[0])
        return Code(f"(len({value}) if {bind}.__class__ is list else _f_size({value}))", "int")
    if name == "dyn":
        return Code(args[0].text, None, simple=args[0].simple, total=args[0].total)
    return None


def _matches(compiler: Compiler, text: Code, pattern_code: Code, pattern: str) -> Code:
    try:
        compiled = compile_pattern(pattern)
    except CelError:
        return Code(f"_f_matches({text.text}, {pattern_code.text})", "bool")  # fails at run time, as CEL says
    constant = compiler.constants.add(compiled, "re")
    value, bind = compiler.reuse(text)
    return Code(
        f"({constant}.search({value}) if {bind}.__class__ is str else _f_matches({value}, {pattern_code.text}))", "bool"
    )
