"""Rule evaluation: findings, evidence, errors and time, over the demo tenant and hand-made resources."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from mendflow.models import Resource, Severity, fingerprint
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.playbooks.model import Playbook
from mendflow.rules import RuleSet, compile_condition, compile_rules, format_path, read_paths

from .demo_tenant import AS_OF, demo_document, demo_resources


def shipped_rules() -> RuleSet:
    loaded = load_playbooks([bundled_playbook_dir()])
    assert loaded.errors == []
    return compile_rules(loaded.playbooks)


def playbook(
    when: str, *, resource: str = "github.repo_hook", pid: str = "test.rule", severity: str = "high"
) -> Playbook:
    return Playbook.model_validate(
        {
            "apiVersion": "mendflow/v1",
            "id": pid,
            "title": f"title of {pid}",
            "resource": resource,
            "detect": {"when": when, "severity": severity, "compliance": ["SOC2:CC6.7"]},
        }
    )


def hook(hook_id: int, **config: Any) -> Resource:
    return Resource(
        type="github.repo_hook", id=f"/repos/acme/api/hooks/{hook_id}", data={"id": hook_id, "config": config}
    )


def found(rules: RuleSet, resources: list[Resource], as_of: datetime = AS_OF) -> set[tuple[str, str]]:
    result = rules.evaluate(resources, tenant="acme", provider="github", as_of=as_of)
    return {(f.rule, f.resource.id) for f in result.findings}


def test_shipped_rule_pack_finds_exactly_the_demo_tenant_problems() -> None:
    """The demo tenant's seeded misconfigurations are found, and nothing else, with no evaluation errors."""
    result = shipped_rules().evaluate(demo_resources(), tenant="acme", provider="github", as_of=AS_OF)
    assert result.errors == []
    assert {(f.rule, f.resource.id) for f in result.findings} == {
        ("github.org.two_factor_not_required", "/orgs/acme"),
        ("github.org.base_permission_not_strict", "/orgs/acme"),
        ("github.member.two_factor_disabled", "/orgs/acme/memberships/devin"),
        ("github.outside_collaborator.two_factor_disabled", "/orgs/acme/outside_collaborators/contractor-jo"),
        ("github.org_hook.insecure_ssl", "/orgs/acme/hooks/301"),
        ("github.org_hook.plain_http_url", "/orgs/acme/hooks/301"),
        ("github.org.members_can_create_public_repos", "/orgs/acme"),
        ("github.repo.default_branch_insufficient_approvals", "/repos/acme/web"),
        ("github.repo_hook.insecure_ssl", "/repos/acme/api/hooks/11"),
        ("github.repo_hook.insecure_ssl", "/repos/acme/web/hooks/21"),
        ("github.repo.secret_scanning_disabled", "/repos/acme/web"),
        ("github.repo.secret_scanning_disabled", "/repos/acme/infra"),
        ("github.repo.push_protection_disabled", "/repos/acme/web"),
        ("github.repo.default_branch_unprotected", "/repos/acme/infra"),
        ("github.repo.default_branch_unprotected", "/repos/acme/docs"),
        ("github.repo.public_not_allowed", "/repos/acme/docs"),  # public, and the default allow-list is empty
        ("github.deploy_key.write_access", "/repos/acme/api/keys/7"),
        ("github.collaborator.outside_admin", "/repos/acme/infra/collaborators/contractor-jo"),
    }


def test_repo_hook_without_tls_verification_is_found_and_verifying_hook_is_not() -> None:
    """Hook 11 of repo api (insecure_ssl "1") is a finding; hook 12 ("0") is not."""
    hits = found(shipped_rules(), demo_resources())
    assert ("github.repo_hook.insecure_ssl", "/repos/acme/api/hooks/11") in hits
    assert ("github.repo_hook.insecure_ssl", "/repos/acme/api/hooks/12") not in hits


def test_default_branch_protected_by_active_ruleset_counts_as_protected() -> None:
    """Repo web (active ruleset, no classic protection) is not flagged; docs (neither) is."""
    hits = found(shipped_rules(), demo_resources())
    assert ("github.repo.default_branch_unprotected", "/repos/acme/web") not in hits
    assert ("github.repo.default_branch_unprotected", "/repos/acme/api") not in hits
    assert ("github.repo.default_branch_unprotected", "/repos/acme/docs") in hits


def test_inactive_ruleset_does_not_protect_the_default_branch() -> None:
    """A ruleset in `evaluate` mode enforces nothing, so the branch is unprotected."""
    document = demo_document()
    web = next(repo for repo in document["github"]["repos"] if repo["name"] == "web")
    web["_rulesets"][0]["enforcement"] = "evaluate"
    hits = found(shipped_rules(), demo_resources(document))
    assert ("github.repo.default_branch_unprotected", "/repos/acme/web") in hits


def test_unknown_two_factor_requirement_is_neither_finding_nor_error() -> None:
    """`two_factor_requirement_enabled: null` (caller not an owner) means unknown: no finding, no error."""
    document = demo_document()
    document["github"]["org"]["two_factor_requirement_enabled"] = None
    result = shipped_rules().evaluate(demo_resources(document), tenant="acme", provider="github", as_of=AS_OF)
    assert "github.org.two_factor_not_required" not in {f.rule for f in result.findings}
    assert result.errors == []


def test_finding_carries_identity_title_severity_compliance_and_time() -> None:
    """A finding's fields come from the playbook, the resource and the as-of time."""
    rules = compile_rules([playbook('resource.config.insecure_ssl == "1"', pid="github.repo_hook.insecure_ssl")])
    (finding,) = rules.evaluate([hook(11, insecure_ssl="1")], tenant="acme", provider="github", as_of=AS_OF).findings
    assert finding.fingerprint == fingerprint("acme", "github.repo_hook.insecure_ssl", "/repos/acme/api/hooks/11")
    assert finding.tenant == "acme"
    assert finding.provider == "github"
    assert finding.title == "title of github.repo_hook.insecure_ssl"
    assert finding.severity is Severity.high
    assert finding.compliance == ("SOC2:CC6.7",)
    assert finding.resource.type == "github.repo_hook"
    assert finding.resource.id == "/repos/acme/api/hooks/11"
    assert finding.observed_at == AS_OF


def test_evidence_holds_each_field_the_condition_read_with_its_value() -> None:
    """Evidence maps every field path the condition reads to the resource's value, as plain JSON."""
    result = shipped_rules().evaluate(demo_resources(), tenant="acme", provider="github", as_of=AS_OF)
    by_key = {(f.rule, f.resource.id): f for f in result.findings}
    assert by_key[("github.repo_hook.insecure_ssl", "/repos/acme/api/hooks/11")].evidence == {
        "resource.config.insecure_ssl": "1"
    }
    assert by_key[("github.repo.default_branch_unprotected", "/repos/acme/docs")].evidence == {
        "resource.archived": False,
        "related.default_branch_protection": None,
        "related.default_branch_rulesets": [],
    }
    assert by_key[("github.org_hook.plain_http_url", "/orgs/acme/hooks/301")].evidence == {
        "resource.active": True,
        "resource.config.url": "http://legacy-siem.acme.example/ingest",
    }
    for finding in result.findings:
        assert json.loads(json.dumps(finding.evidence)) == finding.evidence


def test_evidence_paths_come_from_the_parse_tree() -> None:
    """Index access, method receivers and has() are paths; loop variables, literals and `now` are not."""
    condition = compile_condition(
        'resource.config["insecure_ssl"] == "1" && resource.config.url.startsWith("resource.fake")'
        ' && has(resource.labels.team) && related.rulesets.exists(r, r.enforcement == "active")'
        " && resource.events[0] == resource.hooks[resource.index].name"
        ' && resource.meta["x-y"] == 1 && timestamp(resource.created_at) < now'
    )
    assert [format_path(path) for path in read_paths(condition.tree)] == [
        "resource.config.insecure_ssl",
        "resource.config.url",
        "resource.labels.team",
        "related.rulesets",
        "resource.events[0]",
        "resource.hooks",
        "resource.index",
        'resource.meta["x-y"]',
        "resource.created_at",
    ]


def test_evidence_leaves_out_paths_missing_on_the_resource() -> None:
    """A path the condition names but the resource lacks (short-circuited) is not invented in the evidence."""
    rules = compile_rules([playbook('resource.config.insecure_ssl == "1" || resource.config.other == "x"')])
    (finding,) = rules.evaluate([hook(11, insecure_ssl="1")], tenant="acme", provider="github", as_of=AS_OF).findings
    assert finding.evidence == {"resource.config.insecure_ssl": "1"}


def test_missing_field_is_a_rule_error_not_a_finding_and_evaluation_goes_on() -> None:
    """A resource without the field yields a RuleError naming rule and resource; the others are still found."""
    rules = compile_rules([playbook('resource.config.insecure_ssl == "1"', pid="github.repo_hook.insecure_ssl")])
    broken = Resource(type="github.repo_hook", id="/repos/acme/api/hooks/13", data={"id": 13})
    result = rules.evaluate(
        [hook(11, insecure_ssl="1"), broken, hook(12, insecure_ssl="1")], tenant="acme", provider="github", as_of=AS_OF
    )
    assert [f.resource.id for f in result.findings] == ["/repos/acme/api/hooks/11", "/repos/acme/api/hooks/12"]
    (error,) = result.errors
    assert error.rule == "github.repo_hook.insecure_ssl"
    assert error.resource_id == "/repos/acme/api/hooks/13"
    assert "config" in error.message
    assert "activation" not in error.message


def test_null_where_an_object_is_expected_is_a_rule_error() -> None:
    """Selecting a field of null (e.g. security_and_analysis not returned) is an error, never a finding."""
    rules = compile_rules([playbook('resource.security.status == "disabled"', resource="github.repo")])
    repo = Resource(type="github.repo", id="/repos/acme/api", data={"security": None})
    result = rules.evaluate([repo], tenant="acme", provider="github", as_of=AS_OF)
    assert result.findings == []
    assert [e.resource_id for e in result.errors] == ["/repos/acme/api"]


def test_condition_that_is_not_a_bool_is_a_rule_error() -> None:
    """A condition returning a string is reported, not coerced."""
    rules = compile_rules([playbook("resource.config.insecure_ssl")])
    result = rules.evaluate([hook(11, insecure_ssl="1")], tenant="acme", provider="github", as_of=AS_OF)
    assert result.findings == []
    (error,) = result.errors
    assert error.message == "condition returned string, not a bool"


def test_rule_is_evaluated_only_on_resources_of_its_type() -> None:
    """A repo_hook rule never runs on a repo (where it could only fail)."""
    rules = compile_rules([playbook('resource.config.insecure_ssl == "1"')])
    repo = Resource(type="github.repo", id="/repos/acme/api", data={"name": "api"})
    result = rules.evaluate([repo], tenant="acme", provider="github", as_of=AS_OF)
    assert result.findings == []
    assert result.errors == []


def test_now_is_the_as_of_time_so_time_rules_are_reproducible() -> None:
    """The inactive-repository rule depends on `as_of` only, not on the wall clock."""
    rules = shipped_rules()
    repo = Resource(
        type="github.repo",
        id="/repos/acme/old",
        data={"archived": False, "pushed_at": "2026-03-01T00:00:00Z", "created_at": "2020-01-01T00:00:00Z"},
    )
    rule = "github.repo.inactive_not_archived"
    assert (rule, "/repos/acme/old") in found(rules, [repo], as_of=datetime(2026, 9, 1, tzinfo=UTC))
    assert (rule, "/repos/acme/old") not in found(rules, [repo], as_of=datetime(2026, 8, 1, tzinfo=UTC))
    first = rules.evaluate([repo], tenant="acme", provider="github", as_of=datetime(2026, 9, 1, tzinfo=UTC))
    again = rules.evaluate([repo], tenant="acme", provider="github", as_of=datetime(2026, 9, 1, tzinfo=UTC))
    assert first == again


def test_never_pushed_repository_ages_from_its_creation() -> None:
    """`pushed_at: null` falls back to `created_at` instead of failing."""
    repo = Resource(
        type="github.repo",
        id="/repos/acme/empty",
        data={"archived": False, "pushed_at": None, "created_at": "2025-01-01T00:00:00Z"},
    )
    assert ("github.repo.inactive_not_archived", "/repos/acme/empty") in found(shipped_rules(), [repo])


def test_naive_as_of_is_refused() -> None:
    """An as-of time without a zone is ambiguous, so evaluation refuses it."""
    rules = compile_rules([playbook('resource.config.insecure_ssl == "1"')])
    with pytest.raises(ValueError, match="time zone"):
        rules.evaluate([hook(11, insecure_ssl="1")], tenant="acme", provider="github", as_of=datetime(2026, 1, 1))


def test_findings_are_sorted_by_severity_then_rule_then_resource() -> None:
    """Most urgent first; ties broken by rule id, then resource id."""
    rules = compile_rules(
        [
            playbook('resource.config.insecure_ssl == "1"', pid="b.low", severity="low"),
            playbook('resource.config.insecure_ssl == "1"', pid="a.low", severity="low"),
            playbook('resource.config.insecure_ssl == "1"', pid="z.critical", severity="critical"),
        ]
    )
    result = rules.evaluate(
        [hook(12, insecure_ssl="1"), hook(11, insecure_ssl="1")], tenant="acme", provider="github", as_of=AS_OF
    )
    assert [(f.rule, f.resource.id[-2:]) for f in result.findings] == [
        ("z.critical", "11"),
        ("z.critical", "12"),
        ("a.low", "11"),
        ("a.low", "12"),
        ("b.low", "11"),
        ("b.low", "12"),
    ]


def test_conditions_are_compiled_once_per_rule_set() -> None:
    """compile_rules parses each condition once; evaluating again reuses the compiled rules."""
    rules = compile_rules([playbook('resource.config.insecure_ssl == "1"')])
    (compiled,) = rules.rules
    rules.evaluate([hook(11, insecure_ssl="1")], tenant="acme", provider="github", as_of=AS_OF)
    assert rules.rules[0].condition is compiled.condition
    assert rules.resource_types == frozenset({"github.repo_hook"})
