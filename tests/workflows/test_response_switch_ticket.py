"""switch and ticket steps in a real run: the dev server, the worker, the Jira simulator over loopback HTTP."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from mendflow.responses import load_response_file
from mendflow.responses.messages import ResponseStatus, RunState
from mendflow.runtime.responses import start_response
from mendflow.runtime.worker import build_worker
from tests.integrations.conftest import SimulatedJira
from tests.workflows.campaigns import settings
from tests.workflows.response_sites import jira_settings, worker_context
from tests.workflows.response_sites import jira_site as serve_jira

HISTORIES = Path(__file__).parent.parent / "histories"
WORKFLOW = """apiVersion: mendflow/v1
kind: Workflow
id: test.switch_ticket
title: Triage by level
tenant: okta:acme
inputs:
  type: object
  properties: {level: {type: string}}
  required: [level]
steps:
  - id: pick
    kind: switch
    on: inputs.level
    cases:
      high: [incident]
      low: [note]
    default: [other]
  - id: incident
    kind: ticket
    jira: {summary: "Level ${{ inputs.level }} incident", description: "Raised by mendflow.", labels: [triage],
           timeline: true}
  - id: close
    kind: ticket
    needs: [incident]
    jira: {key: "${{ steps.incident.output.key }}", comment: "Contained.", transition: Done}
  - {id: note, kind: wait, duration: 1s}
  - {id: other, kind: wait, duration: 1s}
"""


@pytest.fixture
def jira_site() -> Iterator[SimulatedJira]:
    with serve_jira() as site:
        yield site


@pytest.fixture
async def start(
    dev_env: WorkflowEnvironment, jira_site: SimulatedJira, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    jira = jira_settings(jira_site, monkeypatch, "SWITCH_JIRA_TOKEN")
    context = worker_context(tmp_path, settings=settings().model_copy(update={"jira": jira}))
    path = tmp_path / "w.yaml"
    path.write_text(WORKFLOW)
    definition = load_response_file(path)
    queue = f"q-{uuid.uuid4()}"

    async def go(level: str) -> ResponseStatus:
        handle = await start_response(dev_env.client, definition, {"level": level}, task_queue=queue)
        result: ResponseStatus = await handle.result()
        if os.environ.get("MENDFLOW_RECORD_HISTORIES") and level == "high":  # replayed by test_replay.py
            history = await handle.fetch_history()
            saved = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
            (HISTORIES / "response-switch-ticket.json").write_text(json.dumps(saved, indent=1))
        return result

    async with build_worker(dev_env.client, context, task_queue=queue):
        yield go


def _statuses(status: ResponseStatus) -> dict[str, str]:
    return {step.id: step.status.value for step in status.steps}


async def test_the_matching_case_runs_and_its_ticket_is_opened_commented_and_closed(
    start: Any, jira_site: SimulatedJira
) -> None:
    """level=high: only the 'high' case runs; the issue carries the run's timeline, then a comment and Done."""
    done, jira = await start("high"), jira_site
    assert done.state is RunState.completed
    assert _statuses(done) == {"pick": "done", "incident": "done", "close": "done", "note": "skipped",
                               "other": "skipped"}  # fmt: skip
    assert done.steps[0].output == {"value": "high", "case": "high"}
    key = done.steps[1].output["key"]
    assert done.steps[1].output["url"] == f"{jira.base_url}/browse/{key}" and list(jira.state.issues) == [key]
    issue = jira.state.issue(key)
    assert issue.summary == "Level high incident" and "triage" in issue.labels
    assert "pick (switch): done 'high' case" in str(issue.description)
    assert issue.status == "Done" and issue.comments[0]["body"] == "Contained."
    assert "in the 'low' case of pick, not taken" in done.steps[3].detail


async def test_a_value_no_case_names_takes_the_default(start: Any, jira_site: SimulatedJira) -> None:
    """level=medium: neither case; the default branch runs, no ticket is opened."""
    done, jira = await start("medium"), jira_site
    assert _statuses(done) == {"pick": "done", "incident": "skipped", "close": "skipped", "note": "skipped",
                               "other": "done"}  # fmt: skip
    assert done.steps[0].output["case"] == "default" and not jira.state.issues
