"""Organisation policy: typed playbook parameters (defaults, per-tenant overrides in mendflow.yaml, evidence)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mendflow.config import TenantRegistry
from mendflow.errors import InputError
from mendflow.models import Resource
from mendflow.playbooks.model import CHECK_FIELDS, ParamError, Playbook
from mendflow.playbooks.params import bind, cel_literal
from mendflow.playbooks.policy import policy_problems
from mendflow.rules import compile_rules
from mendflow.rules.cel import compile_expression
from mendflow.settings import Settings
from mendflow.worker_context import WorkerContext

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)

PUBLIC = {
    "apiVersion": "mendflow/v1",
    "id": "github.repo.public_not_allowed",
    "title": "Public repositories must be on the allow-list",
    "resource": "github.repo",
    "params": {
        "allowed_repos": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["acme/docs"],
            "description": "owner/name of repositories that may be public",
        }
    },
    "detect": {
        "when": 'resource.visibility == "public" && !(resource.full_name in params.allowed_repos)',
        "severity": "high",
    },
}


def playbook(data: dict[str, Any] = PUBLIC) -> Playbook:
    return Playbook.model_validate(data, context={CHECK_FIELDS: True})


def repo(name: str, visibility: str = "public") -> Resource:
    return Resource(
        type="github.repo",
        id=f"/repos/acme/{name}",
        data={"name": name, "full_name": f"acme/{name}", "visibility": visibility, "private": visibility != "public"},
    )


REPOS = [repo("docs"), repo("api"), repo("core", "private")]


def flagged(book: Playbook) -> dict[str, dict[str, Any]]:
    result = compile_rules([book]).evaluate(REPOS, tenant="acme", provider="github", as_of=AS_OF)
    assert result.errors == []
    return {f.resource.id: f.evidence for f in result.findings}


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        'quote " and \\ backslash',
        "tab\tnewline\n",
        "ünï 😀",
        0,
        -3,
        2.5,
        1e21,
        True,
        False,
        None,
        ["a", 1, [True]],
        {"k": "v", "n": [1.5]},
        [],
        {},
    ],
)
def test_a_parameter_value_becomes_the_cel_literal_of_the_same_value(value: Any) -> None:
    assert compile_expression(cel_literal(value), []).evaluate({}) == value


def test_offsets_in_the_bound_condition_map_back_to_the_text_the_author_wrote() -> None:
    source = "params.a == resource.x && params.bb.size() > resource.y"
    bound = bind(source, {"a": "long literal value", "bb": [1, 2, 3]})
    assert bound.text == '"long literal value" == resource.x && [1, 2, 3].size() > resource.y'
    assert bound.original(bound.text.index("resource.x")) == source.index("resource.x")
    assert bound.original(bound.text.index("resource.y")) == source.index("resource.y")
    assert bound.original(bound.text.index("[1, 2, 3]") + 2) == source.index("params.bb")


def test_defaults_decide_and_the_finding_shows_the_values_it_was_judged_by() -> None:
    found = flagged(playbook())
    assert set(found) == {"/repos/acme/api"}
    assert found["/repos/acme/api"]["params.allowed_repos"] == ["acme/docs"]
    assert found["/repos/acme/api"]["resource.visibility"] == "public"


def test_an_override_changes_the_verdict_and_the_evidence() -> None:
    found = flagged(playbook().with_params({"allowed_repos": ["acme/api"]}))
    assert set(found) == {"/repos/acme/docs"}
    assert found["/repos/acme/docs"]["params.allowed_repos"] == ["acme/api"]
    assert playbook() != playbook().with_params({"allowed_repos": []})


def test_a_bad_override_names_the_parameter_and_the_likely_intended_one() -> None:
    with pytest.raises(ParamError) as unknown:
        playbook().with_params({"allowed_repo": []})
    assert "has no parameter 'allowed_repo' — did you mean 'allowed_repos'?" in str(unknown.value)
    with pytest.raises(ParamError) as typed:
        playbook().with_params({"allowed_repos": ["acme/ok", 7]})
    assert typed.value.problems == [("allowed_repos[1]", "7 is not of type 'string'")]


def test_the_schema_checker_sees_the_default_s_type() -> None:
    data = {**PUBLIC, "params": {"wanted": {"type": "integer", "default": 1}}}
    data["detect"] = {"when": "resource.visibility == params.wanted", "severity": "high"}
    with pytest.raises(Exception, match="visibility"):
        playbook(data)


CONFIG = """\
identity: user:alice
policy:
  acme-github:
    github.repo.public_not_allowed:
      allowed_repos: [acme/api, 7]
      alowed_repos: []
    github.repo.public_not_alowed:
      allowed_repos: []
"""


def test_mendflow_yaml_policy_problems_name_file_line_and_field_path_without_quoting_values(tmp_path: Path) -> None:
    path = tmp_path / "mendflow.yaml"
    path.write_text(CONFIG)
    settings = Settings.load(path)
    assert settings.source == path
    problems = policy_problems(settings.policy, {"github.repo.public_not_allowed": playbook()}, path=path)
    assert problems == [
        f'{path}:5:33: $.policy["acme-github"]["github.repo.public_not_allowed"].allowed_repos[1]: '
        'must satisfy type: "string"',
        f'{path}:6:7: $.policy["acme-github"]["github.repo.public_not_allowed"].alowed_repos: '
        "github.repo.public_not_allowed has no parameter 'alowed_repos' — did you mean 'allowed_repos'? "
        "(its parameters: allowed_repos)",
        f'{path}:7:5: $.policy["acme-github"]["github.repo.public_not_alowed"]: no loaded playbook has id '
        "'github.repo.public_not_alowed' — did you mean 'github.repo.public_not_allowed'?",
    ]


def test_a_value_is_never_quoted_in_a_policy_problem(tmp_path: Path) -> None:
    path = tmp_path / "mendflow.yaml"
    path.write_text("policy:\n  t:\n    github.repo.public_not_allowed:\n      allowed_repos: canary-s3cr3t-value\n")
    problems = policy_problems(Settings.load(path).policy, {"github.repo.public_not_allowed": playbook()}, path=path)
    assert len(problems) == 1 and "canary-s3cr3t-value" not in problems[0]
    assert problems[0].startswith(f"{path}:4:22: ")


def test_a_worker_binds_each_tenant_s_policy_and_refuses_a_bad_one_at_start(tmp_path: Path) -> None:
    path = tmp_path / "mendflow.yaml"
    path.write_text("policy:\n  beta:\n    github.repo.public_not_allowed:\n      allowed_repos: [acme/api]\n")
    books = {"github.repo.public_not_allowed": playbook()}
    context = WorkerContext(registry=TenantRegistry(), data_dir=tmp_path, playbooks=books, settings=Settings.load(path))
    try:
        for tenant, expected in (("alpha", {"/repos/acme/api"}), ("beta", {"/repos/acme/docs"})):
            result = context.rules_for(tenant).evaluate(REPOS, tenant=tenant, provider="github", as_of=AS_OF)
            assert {f.resource.id for f in result.findings} == expected
        assert context.playbook("github.repo.public_not_allowed", "beta").param_values() == {
            "allowed_repos": ["acme/api"]
        }
    finally:
        context.close()
    path.write_text("policy:\n  beta:\n    github.repo.public_not_allowed:\n      allowed: []\n")
    with pytest.raises(InputError, match=r"mendflow.yaml:4:7: .*did you mean 'allowed_repos'"):
        WorkerContext(registry=TenantRegistry(), data_dir=tmp_path, playbooks=books, settings=Settings.load(path))


def test_playbooks_validate_checks_a_mendflow_yaml_policy_against_the_shipped_playbooks(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mendflow.cli.playbooks_cmd import app

    path = tmp_path / "mendflow.yaml"
    policy = "policy:\n  acme:\n    github.repo_hook.host_not_allowed:\n      {}: [ci.acme.example]\n"
    path.write_text(policy.format("allowed_host"))
    refused = CliRunner().invoke(app, ["validate", "--config", str(path)])
    assert isinstance(refused.exception, InputError)  # exit 2 once the mendflow CLI maps it
    assert f"{path}:4:7: " in refused.output and "did you mean 'allowed_hosts'?" in refused.output
    path.write_text(policy.format("allowed_hosts"))
    accepted = CliRunner().invoke(app, ["validate", "--config", str(path)])
    assert accepted.exit_code == 0, accepted.output
    assert "policy: 1 tenant(s); 0 error(s)" in accepted.output
