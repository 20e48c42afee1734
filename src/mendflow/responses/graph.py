"""The steps of a response workflow taken together: their order, and the checks no single step can make.

Ordering: a step needs the steps in its `needs`, or else the step listed just before it; a step named in an
`if` step's `then` / `else` (or a `switch` step's `cases` / `default`) without `needs` needs only that step.
`needs` are joins (all must finish), so the steps before a step on every path are exactly its ancestors — which
is what the approval rule checks: an irreversible action must have an `approve` step among its ancestors. A step
is on one branch at most.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import ValidationError

from mendflow.actions import ACTIONS
from mendflow.playbooks.base import did_you_mean
from mendflow.responses.expression_types import input_kinds, type_errors
from mendflow.responses.expressions import VARIABLES, Piece, output_fields, parse_checked, pieces, references
from mendflow.responses.model import ResponsePlaybook, Step, StepKind
from mendflow.rules.cel import ConditionError, parse_expression

OUTPUTS: dict[StepKind, frozenset[str] | None] = {
    StepKind.action: frozenset({"resource", "before", "after", "outcome", "detail"}),
    StepKind.read: None,  # the vendor's object, as its API returns it
    StepKind.approve: frozenset({"approved", "approvers", "reason"}),
    StepKind.notify: frozenset({"delivered", "channel", "text"}),
    StepKind.wait: frozenset({"timed_out", "answer", "by"}),
    StepKind.snapshot: frozenset({"digest", "count"}),
    StepKind.if_: frozenset({"value"}),
    StepKind.ticket: frozenset({"key", "url"}),
    StepKind.switch: frozenset({"value", "case"}),
    StepKind.call: frozenset({"run_id", "state", "steps"}),
    StepKind.for_each: frozenset({"items", "done", "failed", "skipped", "stopped"}),
}
"""The fields of `steps.<id>.output` per kind (None: any field, not known before the run)."""

STEP_FIELDS = ("status", "output")
GUARDS = ("when", "condition", "until")
"""The keys whose expression must be true or false."""


@dataclass(frozen=True)
class Around:
    """What a `for_each` body sees of the workflow around it: its steps' kinds, those that finish before the
    `for_each`, and the item variables in scope."""

    kinds: dict[str, StepKind]
    before: frozenset[str]
    names: tuple[str, ...]


NOT_IN_BODY = {
    StepKind.approve: "approve once, before the for_each",
    StepKind.for_each: "a for_each inside a for_each is not supported; give the inner list its own step",
    StepKind.call: "call the other workflow from a step of its own",
}


@dataclass(frozen=True)
class Problem:
    """One refusal: where (the key path in the file), what, and the character inside the value if known."""

    loc: tuple[str | int, ...]
    message: str
    offset: int | None = None


def branches(step: Step) -> Iterator[tuple[tuple[str, ...], str, tuple[str, ...]]]:
    """(key path, label, member step ids) of each branch of an `if` or `switch` step; the label is what the
    step's choice is compared with: `then` / `else` for an `if`, the case's value or `default` for a `switch`."""
    yield ("then",), "then", step.then
    yield ("else",), "else", step.else_
    for value, members in (step.cases or {}).items():
        yield ("cases", value), value, members
    yield ("default",), "default", step.default


def dependencies(playbook: ResponsePlaybook) -> dict[str, tuple[str, ...]]:
    """Step id → the steps it needs, in the order written."""
    branch_of = {member: step.id for step in playbook.steps for _, _, members in branches(step) for member in members}
    out: dict[str, tuple[str, ...]] = {}
    previous: str | None = None
    for step in playbook.steps:
        if step.needs is not None:
            out[step.id] = step.needs
        elif step.id in branch_of:
            out[step.id] = (branch_of[step.id],)
        else:
            out[step.id] = (previous,) if previous is not None else ()
        if step.id in branch_of and branch_of[step.id] not in out[step.id]:
            out[step.id] = (*out[step.id], branch_of[step.id])
        previous = step.id
    return out


def run_order(playbook: ResponsePlaybook) -> list[str]:
    """Every step once, each after the steps it needs, otherwise in list order (a valid playbook has no cycle)."""
    deps = dependencies(playbook)
    placed: list[str] = []
    done: set[str] = set()
    waiting = [step.id for step in playbook.steps]
    while waiting:
        ready = next((s for s in waiting if all(d in done for d in deps[s])), None)
        if ready is None:
            raise ValueError(f"steps {', '.join(waiting)} wait on each other (a cycle)")
        waiting.remove(ready)
        placed.append(ready)
        done.add(ready)
    return placed


def ancestors(deps: dict[str, tuple[str, ...]], step_id: str) -> set[str]:
    """Every step that finishes before `step_id` on every path."""
    seen: set[str] = set()
    stack = list(deps.get(step_id, ()))
    while stack:
        current = stack.pop()
        if current in seen or current not in deps:
            continue
        seen.add(current)
        stack.extend(deps[current])
    return seen


def problems(
    playbook: ResponsePlaybook, input_names: frozenset[str] | None, around: Around | None = None
) -> list[Problem]:
    """Everything wrong between the steps (`input_names`: the inputs' properties, None when any name goes;
    `around`: for a `for_each` body, the workflow around it)."""
    found: list[Problem] = []
    index = {step.id: i for i, step in enumerate(playbook.steps)}
    placed: dict[str, str] = {}
    """Step id → the branch that holds it (a step on two branches would run on neither or both)."""
    for i, step in enumerate(playbook.steps):
        if index[step.id] != i:
            first = index[step.id] + 1
            found.append(Problem(("steps", i, "id"), f"duplicate step id {step.id!r} (first: step {first})"))
    for i, step in enumerate(playbook.steps):
        for j, need in enumerate(step.needs or ()):
            if need not in index:
                message = f"unknown step {need!r}{did_you_mean(need, index)}"
                found.append(Problem(("steps", i, "needs", j), message))
            elif need == step.id:
                found.append(Problem(("steps", i, "needs", j), f"step {step.id!r} cannot need itself"))
        for path, label, members in branches(step):
            for j, member in enumerate(members):
                loc: tuple[str | int, ...] = ("steps", i, *path, j)
                if member not in index:
                    found.append(Problem(loc, f"unknown step {member!r}{did_you_mean(member, index)}"))
                elif member == step.id:
                    found.append(Problem(loc, f"step {step.id!r} cannot be its own branch"))
                elif member in placed:
                    message = f"step {member!r} is already on a branch ({placed[member]}): a step runs on one branch"
                    found.append(Problem(loc, message))
                else:
                    placed[member] = (
                        f"{label!r} case of {step.id!r}" if path[0] == "cases" else f"{label} of {step.id!r}"
                    )
    if found:
        return found  # the order below needs known, unique ids
    deps = dependencies(playbook)
    cycle = _cycle(deps)
    if cycle:
        where = index[cycle[0]]
        found.append(Problem(("steps", where, "needs"), f"steps {' → '.join(cycle)} form a cycle"))
        return found
    kinds = {step.id: step.kind for step in playbook.steps}
    names: tuple[str, ...] = ()
    if around is not None:
        kinds, names = around.kinds | kinds, around.names
    for i, step in enumerate(playbook.steps):
        before = ancestors(deps, step.id) | (around.before if around is not None else set())
        for path, text, template in _expressions(step):
            for piece in pieces(text, template=template):
                loc = ("steps", i, *path)
                found.extend(_check_expression(step, loc, piece, before, kinds, input_names, names))
                want = None if template else "bool" if path[0] in GUARDS else "list" if path[0] == "items" else None
                found.extend(_check_kinds(loc, piece, kinds, playbook, want=want))
        if step.kind is StepKind.action and step.action is not None:
            found.extend(_check_action(i, step, before, kinds))
        if step.kind is StepKind.for_each:
            found.extend(_check_body(playbook, i, step, Around(kinds, frozenset(before), names), input_names))
    return found


def steps_read(steps: tuple[Step, ...]) -> set[str]:
    """The step ids these steps' expressions read as `steps.<id>` (bodies included; unparsable ones skipped)."""
    found: set[str] = set()
    for step in steps:
        for _, text, template in _expressions(step):
            for piece in pieces(text, template=template):
                try:
                    tree = parse_expression(piece.source)  # any variable: a body's item too
                except ConditionError:
                    continue
                found.update(name for root, name, _, _ in references(tree) if root == "steps")
        found |= steps_read(step.steps)
    return found


def _check_body(
    playbook: ResponsePlaybook, i: int, step: Step, around: Around, input_names: frozenset[str] | None
) -> Iterator[Problem]:
    """A `for_each` body: a workflow of its own, that also reads the steps before the `for_each` and the item."""
    assert step.as_ is not None
    wrong = False
    if step.as_ in (*VARIABLES, *around.names):
        wrong = True
        yield Problem(("steps", i, "as"), f"{step.as_!r} is already a variable here: name the item otherwise")
    for j, member in enumerate(step.steps):
        if member.kind in NOT_IN_BODY:
            wrong = True
            message = f"a for_each body cannot hold a {member.kind.value} step: {NOT_IN_BODY[member.kind]}"
            yield Problem(("steps", i, "steps", j, "kind"), message)
        if member.id in around.kinds:
            wrong = True
            yield Problem(("steps", i, "steps", j, "id"), f"{member.id!r} is already a step of the workflow")
    if wrong:
        return
    body = playbook.model_copy(update={"steps": step.steps})
    inner = Around(around.kinds, around.before, (*around.names, step.as_))
    for problem in problems(body, input_names, inner):
        yield Problem(("steps", i, *problem.loc), problem.message, problem.offset)


def step_expressions(step: Step) -> Iterator[tuple[tuple[str, ...], str, bool]]:
    """(key path inside the step, text, is a template) for every field of `step` holding CEL (its body aside)."""
    return _expressions(step)


def _expressions(step: Step) -> Iterator[tuple[tuple[str, ...], str, bool]]:
    """(key path inside the step, text, is a template) for every field holding CEL."""
    for key in ("when", "condition", "until"):
        value = getattr(step, key)
        if value is not None:
            yield (key,), value, False
    for key in ("target", "message", "channel"):
        value = getattr(step, key)
        if value is not None:
            yield (key,), value, True
    for name, source in (step.of or {}).items():
        yield ("of", name), source, False
    if step.items is not None:
        yield ("items",), step.items, False
    if step.answer is not None:
        yield ("answer", "from"), step.answer.from_, False
        yield ("answer", "question"), step.answer.question, True
    if step.on_ is not None:
        yield ("on",), step.on_, False
    for name, source in (step.inputs or {}).items():
        yield ("inputs", name), source, False
    if step.jira is not None:
        for key in ("summary", "description", "key", "comment"):
            value = getattr(step.jira, key)
            if value:
                yield ("jira", key), value, True


def _check_expression(
    step: Step,
    loc: tuple[str | int, ...],
    piece: Piece,
    before: set[str],
    kinds: dict[str, StepKind],
    input_names: frozenset[str] | None,
    names: tuple[str, ...] = (),
) -> Iterator[Problem]:
    try:
        tree = parse_checked(piece.source, names)
    except ConditionError as err:
        yield Problem(loc, err.message, piece.start + err.offset)
        return
    for root, name, field, offset in references(tree):
        at = piece.start + offset
        if root == "inputs":
            if input_names is not None and name not in input_names:
                yield Problem(loc, f"unknown input {name!r}{did_you_mean(name, input_names)}", at)
            continue
        if name not in kinds:
            yield Problem(loc, f"unknown step {name!r}{did_you_mean(name, kinds)}", at)
        elif name not in before:
            yield Problem(loc, f"step {name!r} does not finish before {step.id!r}: add it to needs", at)
        elif field is not None and field not in STEP_FIELDS:
            yield Problem(loc, f"steps.{name} has no {field!r} (it has: status, output)", at + len(name) + 1)
    for name, field, offset in output_fields(tree):
        known = OUTPUTS.get(kinds.get(name, StepKind.read))
        if known is not None and field not in known:
            hint = did_you_mean(field, known)
            has = ", ".join(sorted(known))
            message = f"the output of {kinds[name].value} step {name!r} has no {field!r}{hint} (it has: {has})"
            yield Problem(loc, message, piece.start + offset)


def _check_kinds(
    loc: tuple[str | int, ...],
    piece: Piece,
    kinds: dict[str, StepKind],
    playbook: ResponsePlaybook,
    *,
    want: str | None,
) -> Iterator[Problem]:
    """Type errors CEL would hit when the step runs (or a comparison that is the same on every run)."""
    try:
        tree = parse_expression(piece.source)
    except ConditionError:
        return  # reported by _check_expression
    step_kinds = {sid: kind.value for sid, kind in kinds.items()}
    for problem in type_errors(tree, input_kinds(playbook.inputs), step_kinds, want=want):
        yield Problem(loc, problem.message, piece.start + problem.offset)


def _check_action(i: int, step: Step, before: set[str], kinds: dict[str, StepKind]) -> Iterator[Problem]:
    assert step.action is not None
    spec = ACTIONS.get(step.action)
    if spec is None:
        yield Problem(("steps", i, "action"), f"unknown action {step.action!r}{did_you_mean(step.action, ACTIONS)}")
        return
    try:
        spec.params.model_validate(step.with_ or {})
    except ValidationError as err:
        for item in err.errors():
            where = ".".join(str(part) for part in item["loc"])
            yield Problem(("steps", i, "with", *item["loc"]), f"{spec.name} parameter {where}: {item['msg']}")
    if not spec.reversible and not any(kinds[a] is StepKind.approve for a in before):
        message = (
            f"{spec.name} cannot be undone: an approve step must come before {step.id!r} on every path "
            "(add one to its needs)"
        )
        yield Problem(("steps", i, "action"), message)


def _cycle(deps: dict[str, tuple[str, ...]]) -> list[str]:
    """One cycle as a closed walk (`a`, `b`, `a`), or empty."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in deps.get(node, ()):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for node in deps:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []
