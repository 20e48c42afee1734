"""Rule-driven collection: does any loaded rule still need a resource's sub-collection?

A collector reads a resource's own object first; its per-resource sub-collections (Okta user factors, a
repository's branch protection) cost one request each, so it asks `Demand.needs` before reading one. The answer
comes from the loaded rules evaluated *three-valued*, with the not-yet-collected fields unknown: a rule that is
already false whatever those fields hold does not need them.

How: each rule that reads an unknown field is rewritten once into an upper bound. Every maximal sub-expression
that reads an unknown field and is not `&&`, `||`, `!` or `?:` becomes `true` (under an even number of `!`) or
`false` (under an odd number). CEL's `&&`, `||` and `?:` are monotone and `!` antitone in the order
false < error-or-non-bool < true, so when the bound evaluates to false, the rule is false for every value the
sub-collection could have — skipping it changes no finding and no rule error. Anything else (true, an error, a
rule the batch compiler refuses) means "read it". `now` counts as unknown too, so the answer does not depend on
when the evaluation's as-of time is chosen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from mendflow.rules import ast
from mendflow.rules.cel import timestamp
from mendflow.rules.engine import RuleSet
from mendflow.rules.evidence import FieldPath
from mendflow.rules.program import Runner, batch_binder
from mendflow.rules.values import CelError

_ROOTS = frozenset({"resource", "related", "now"})
_NOW: FieldPath = ("now",)
_ANY_TIME = timestamp(datetime(2000, 1, 1, tzinfo=UTC))
"""The bound never reads `now` (it is unknown), but the generated function takes one."""


class Demand:
    """Answers "could some loaded rule still flag this resource if I read that sub-collection?"."""

    def __init__(self, rules: RuleSet) -> None:
        self._rules = rules
        self._plans: dict[tuple[str, tuple[FieldPath, ...]], _Plan] = {}

    def wants(self, resource_type: str) -> bool:
        """Whether any loaded rule applies to `resource_type` at all. For a child collection (a repository's
        hooks) this is the only safe question: its resources are unknown until listed, and a finding about one
        that was not listed would resolve as deleted."""
        return bool(self._rules.rules_for(resource_type))

    def needs(
        self,
        resource_type: str,
        unknown: Sequence[FieldPath],
        *,
        data: Any = None,
        related: Mapping[str, Any] | None = None,
    ) -> bool:
        """Whether any rule of `resource_type` that reads one of the `unknown` paths (`("related", "factors")`,
        or `("resource",)` for a resource not read yet) could be true or undecided, given what is known: `data`
        and `related` as collected so far (unknown paths are never read from them)."""
        key = (resource_type, tuple(unknown))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _plan(self._rules, resource_type, key[1])
        if plan.always is not None:
            return plan.always
        assert plan.run is not None
        decisions = plan.run({} if data is None else data, dict(related or {}))
        return any(decision is not False for decision in decisions)


class _Plan:
    __slots__ = ("always", "run")

    def __init__(self, *, always: bool | None = None, run: Runner | None = None) -> None:
        self.always = always
        """Known without looking at the resource: False (no rule reads the unknowns) or True (some bound is true)."""
        self.run = run


def _plan(rules: RuleSet, resource_type: str, unknown: tuple[FieldPath, ...]) -> _Plan:
    with_now = (*unknown, _NOW)
    bounds = [
        upper_bound(rule.condition.tree, with_now)
        for rule in rules.rules_for(resource_type)
        if reads_any(rule.condition.tree, unknown)  # the others decide the same whatever the sub-collection holds
    ]
    if not bounds:
        return _Plan(always=False)
    if any(isinstance(b, ast.Literal) and b.value is True for b in bounds):
        return _Plan(always=True)
    try:
        return _Plan(run=batch_binder(bounds)(_ANY_TIME))
    except CelError:
        return _Plan(always=True)  # cannot be compiled as a batch: read everything, as a full collection would


def upper_bound(node: ast.Expr, unknown: Sequence[FieldPath], *, positive: bool = True) -> ast.Expr:
    """`node` with every maximal non-logical sub-expression that reads an `unknown` path replaced by the literal
    that makes the whole as true as possible (see the module docstring)."""
    if not reads_any(node, unknown):
        return node
    if isinstance(node, ast.Logical):
        operands = tuple(upper_bound(o, unknown, positive=positive) for o in node.operands)
        return ast.Logical(node.op, operands, node.offset)
    if isinstance(node, ast.Unary) and node.op == "!":
        return ast.Unary("!", upper_bound(node.operand, unknown, positive=not positive), node.offset)
    if isinstance(node, ast.Conditional) and not reads_any(node.condition, unknown):
        return ast.Conditional(
            node.condition,
            upper_bound(node.then, unknown, positive=positive),
            upper_bound(node.otherwise, unknown, positive=positive),
            node.offset,
        )
    return ast.Literal(positive, node.offset)


def reads_any(node: ast.Expr, unknown: Sequence[FieldPath]) -> bool:
    """Whether `node` may read a value at, above or below one of the `unknown` paths (conservative: a loop
    variable named like a root counts as the root)."""
    chain = _chain(node)
    if chain is not None:
        return any(chain[: len(path)] == path or path[: len(chain)] == chain for path in unknown)
    return any(reads_any(child, unknown) for child in ast.children(node))


def _chain(node: ast.Expr) -> FieldPath | None:
    """The path a pure access chain rooted at `resource`, `related` or `now` denotes; None otherwise."""
    if isinstance(node, ast.Ident):
        return (node.name,) if node.name in _ROOTS else None
    if isinstance(node, ast.Select):
        base = _chain(node.operand)
        return (*base, node.field) if base is not None else None
    if isinstance(node, ast.Index):
        base = _chain(node.operand)
        key = node.index.value if isinstance(node.index, ast.Literal) else None
        if base is not None and key.__class__ in (str, int):
            return (*base, key)
        return None  # a computed index: its operand and the index are walked on their own
    return None
