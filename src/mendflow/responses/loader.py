"""Load response-workflow files with every problem as `file:line:column: message`.

The detection loader's machinery does the YAML (marks, duplicate keys, size limits) and the per-part model
errors; this adds the checks between steps (`graph.problems`) and of the inputs schema, located the same way.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic_core import ErrorDetails

from mendflow.errors import PlaybookError

# The same YAML reading and error location as detection playbooks (one implementation, not a copy).
from mendflow.playbooks.located import Document, Issue, first_error, locate, read_document, validate
from mendflow.responses.graph import Problem, problems
from mendflow.responses.inputs import NOT_STORED, property_names, schema_problem, secret_paths
from mendflow.responses.model import ResponsePlaybook


def load_response_file(path: Path) -> ResponsePlaybook:
    """Load one workflow playbook; PlaybookError for its first problem (the message counts the others)."""
    playbook, issues = _checked(path)
    if issues or playbook is None:
        raise first_error(issues)
    return playbook


def response_problems(path: Path) -> list[PlaybookError]:
    """Every problem of one file, in file order (empty when it loads)."""
    return [issue.error() for issue in _checked(path)[1]]


def _checked(path: Path) -> tuple[ResponsePlaybook | None, list[Issue]]:
    issues: list[Issue] = []
    document = read_document(path, issues)
    playbook = None if document is None else check_response(document, issues)
    return playbook, issues


def check_response(document: Document, issues: list[Issue]) -> ResponsePlaybook | None:
    """The workflow if it is sound, or None with every problem added to `issues` in file order: the parts first
    (keys, kinds, durations), then — once they hold — the steps together and the inputs schema."""
    playbook = validate(document, ResponsePlaybook, issues, context={})
    if playbook is None:
        return None
    bad_schema = schema_problem(playbook.inputs)
    found = [] if bad_schema is None else [Problem(("inputs", *bad_schema[0]), bad_schema[1])]
    found.extend(problems(playbook, property_names(playbook.inputs) if bad_schema is None else None))
    # The definition travels in every run's history: a secret written into it (a template's text) would be kept.
    definition = playbook.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    found.extend(Problem(path, f"this text {NOT_STORED}") for path in secret_paths(definition))
    located = [locate(document, _details(problem)) for problem in found]
    issues.extend(sorted(located, key=lambda i: (i.line, i.column)))
    return None if located else playbook


def definition_digest(playbook: ResponsePlaybook) -> str:
    """The content digest a run is pinned to: sha256 of the definition's canonical JSON."""
    canonical = json.dumps(playbook.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _details(problem: Problem) -> ErrorDetails:
    details: ErrorDetails = {"type": "response", "loc": problem.loc, "msg": problem.message, "input": None}
    if problem.offset is not None:
        details["ctx"] = {"offset": problem.offset}
    return details
