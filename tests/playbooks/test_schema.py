"""playbooks/schema.json: generated from the models, committed fresh, and useful to an editor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from mendflow.actions import ACTIONS
from mendflow.playbooks.json_schema import playbook_json_schema, render_schema
from mendflow.playbooks.loader import bundled_playbook_dir, is_tests_file
from mendflow.playbooks.model import RESOURCE_TYPES

COMMITTED = Path(__file__).parents[2] / "playbooks" / "schema.json"
EXAMPLES = Path(__file__).parents[2] / "examples" / "responses"
REGENERATE = "mendflow playbooks schema > playbooks/schema.json"


def validator() -> jsonschema.Draft202012Validator:
    schema = playbook_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def shipped_documents() -> list[tuple[Path, Any]]:
    files = sorted(p for p in bundled_playbook_dir().rglob("*.yaml") if not is_tests_file(p))
    return [(path, yaml.safe_load(path.read_text(encoding="utf-8"))) for path in files]


def test_committed_schema_is_the_generated_one() -> None:
    """The file in the repository equals what the models generate; regenerate it when they change."""
    assert COMMITTED.read_text(encoding="utf-8") == render_schema(), (
        f"playbooks/schema.json is stale: run `{REGENERATE}`"
    )


def test_schema_is_valid_json_schema_and_accepts_every_shipped_playbook() -> None:
    """A draft 2020-12 schema that every shipped playbook satisfies."""
    check = validator()
    for path, document in shipped_documents():
        assert list(check.iter_errors(document)) == [], path


def test_schema_uses_aliases_and_describes_every_field() -> None:
    """Keys are spelt as in YAML (`apiVersion`, `with`) and every property has a description for completion."""
    schema = playbook_json_schema()
    detection = schema["$defs"]["Playbook"]
    assert {"apiVersion", "id", "title", "resource", "detect", "respond", "tests"} <= set(detection["properties"])
    assert "with" in schema["$defs"]["Respond"]["properties"]
    assert {"apiVersion", "kind", "inputs", "steps"} <= set(schema["$defs"]["Workflow"]["properties"])
    for name, definition in schema["$defs"].items():
        for key, prop in definition.get("properties", {}).items():
            assert prop.get("description"), f"{name}.{key} has no description"


def test_schema_lists_resource_types_actions_and_each_actions_parameters() -> None:
    """Editors can complete the resource type, the action, and the keys under `with` for the chosen action."""
    schema = playbook_json_schema()
    assert schema["$defs"]["Playbook"]["properties"]["resource"]["enum"] == sorted(RESOURCE_TYPES)
    respond = schema["$defs"]["Respond"]
    assert respond["properties"]["action"]["enum"] == sorted(ACTIONS)
    branch = next(
        b for b in respond["allOf"] if b["if"]["properties"]["action"]["const"] == "github.repo_hook.update_config"
    )
    with_schema = branch["then"]["properties"]["with"]
    assert set(with_schema["properties"]) == {"insecure_ssl", "content_type"}
    assert with_schema["additionalProperties"] is False


def test_schema_refuses_what_the_loader_refuses() -> None:
    """A misspelt key, an unknown parameter, a bad duration and a bad severity fail schema validation too."""
    check = validator()
    _, good = next((p, d) for p, d in shipped_documents() if p.name == "repo_hook_insecure_ssl.yaml")
    mistakes = [
        {**good, "detect": {**good["detect"], "whn": good["detect"]["when"]}},
        {**good, "respond": {**good["respond"], "with": {"insecure_sl": "0"}}},
        {**good, "respond": {**good["respond"], "approval": {"timeout": "4x"}}},
        {**good, "detect": {**good["detect"], "severity": "hgh"}},
        {**good, "apiVersion": "mendflow/v2"},
    ]
    for document in mistakes:
        assert list(check.iter_errors(document)), document


def test_schema_checks_response_workflows_by_their_kind() -> None:
    """A file with `kind: Workflow` is checked as a workflow: the shipped examples pass; a misspelt step key, an
    unknown action and an unknown parameter of the step's action fail."""
    check = validator()
    examples = sorted(p for p in EXAMPLES.glob("*.yaml") if not is_tests_file(p))
    assert examples
    for path in examples:
        assert list(check.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))) == [], path
    good = yaml.safe_load((EXAMPLES / "github_webhook_exposure.yaml").read_text(encoding="utf-8"))
    disable = next(i for i, step in enumerate(good["steps"]) if step["id"] == "disable")

    def with_step(**change: Any) -> dict[str, Any]:
        steps = [dict(step) for step in good["steps"]]
        steps[disable].update(change)
        return {**good, "steps": steps}

    for document in (
        with_step(neds=["hook"]),
        with_step(action="github.repo_hook.disabel"),
        with_step(**{"with": {"activ": False}}),
    ):
        assert list(check.iter_errors(document)), document


def test_durations_show_as_people_write_them() -> None:
    """Defaults in the schema read `1d` and `0s`, not ISO 8601."""
    definitions = playbook_json_schema()["$defs"]
    assert definitions["ApprovalPolicy"]["properties"]["timeout"]["default"] == "1d"
    assert definitions["RolloutPolicy"]["properties"]["bake"]["default"] == "0s"


def test_schema_command_prints_the_schema(capsys: Any) -> None:
    """`mendflow playbooks schema` prints exactly the committed text."""
    from mendflow.cli.playbooks_cmd import schema

    schema()
    assert capsys.readouterr().out == render_schema()
    assert json.loads(render_schema())["title"] == "mendflow playbook (mendflow/v1)"
