"""What guards in a condition establish about fields: not null, present (so later operands see narrower shapes).

Only the guards a reader uses: `x != null`, `!(x == null)`, `has(x)`, `x == "literal"`, through `&&`, `||`, `!`
and the branches of `? :`, on paths written the same way (`resource.config.url`, `r.enforcement`).
"""

from __future__ import annotations

from dataclasses import dataclass

from mendflow.rules import ast


@dataclass(frozen=True)
class Facts:
    """What guards established so far: paths known not null, paths known present."""

    not_null: frozenset[str] = frozenset()
    present: frozenset[str] = frozenset()

    def __or__(self, other: Facts) -> Facts:
        return Facts(self.not_null | other.not_null, self.present | other.present)


def guards(node: ast.Expr, holds: bool) -> Facts:
    """What is known about fields when `node` evaluated to `holds` (only the guard shapes a reader uses)."""
    if isinstance(node, ast.Unary) and node.op == "!":
        return guards(node.operand, not holds)
    if isinstance(node, ast.Logical) and (node.op == "&&") == holds:
        facts = Facts()
        for operand in node.operands:
            facts = facts | guards(operand, holds)
        return facts
    if isinstance(node, ast.Has) and holds:
        return Facts(present=frozenset({path_of(node.target)}) - {""})
    if isinstance(node, ast.Binary) and node.op in ("==", "!="):
        field, other = (node.left, node.right) if isinstance(node.right, ast.Literal) else (node.right, node.left)
        if isinstance(other, ast.Literal) and other.value is None:
            not_null = (node.op == "!=") == holds
            path = path_of(field)
            if not_null and path:
                return Facts(not_null=frozenset({path}), present=frozenset({path}))
        elif isinstance(other, ast.Literal) and node.op == "==" and holds:
            path = path_of(field)  # equal to a non-null literal: neither null nor absent
            return Facts(not_null=frozenset({path}) - {""}, present=frozenset({path}) - {""})
    return Facts()


def path_of(node: ast.Expr) -> str:
    if isinstance(node, ast.Ident):
        return node.name
    if isinstance(node, ast.Select):
        base = path_of(node.operand)
        return f"{base}.{node.field}" if base else ""
    if isinstance(node, ast.Index) and isinstance(node.index, ast.Literal) and isinstance(node.index.value, str):
        base = path_of(node.operand)
        return f"{base}.{node.index.value}" if base else ""
    return ""
