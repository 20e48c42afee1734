"""Playbook test cases as data: loaded inline or beside the file, run through simulator, connector and engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mendflow.data import demo_tenant_path
from mendflow.playbooks.cases import run_case, run_playbook_tests, tenant_for_case
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbook_file, load_playbooks
from mendflow.playbooks.model import Playbook, PlaybookTest

SHIPPED = {p.id: p for p in load_playbooks([bundled_playbook_dir()]).playbooks}

HOOK = """\
apiVersion: mendflow/v1
id: github.repo_hook.insecure_ssl
title: Repository webhooks must verify TLS certificates
resource: github.repo_hook
detect:
  when: string(resource.config.insecure_ssl) == "1"
  severity: high
respond:
  mode: auto
  action: github.repo_hook.update_config
  with: {insecure_ssl: "0"}
"""
CASE = """\
  - name: the insecure hook is fixed
    resources:
      - {id: /repos/acme/api/hooks/11, data: {config: {insecure_ssl: "1"}}}
      - {id: /repos/acme/api/hooks/12, data: {config: {insecure_ssl: "0"}}}
    expect:
      findings: [/repos/acme/api/hooks/11]
      plan: {/repos/acme/api/hooks/11: {before: {insecure_ssl: "1"}, after: {insecure_ssl: "0"}}}
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("playbook_id", sorted(SHIPPED))
def test_shipped_playbook_has_passing_positive_and_negative_test_cases(playbook_id: str) -> None:
    """Every shipped playbook (GitHub and Okta) carries test cases with a resource it reports and one it does not,
    and each case passes."""
    playbook = SHIPPED[playbook_id]
    assert playbook.tests, f"{playbook_id} has no test cases"
    assert any(case.expect.findings for case in playbook.tests), f"{playbook_id}: no positive case"
    negatives = [r.id for case in playbook.tests for r in case.resources if r.id not in case.expect.findings]
    assert negatives or any(case.tenant_file for case in playbook.tests), f"{playbook_id}: no negative case"
    results = run_playbook_tests([playbook])
    assert [(r.name, r.problems) for r in results if not r.passed] == []


def test_inline_cases_run_and_report_findings_and_plan(tmp_path: Path) -> None:
    """A case under `tests:` in the playbook passes, and its result carries the plan it was checked against."""
    playbook = load_playbook_file(write(tmp_path, "hook.yaml", HOOK + "tests:\n" + CASE))
    (result,) = run_playbook_tests([playbook])
    assert result.passed, result.problems
    assert result.plan is not None
    assert [c.resource.id for c in result.plan.changes] == ["/repos/acme/api/hooks/11"]


def test_cases_beside_the_playbook_are_added_to_it(tmp_path: Path) -> None:
    """`NAME.tests.yaml` next to `NAME.yaml` adds its cases; it is not loaded as a playbook itself."""
    write(tmp_path, "hook.yaml", HOOK + "tests:\n" + CASE)
    write(tmp_path, "hook.tests.yaml", "tests:\n" + CASE.replace("is fixed", "is fixed again"))
    result = load_playbooks([tmp_path])
    assert result.errors == []
    (playbook,) = result.playbooks
    assert [case.name for case in playbook.tests] == ["the insecure hook is fixed", "the insecure hook is fixed again"]
    assert playbook.tests[1].source == tmp_path / "hook.tests.yaml"


def test_wrong_expectations_fail_with_what_differs(tmp_path: Path) -> None:
    """Expected findings and plan that the playbook does not produce are each named."""
    wrong = CASE.replace("findings: [/repos/acme/api/hooks/11]", "findings: [/repos/acme/api/hooks/12]").replace(
        'after: {insecure_ssl: "0"}}}', 'after: {insecure_ssl: "1"}}}'
    )
    playbook = load_playbook_file(write(tmp_path, "hook.yaml", HOOK + "tests:\n" + wrong))
    (result,) = run_playbook_tests([playbook])
    assert not result.passed
    assert result.problems == [
        "findings: missing /repos/acme/api/hooks/12; unexpected /repos/acme/api/hooks/11",
        "plan for /repos/acme/api/hooks/11: expected insecure_ssl: 1 → 1, got insecure_ssl: 1 → 0",
    ]


def test_unexpected_evaluation_error_fails_the_case_with_its_message() -> None:
    """A resource the condition cannot decide fails the case, with the engine's message, unless it is expected."""
    playbook = SHIPPED["github.repo.secret_scanning_disabled"]
    case = PlaybookTest.model_validate(
        {"name": "no admin view", "resources": [{"id": "/repos/acme/web"}], "expect": {"findings": []}}
    )
    result = run_case(playbook, case)
    assert result.problems[0] == "evaluation errors: unexpected /repos/acme/web"
    assert result.problems[1].startswith("  /repos/acme/web: ")
    expected = case.model_copy(update={"expect": case.expect.model_copy(update={"errors": ("/repos/acme/web",)})})
    assert run_case(playbook, expected).passed


def test_errors_in_a_beside_file_point_into_that_file(tmp_path: Path) -> None:
    """A misspelt key or an id of another type in NAME.tests.yaml is reported at its line and column there."""
    write(tmp_path, "hook.yaml", HOOK)
    tests = write(tmp_path, "hook.tests.yaml", "tests:\n" + CASE.replace("/repos/acme/api/hooks/12", "/repos/acme/api"))
    result = load_playbooks([tmp_path])
    assert result.playbooks == []
    (error,) = result.errors
    assert (error.path, error.line, error.column) == (str(tests), 5, 14)
    assert "'/repos/acme/api' is not the id of a github.repo_hook" in str(error)
    write(tmp_path, "hook.tests.yaml", "tests:\n" + CASE.replace("expect:", "expct:"))
    (error,) = load_playbooks([tmp_path]).errors
    assert (error.line, error.column) == (6, 5) and "unknown key 'expct' — did you mean 'expect'?" in str(error)


def test_a_tests_file_given_as_a_playbook_is_refused_with_advice(tmp_path: Path) -> None:
    """Validating `x.tests.yaml` directly says to give its playbook instead."""
    tests = write(tmp_path, "hook.tests.yaml", "tests:\n" + CASE)
    (error,) = load_playbooks([tests]).errors
    assert "holds test cases, not a playbook: give its playbook (hook.yaml)" in str(error)


def test_case_can_use_a_tenant_file_relative_to_its_own_file(tmp_path: Path) -> None:
    """`tenant_file` is read relative to the file holding the case; its taken_at is the as-of time."""
    (tmp_path / "tenants").mkdir()
    (tmp_path / "tenants" / "demo.json").write_text(demo_tenant_path().read_text(encoding="utf-8"), encoding="utf-8")
    case = """\
  - name: the demo tenant's two insecure hooks
    tenant_file: tenants/demo.json
    expect:
      findings: [/repos/acme/api/hooks/11, /repos/acme/web/hooks/21]
"""
    playbook = load_playbook_file(write(tmp_path, "hook.yaml", HOOK + "tests:\n" + case))
    (result,) = run_playbook_tests([playbook])
    assert result.passed, result.problems


def test_fragments_become_a_tenant_around_them(tmp_path: Path) -> None:
    """Hooks name their repository; related.repo sets its visibility; the org comes from the ids."""
    case = CASE.replace(
        '{id: /repos/acme/api/hooks/12, data: {config: {insecure_ssl: "0"}}}',
        '{id: /repos/acme/docs/hooks/12, data: {config: {insecure_ssl: "0"}}, related: {repo: {visibility: public}}}',
    )
    playbook = load_playbook_file(write(tmp_path, "hook.yaml", HOOK + "tests:\n" + case))
    tenant = tenant_for_case(playbook, playbook.tests[0])
    section = tenant.section()
    assert tenant.tenant == "acme" and section["org"]["login"] == "acme"
    repos = {r["name"]: r for r in section["repos"]}
    assert [h["id"] for h in repos["api"]["_hooks"]] == [11]
    assert (repos["docs"]["visibility"], repos["docs"]["private"]) == ("public", False)
    assert repos["docs"]["_hooks"][0]["config"] == {
        "url": "https://hooks.example.com/github",
        "content_type": "json",
        "insecure_ssl": "0",
    }
    json.dumps(tenant.model_dump(mode="json"))  # a valid, serialisable tenant file


def test_case_mixing_organizations_cannot_run(tmp_path: Path) -> None:
    """One case is one organization: a second org in the ids is named in the failure."""
    case = CASE.replace("/repos/acme/api/hooks/12", "/repos/other/api/hooks/12")
    playbook: Playbook = load_playbook_file(write(tmp_path, "hook.yaml", HOOK + "tests:\n" + case))
    result = run_case(playbook, playbook.tests[0])
    assert result.problems == ["cannot run: a test case holds one organization: 'other' is not 'acme'"]


def test_okta_fragments_become_a_tenant_and_a_wrong_expectation_fails() -> None:
    """Okta cases are data like GitHub ones: roles in `related` become role assignments the connector reads back."""
    playbook = SHIPPED["okta.user.super_admin_direct"]
    case = PlaybookTest.model_validate(
        {
            "name": "wrong on purpose",
            "resources": [
                {"id": "/api/v1/users/00udirect", "related": {"roles": [{"type": "SUPER_ADMIN"}]}},
                {"id": "/api/v1/users/00uplain"},
            ],
            "expect": {"findings": ["/api/v1/users/00uplain"]},
        }
    )
    tenant = tenant_for_case(playbook, case)
    assert tenant.provider == "okta"
    result = run_case(playbook, case)
    assert result.problems[0] == "findings: missing /api/v1/users/00uplain; unexpected /api/v1/users/00udirect"
