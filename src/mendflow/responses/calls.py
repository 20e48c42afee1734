"""Pinning the workflows a run calls: each `call` step names a workflow playbook by id, found beside the calling
file; the definitions (and those they call) travel in the run's input with their digests, so editing a called
file changes new runs only, like editing the caller.

pin_calls(definition, path) ─> {playbook id: PinnedDefinition}, or PlaybookError at the `playbook` key's
file:line:column (no such workflow, an input the called workflow does not declare, a call cycle).
pinned_from(definition, loaded) ─> the same from workflows already loaded (a finding-triggered run).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from mendflow.errors import PlaybookError
from mendflow.playbooks.base import did_you_mean
from mendflow.responses.expressions import pieces
from mendflow.responses.graph import step_expressions
from mendflow.responses.inputs import property_names
from mendflow.responses.loader import definition_digest, load_response_file
from mendflow.responses.messages import PinnedDefinition
from mendflow.responses.model import ResponsePlaybook, StepKind
from mendflow.rules import ast
from mendflow.rules.cel import ConditionError, parse_expression
from mendflow.userfiles import DepthCheckedLoader, node_at, read_text

_KIND = re.compile(r"^kind:\s*Workflow\s*$", re.MULTILINE)
_ID = re.compile(r"^id:\s*['\"]?([a-z0-9_.]+)['\"]?\s*$", re.MULTILINE)


def pin_calls(definition: ResponsePlaybook, path: Path) -> dict[str, PinnedDefinition]:
    """Every workflow `definition` calls, directly or through the workflows it calls, loaded and pinned."""
    found = _workflows_beside(path)
    pinned: dict[str, PinnedDefinition] = {}
    pending: list[tuple[ResponsePlaybook, Path, tuple[str, ...]]] = [(definition, path, (definition.id,))]
    while pending:
        caller, caller_path, chain = pending.pop()
        for index, callee in _calls(caller):
            where = ("steps", index, "playbook")
            if callee in chain:
                cycle = " → ".join((*chain[chain.index(callee) :], callee))
                raise _problem(caller_path, where, f"workflows call each other: {cycle}")
            callee_path = found.get(callee)
            if callee_path is None:
                hint = did_you_mean(callee, found)
                message = f"no workflow playbook {callee!r} beside this file{hint} (looked in {path.parent})"
                raise _problem(caller_path, where, message)
            child = load_response_file(callee_path)
            declared = property_names(child.inputs)
            for name in caller.steps[index].inputs or {}:
                if declared is not None and name not in declared:
                    message = f"{callee} has no input {name!r}{did_you_mean(name, declared)}"
                    raise _problem(caller_path, ("steps", index, "inputs", name), message)
            for read_at, message in _unknown_child_steps(caller, caller.steps[index].id, child):
                raise _problem(caller_path, read_at, message)
            if callee not in pinned:
                pinned[callee] = PinnedDefinition(definition=child, digest=definition_digest(child))
            pending.append((child, callee_path, (*chain, callee)))
    return pinned


def pinned_from(definition: ResponsePlaybook, loaded: Mapping[str, ResponsePlaybook]) -> dict[str, PinnedDefinition]:
    """Every workflow `definition` calls, directly or not, that is among `loaded` (a workflow not loaded is left
    out: its call step fails, saying it was not pinned)."""
    pinned: dict[str, PinnedDefinition] = {}
    pending = [definition]
    while pending:
        for _, callee in _calls(pending.pop()):
            child = loaded.get(callee)
            if child is not None and callee not in pinned and callee != definition.id:
                pinned[callee] = PinnedDefinition(definition=child, digest=definition_digest(child))
                pending.append(child)
    return pinned


def _unknown_child_steps(
    caller: ResponsePlaybook, call_id: str, child: ResponsePlaybook
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Where the caller reads `steps.<call_id>.output.steps.<X>` for a step X the called workflow does not have."""
    known = [step.id for step in child.steps]
    for index, step in enumerate(caller.steps):
        for path, text, template in step_expressions(step):
            for piece in pieces(text, template=template):
                try:
                    tree = parse_expression(piece.source)
                except ConditionError:
                    continue  # the loader reports it
                for name in _child_steps_read(tree, call_id):
                    if name not in known:
                        hint, has = did_you_mean(name, known), ", ".join(known)
                        message = f"{child.id} (called by {call_id!r}) has no step {name!r}{hint} (it has: {has})"
                        yield ("steps", index, *path), message


def _child_steps_read(tree: ast.Expr, call_id: str) -> Iterator[str]:
    """X of each `steps.<call_id>.output.steps.X` in the expression."""
    chain: list[str] = []
    node: ast.Expr = tree
    while isinstance(node, ast.Select):
        chain.append(node.field)
        node = node.operand
    if (
        isinstance(node, ast.Ident)
        and len(chain) >= 4
        and [node.name, *reversed(chain[-3:])] == ["steps", call_id, "output", "steps"]
    ):
        yield chain[-4]
        return
    for child in ast.children(tree):
        yield from _child_steps_read(child, call_id)


def _calls(definition: ResponsePlaybook) -> Iterator[tuple[int, str]]:
    for index, step in enumerate(definition.steps):
        if step.kind is StepKind.call and step.playbook:
            yield index, step.playbook


def _workflows_beside(path: Path) -> dict[str, Path]:
    """Workflow playbook id → file, for the YAML files in `path`'s folder (test-case files aside)."""
    found: dict[str, Path] = {}
    for candidate in sorted((*path.parent.glob("*.yaml"), *path.parent.glob("*.yml"))):
        if candidate.name.endswith((".tests.yaml", ".tests.yml")):
            continue
        text = candidate.read_text(errors="replace")
        named = _ID.search(text)
        if _KIND.search(text) and named:
            found.setdefault(named.group(1), candidate)
    return found


def _problem(path: Path, loc: tuple[str | int, ...], message: str) -> PlaybookError:
    """`message` at the file:line:column of `loc` in `path` (its value, or the nearest key that exists)."""
    loader = DepthCheckedLoader(read_text(path, what="workflow playbook"))
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    dotted = ".".join(str(part) for part in loc)
    if root is None:
        return PlaybookError(f"{dotted}: {message}", path=str(path))
    mark = node_at(root, loc, at_key=False).start_mark
    return PlaybookError(f"{dotted}: {message}", path=str(path), line=mark.line + 1, column=mark.column + 1)
