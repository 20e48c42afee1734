"""Load playbook YAML files, both kinds, reporting every problem as `file:line:column: message`.

A file with `kind: Workflow` is a response workflow (`mendflow.responses`); a file without `kind` is a detection
playbook. Both go through the same reading and error location (`playbooks.located`), their ids share one
namespace, and a broken file never stops the others: `load_playbooks` returns what loaded and one error per problem.

Test cases beside a playbook (`NAME.tests.yaml` next to `NAME.yaml`) are loaded and checked with it and added to
its `tests`; they are never loaded as playbooks themselves.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from yaml.nodes import MappingNode

from mendflow.errors import PlaybookError
from mendflow.playbooks.base import did_you_mean
from mendflow.playbooks.located import (
    Document,
    Issue,
    Issues,
    details,
    first_error,
    locate,
    positioned,
    read_document,
    validate,
)
from mendflow.playbooks.model import CHECK_FIELDS, Playbook, PlaybookTests
from mendflow.playbooks.model import case_problems as detection_case_problems
from mendflow.responses.calls import pin_calls
from mendflow.responses.cases import WorkflowCase, WorkflowTests, case_problems, with_tenant_paths
from mendflow.responses.loader import check_response
from mendflow.responses.model import KIND, ResponsePlaybook, StepKind
from mendflow.userfiles import node_at

PLAYBOOK_SUFFIXES = (".yaml", ".yml")
TESTS_SUFFIXES = (".tests.yaml", ".tests.yml")
"""Files of test cases beside a playbook: `repo_hook_insecure_ssl.tests.yaml`."""


def is_tests_file(path: Path) -> bool:
    """True for a `NAME.tests.yaml` file (test cases, not a playbook)."""
    return path.name.endswith(TESTS_SUFFIXES)


def tests_file_for(path: Path) -> Path | None:
    """The test-case file beside a playbook, if there is one."""
    stem = path.name.removesuffix(path.suffix)
    for suffix in TESTS_SUFFIXES:
        candidate = path.with_name(stem + suffix)
        if candidate.is_file():
            return candidate
    return None


@dataclass
class LoadResult:
    """The playbooks that loaded (detection and response workflows), and every problem in the ones that did not."""

    playbooks: list[Playbook] = field(default_factory=list)
    workflows: list[ResponsePlaybook] = field(default_factory=list)
    """`kind: Workflow` files."""
    workflow_cases: dict[str, tuple[WorkflowCase, ...]] = field(default_factory=dict)
    """Workflow id → the test cases beside its file (a workflow's definition, and so its digest, excludes them)."""
    errors: list[PlaybookError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def bundled_playbook_dir() -> Path:
    """The rule packs shipped with mendflow (the top-level `playbooks/` folder, packaged as mendflow.rulepacks)."""
    return Path(str(importlib.resources.files("mendflow.rulepacks")))


def load_playbooks(paths: Iterable[Path]) -> LoadResult:
    """Load files and folders (folders: every *.yaml / *.yml below them, in sorted order), of both kinds.

    Ids must be unique across everything loaded, whatever the kind: a second playbook with an id already seen is
    an error that names the first file, and only the first is kept.
    """
    result = LoadResult()
    first_seen: dict[str, Path] = {}
    for path in _expand(paths, result.errors):
        try:
            loaded, root, cases = _load(path)
        except Issues as problems:
            result.errors.extend(issue.error() for issue in problems.issues)
            continue
        earlier = first_seen.get(loaded.id)
        if earlier is not None:
            node = node_at(root, ("id",), at_key=False)
            message = f"duplicate playbook id {loaded.id!r}: already defined in {earlier}"
            result.errors.append(positioned(path, node, message).error())
            continue
        if isinstance(loaded, ResponsePlaybook) and any(step.kind is StepKind.call for step in loaded.steps):
            try:
                pin_calls(loaded, path)  # as `mendflow run` will: the called workflows beside it, their inputs
            except PlaybookError as err:
                result.errors.append(err)
                continue
        first_seen[loaded.id] = path
        if isinstance(loaded, ResponsePlaybook):
            result.workflows.append(loaded)
            result.workflow_cases[loaded.id] = cases
        else:
            result.playbooks.append(loaded)
    # A broken called workflow is reported by its caller and by itself when both were given: once is enough.
    result.errors = list({str(error): error for error in result.errors}.values())
    return result


def load_playbook_file(path: Path) -> Playbook:
    """Load one detection playbook; raises PlaybookError for its first problem (the message counts the others)."""
    try:
        loaded = _load(path)[0]
    except Issues as problems:
        raise first_error(problems.issues) from None
    if isinstance(loaded, ResponsePlaybook):
        raise PlaybookError("a response workflow (kind: Workflow), not a detection playbook", path=str(path))
    return loaded


def load_any_file(path: Path) -> Playbook | ResponsePlaybook:
    """Load one playbook of either kind; raises PlaybookError for its first problem."""
    try:
        return _load(path)[0]
    except Issues as problems:
        raise first_error(problems.issues) from None


def _expand(paths: Iterable[Path], errors: list[PlaybookError]) -> Iterator[Path]:
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.suffix in PLAYBOOK_SUFFIXES and p.is_file() and not is_tests_file(p)
            )
        elif is_tests_file(path):
            playbook = path.name.removesuffix(".yml").removesuffix(".yaml").removesuffix(".tests")
            message = f"this file holds test cases, not a playbook: give its playbook ({playbook}.yaml) instead"
            errors.append(PlaybookError(message, path=str(path)))
            continue
        elif path.is_file():
            found = [path]
        else:
            errors.append(PlaybookError("no such file or folder", path=str(path)))
            continue
        for candidate in found:
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                yield candidate


def _load(path: Path) -> tuple[Playbook | ResponsePlaybook, MappingNode, tuple[WorkflowCase, ...]]:
    """Parse and validate one file (either kind) and the test cases beside it; raises Issues with every error of
    both files at once (the playbook's in file order, then the test file's), not one stage or one file at a time."""
    issues: list[Issue] = []
    document = read_document(path, issues)
    if document is None:  # unreadable: still report the problems of the test cases beside it
        _detection(path, None, issues)
    assert document is not None
    kind = document.data.get("kind")
    if kind is not None:
        if kind != KIND:
            node = node_at(document.root, ("kind",), at_key=False)
            hint = did_you_mean(str(kind), [KIND])
            message = (
                f"kind: unknown kind {kind!r}{hint} ({KIND} for a response workflow; no kind for a detection playbook)"
            )
            raise Issues([positioned(path, node, message)])
        workflow = check_response(document, issues)
        cases = _workflow_cases(path, workflow, issues)
        if issues or workflow is None:
            raise Issues(issues)
        return workflow, document.root, cases
    return _detection(path, document, issues), document.root, ()


def _detection(path: Path, document: Document | None, issues: list[Issue]) -> Playbook:
    """The playbook with the test cases beside it, or Issues with every problem of both files."""
    playbook = None if document is None else validate(document, Playbook, issues, context={CHECK_FIELDS: True})
    beside = tests_file_for(path)
    cases = None
    if beside is not None:
        tests_document = read_document(beside, issues, tests=True)
        if tests_document is not None:
            cases = validate(tests_document, PlaybookTests, issues, context={CHECK_FIELDS: True})
            if cases is not None and playbook is not None:
                problems = detection_case_problems(cases.tests, playbook.resource, playbook.respond, playbook.params)
                located = [locate(tests_document, details(item)) for item in problems]
                issues.extend(sorted(located, key=lambda i: (i.line, i.column)))
    if issues or playbook is None:
        raise Issues(issues)
    if cases is None:
        return playbook
    return playbook.model_copy(update={"tests": playbook.tests + cases.tests})


def _workflow_cases(path: Path, workflow: ResponsePlaybook | None, issues: list[Issue]) -> tuple[WorkflowCase, ...]:
    """The test cases beside a workflow, checked against it; their problems are added to `issues`."""
    beside = tests_file_for(path)
    document = None if beside is None else read_document(beside, issues, tests=True)
    if document is None:
        return ()
    tests = validate(document, WorkflowTests, issues, context={})
    if tests is None or workflow is None:
        return ()
    located = [locate(document, details(item)) for item in case_problems(tests.tests, workflow)]
    issues.extend(sorted(located, key=lambda i: (i.line, i.column)))
    return with_tenant_paths(tests, document.path.parent).tests
