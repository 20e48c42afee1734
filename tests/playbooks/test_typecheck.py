"""Conditions type-checked against the vendors' schemas: every documented value shape is accounted for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mendflow.playbooks.cut import cut, render, subsets
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.playbooks.typecheck import TYPE_PROBLEMS, check_condition

SPECS = Path(__file__).parents[1] / "specs"
PACKAGED = Path(__file__).parents[2] / "src" / "mendflow" / "data" / "schemas"


def kinds(condition: str, resource_type: str) -> list[str]:
    return [problem.kind for problem in check_condition(condition, resource_type)]


@pytest.mark.parametrize("provider", sorted(subsets()))
def test_packaged_schemas_are_the_cut_of_the_spec_subsets(provider: str) -> None:
    """The data file shipped with mendflow equals what `python -m mendflow.playbooks.cut tests/specs` writes."""
    subset = subsets()[provider]
    spec = json.loads((SPECS / subset.file).read_text(encoding="utf-8"))
    expected = render(cut(spec, subset.types(), f"tests/specs/{subset.file} (licence: {provider}.LICENSE.txt)"))
    assert (PACKAGED / f"{provider}.json").read_text(encoding="utf-8") == expected, (
        "stale: run python -m mendflow.playbooks.cut tests/specs"
    )
    assert (PACKAGED / f"{provider}.LICENSE.txt").read_text(encoding="utf-8").strip()


def test_shipped_playbooks_fit_their_vendor_schemas() -> None:
    """Every shipped condition passes the type checker (the loader runs it on every file)."""
    result = load_playbooks([bundled_playbook_dir()])
    assert result.errors == []
    for playbook in result.playbooks:
        assert check_condition(playbook.detect.when, playbook.resource) == [], playbook.id


def test_string_or_number_field_compared_with_a_string_misses_the_number() -> None:
    """GitHub's insecure_ssl is a string or a number: `== "1"` is refused with the converted comparison."""
    (problem,) = check_condition('resource.config.insecure_ssl == "1"', "github.repo_hook")
    assert problem.kind == "partial_type"
    assert problem.offset == len("resource.config.insecure_ssl == ")
    assert "misses the number 1" in problem.message
    assert 'write string(resource.config.insecure_ssl) == "1"' in problem.message


def test_the_org_hook_list_shape_and_the_config_shape_are_both_checked() -> None:
    """The org hook list inlines a string-only config; the config endpoint's number form is still caught."""
    assert kinds('resource.config.insecure_ssl == "1"', "github.org_hook") == ["partial_type"]
    assert kinds('string(resource.config.insecure_ssl) == "1"', "github.org_hook") == []


def test_number_literal_against_string_or_number_misses_the_string() -> None:
    """`== 1` misses the string "1" just the same."""
    (problem,) = check_condition("resource.config.insecure_ssl == 1", "github.repo_hook")
    assert 'misses the string "1"' in problem.message


def test_literal_of_a_kind_the_field_never_has_is_refused_with_the_right_literal() -> None:
    """A boolean compared with the text "true" is never true; the message offers `true`."""
    (problem,) = check_condition('resource.active == "true"', "github.repo_hook")
    assert problem.kind == "type_mismatch"
    assert "is never true — compare with true" in problem.message


def test_enum_literal_must_be_a_documented_member() -> None:
    """A misspelt enum value is refused with the closest documented one, also inside a comprehension."""
    (problem,) = check_condition('resource.status == "ACTIV"', "okta.user")
    assert problem.kind == "enum_member"
    assert "did you mean 'ACTIVE'?" in problem.message
    (nested,) = check_condition('related.default_branch_rulesets.exists(r, r.enforcement == "actve")', "github.repo")
    assert "did you mean 'active'?" in nested.message
    assert kinds('resource.default_repository_permission in ["write", "admin"]', "github.org") == []


def test_unknown_fields_are_found_at_any_depth_and_for_every_provider() -> None:
    """Below the field catalogue's depth, and for Okta types the catalogue does not cover."""
    (deep,) = check_condition('resource.security_and_analysis.secret_scanning.stat == "disabled"', "github.repo")
    assert deep.kind == "unknown_field"
    assert "did you mean 'resource.security_and_analysis.secret_scanning.status'?" in deep.message
    (okta,) = check_condition("resource.lastLogon != null", "okta.user")
    assert "did you mean 'resource.lastLogin'?" in okta.message
    (scalar,) = check_condition('resource.name.first == "x"', "github.repo")
    assert "is a string in the GitHub schema, so it has no field 'first'" in scalar.message


def test_free_form_objects_and_undescribed_variants_are_not_checked() -> None:
    """A user's profile is open (additionalProperties) and policy settings live in variants the subset omits."""
    assert kinds('resource.profile.department == "IT"', "okta.user") == []
    assert kinds("resource.settings.password.complexity.minLength < 15", "okta.policy") == []


def test_not_equal_on_a_nullable_field_counts_unknown_as_a_finding() -> None:
    """`!= true` on a field GitHub returns as null to non-owners is refused; `== false` is what is meant."""
    (problem,) = check_condition("resource.two_factor_requirement_enabled != true", "github.org")
    assert problem.kind == "null_counts"
    assert "resource.two_factor_requirement_enabled == false" in problem.message
    assert kinds("resource.two_factor_requirement_enabled == false", "github.org") == []


def test_guards_rule_out_null_and_absence() -> None:
    """`x != null &&`, `x == null ||`, `!has(x) ||` and `? :` fallbacks narrow the shape a later operand sees."""
    assert (
        kinds(
            "resource.two_factor_requirement_enabled != null && resource.two_factor_requirement_enabled != true",
            "github.org",
        )
        == []
    )
    assert kinds("timestamp(resource.lastLogin) < now", "okta.user") == ["null_or_kind"]
    assert kinds("resource.lastLogin != null && timestamp(resource.lastLogin) < now", "okta.user") == []
    assert kinds("resource.lastLogin == null || timestamp(resource.lastLogin) < now", "okta.user") == []
    assert (
        kinds("timestamp(resource.lastLogin != null ? resource.lastLogin : resource.created) < now", "okta.user") == []
    )


def test_dates_compared_as_text_are_refused() -> None:
    """Text comparison of a date-time misses fractions and offsets; the message offers timestamp()."""
    (problem,) = check_condition('resource.created < "2024-01-01T00:00:00Z"', "okta.user")
    assert 'timestamp(resource.created) < timestamp("2024-01-01T00:00:00Z")' in problem.message


def test_absent_field_whose_default_is_the_misconfiguration_is_refused() -> None:
    """Okta documents `system: false` as the default: `== false` cannot see policies that leave it out."""
    (problem,) = check_condition("resource.system == false", "okta.policy")
    assert problem.kind == "default_missed"
    assert "(!has(resource.system) || resource.system == false)" in problem.message
    assert kinds("!has(resource.system) || resource.system == false", "okta.policy") == []


def test_string_methods_on_a_field_that_may_be_a_number_are_refused() -> None:
    """`.matches()` cannot decide a number; converting first is offered."""
    assert kinds('resource.config.insecure_ssl.matches("1")', "github.repo_hook") == ["null_or_kind"]
    assert kinds('string(resource.config.insecure_ssl).matches("1")', "github.repo_hook") == []


def test_types_without_a_packaged_schema_and_broken_conditions_are_left_to_other_checks() -> None:
    """No schema: nothing to say; a syntax error is the parser's to report."""
    assert check_condition('resource.anything == "x"', "acme.widget") == []
    assert check_condition("resource.config.insecure_ssl ==", "github.repo_hook") == []


def test_broken_corpus_has_a_playbook_for_every_kind_of_type_problem() -> None:
    """Each kind the checker reports is shown by at least one file of tests/playbooks/broken."""
    import yaml

    shown: set[str] = set()
    for path in sorted((Path(__file__).parent / "broken").glob("cel_*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        shown.update(kinds(data["detect"]["when"], data["resource"]))
    assert shown >= TYPE_PROBLEMS | {"unknown_field"}


def test_url_schemes_matched_with_case_are_refused() -> None:
    """`startsWith("http://")` misses `HTTP://`; `(?i)` or lowerAscii() pass, and non-scheme text is left alone."""
    assert kinds('resource.config.url.matches("^http://")', "github.repo_hook") == ["case_sensitive"]
    assert kinds('resource.config.url.matches("(?i)^http://")', "github.repo_hook") == []
    assert kinds('resource.config.url.lowerAscii().startsWith("http://")', "github.repo_hook") == []
    assert kinds('resource.config.url.contains("example")', "github.repo_hook") == []


def test_each_literal_of_an_in_list_is_checked_and_the_fix_keeps_the_list() -> None:
    """`insecure_ssl in ["1", 2]`: both literals miss a kind; the suggestion converts the field, not the list."""
    problems = check_condition('resource.config.insecure_ssl in ["1", 2]', "github.repo_hook")
    assert [p.offset for p in problems] == [33, 38]
    assert all('string(resource.config.insecure_ssl) in ["1", "2"]' in p.message for p in problems)
