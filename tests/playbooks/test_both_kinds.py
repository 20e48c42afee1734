"""One loader for both kinds of playbook: detection files and `kind: Workflow` files side by side."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mendflow.errors import PlaybookError
from mendflow.playbooks.loader import load_any_file, load_playbook_file, load_playbooks
from mendflow.responses import ResponsePlaybook

ROOT = Path(__file__).parents[2]
DETECTION = ROOT / "playbooks" / "github" / "repo_hook_insecure_ssl.yaml"
WORKFLOWS = ROOT / "examples" / "responses"

BROKEN_WORKFLOW = """apiVersion: mendflow/v1
kind: Workflow
id: test.broken
title: t
steps:
  - {id: a, kind: wait, duration: 1s}
  - {id: b, kind: notify, message: "${{ steps.nope.output }}"}
"""
BROKEN_DETECTION = """apiVersion: mendflow/v1
id: test.detect
title: t
resource: github.repo_hook
detect: {when: "resource.config.insecure_ssl == ", severity: high}
"""


def _folder(tmp_path: Path) -> Path:
    shutil.copy(DETECTION, tmp_path / DETECTION.name)
    for example in WORKFLOWS.glob("*.yaml"):
        if not example.name.endswith(".tests.yaml"):
            shutil.copy(example, tmp_path / example.name)
    (tmp_path / "broken_workflow.yaml").write_text(BROKEN_WORKFLOW)
    (tmp_path / "broken_detection.yaml").write_text(BROKEN_DETECTION)
    return tmp_path


def test_a_folder_loads_both_kinds_and_reports_every_broken_file(tmp_path: Path) -> None:
    """Good files of each kind load; each broken file's problem is reported at file:line:column; none stops the rest."""
    result = load_playbooks([_folder(tmp_path)])
    assert [p.id for p in result.playbooks] == ["github.repo_hook.insecure_ssl"]
    assert {w.id for w in result.workflows} >= {"okta.api_token.compromise", "github.repo_hook.exposure"}
    where = sorted(f"{Path(e.path).name}:{e.line}:{e.column}" for e in result.errors)
    assert where[0].startswith("broken_detection.yaml:5:")
    assert where[1] == "broken_workflow.yaml:7:47"
    assert any("unknown step 'nope'" in str(e) for e in result.errors)


def test_ids_are_unique_across_both_kinds(tmp_path: Path) -> None:
    """A workflow that takes a detection playbook's id is refused, naming the file that defined it first."""
    shutil.copy(DETECTION, tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text(BROKEN_WORKFLOW.replace("test.broken", "github.repo_hook.insecure_ssl")
                                     .replace("steps.nope.output", "steps.a.status"))  # fmt: skip
    result = load_playbooks([tmp_path])
    assert len(result.playbooks) == 1 and not result.workflows
    [error] = result.errors
    assert str(error).startswith(f"{tmp_path / 'b.yaml'}:3:5: duplicate playbook id 'github.repo_hook.insecure_ssl'")


def test_an_unknown_kind_is_refused_with_the_known_one(tmp_path: Path) -> None:
    """`kind: Workflw` is a misspelling: refused at the value, suggesting Workflow."""
    path = tmp_path / "w.yaml"
    path.write_text(BROKEN_WORKFLOW.replace("kind: Workflow", "kind: Workflw"))
    [error] = load_playbooks([path]).errors
    assert str(error) == (
        f"{path}:2:7: kind: unknown kind 'Workflw' — did you mean 'Workflow'? "
        "(Workflow for a response workflow; no kind for a detection playbook)"
    )


def test_one_file_loaders_say_which_kind_they_got(tmp_path: Path) -> None:
    """load_any_file returns either kind; load_playbook_file refuses a workflow by name."""
    workflow = WORKFLOWS / "okta_api_token_compromise.yaml"
    assert isinstance(load_any_file(workflow), ResponsePlaybook)
    with pytest.raises(PlaybookError, match="a response workflow"):
        load_playbook_file(workflow)
