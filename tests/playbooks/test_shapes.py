"""Value-shape companions: each case re-run with every documented shape of the fields its condition reads."""

from __future__ import annotations

from typing import Any

import pytest

from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.playbooks.model import Playbook
from mendflow.playbooks.shapes import Expect, run_shape_cases, shape_cases

SHIPPED = {p.id: p for p in load_playbooks([bundled_playbook_dir()]).playbooks}


def playbook(resource: str, when: str, cases: list[dict[str, Any]]) -> Playbook:
    """A playbook built in code, so conditions the loader would refuse can still be run."""
    return Playbook.model_validate(
        {
            "apiVersion": "mendflow/v1",
            "id": "test.shapes.example",
            "title": "shape companions",
            "resource": resource,
            "detect": {"when": when, "severity": "low"},
            "tests": cases,
        }
    )


def failures(book: Playbook) -> list[str]:
    return [problem for result in run_shape_cases([book]) for problem in result.problems]


HOOKS = [
    {
        "name": "an insecure hook and a verifying one",
        "resources": [
            {"id": "/repos/acme/api/hooks/11", "data": {"config": {"insecure_ssl": "1"}}},
            {"id": "/repos/acme/api/hooks/12", "data": {"config": {"insecure_ssl": "0"}}},
        ],
        "expect": {"findings": ["/repos/acme/api/hooks/11"]},
    }
]


def test_the_number_form_the_old_insecure_ssl_condition_missed_fails_its_companion() -> None:
    """`insecure_ssl == "1"` passes its own case but not the companion with the number 1; string() passes both."""
    old = playbook("github.repo_hook", 'resource.config.insecure_ssl == "1"', HOOKS)
    (problem,) = failures(old)
    assert "/repos/acme/api/hooks/11 is not a finding with resource.config.insecure_ssl the number 1" in problem
    assert "but a finding in the case" in problem
    fixed = playbook("github.repo_hook", 'string(resource.config.insecure_ssl) == "1"', HOOKS)
    assert failures(fixed) == []


def test_a_null_that_becomes_a_finding_fails_its_companion() -> None:
    """`!= true` turns GitHub's null (unknown to non-owners) into a finding; `== false` does not."""
    cases = [
        {
            "name": "an org that requires 2FA",
            "resources": [{"id": "/orgs/acme", "data": {"two_factor_requirement_enabled": True}}],
            "expect": {"findings": []},
        }
    ]
    loose = playbook("github.org", "resource.two_factor_requirement_enabled != true", cases)
    assert any(
        "/orgs/acme became a finding with resource.two_factor_requirement_enabled null" in p for p in failures(loose)
    )
    assert failures(playbook("github.org", "resource.two_factor_requirement_enabled == false", cases)) == []


def test_a_time_with_an_offset_fails_a_text_comparison() -> None:
    """Comparing a date-time's text misses the same moment written with another offset; timestamp() does not."""
    cases = [
        {
            "name": "a key last used before June",
            "resources": [{"id": "/repos/acme/api/keys/1", "data": {"last_used": "2026-05-31T23:30:00Z"}}],
            "expect": {"findings": ["/repos/acme/api/keys/1"]},
        }
    ]
    as_text = playbook("github.deploy_key", 'resource.last_used < "2026-06-01T00:00:00Z"', cases)
    assert any("a time with a +02:00 offset" in p for p in failures(as_text))
    as_time = playbook(
        "github.deploy_key",
        'resource.last_used != null && timestamp(resource.last_used) < timestamp("2026-06-01T00:00:00Z")',
        cases,
    )
    assert failures(as_time) == []


def test_an_absent_field_must_come_out_as_its_documented_default() -> None:
    """GitHub documents anonymous_access_enabled as true when absent: a bare comparison cannot see that."""
    cases = [
        {
            "name": "anonymous access on",
            "resources": [{"id": "/repos/acme/api", "data": {"anonymous_access_enabled": True}}],
            "expect": {"findings": ["/repos/acme/api"]},
        }
    ]
    bare = playbook("github.repo", "resource.anonymous_access_enabled == true", cases)
    (shape,) = [s for s in shape_cases(bare) if s.absent]
    assert shape.expect is Expect.as_default and shape.default is True
    assert any("with the documented default True" in p for p in failures(bare))
    guarded = playbook(
        "github.repo", "!has(resource.anonymous_access_enabled) || resource.anonymous_access_enabled", cases
    )
    assert not [s for s in shape_cases(guarded) if s.absent]  # the condition answers absence itself


def test_companions_are_few_per_field_and_data_that_round_trips() -> None:
    """One resource that is a finding and one that is not per field and shape; each companion is plain data."""
    generated = shape_cases(SHIPPED["github.repo_hook.insecure_ssl"])
    keys = [(s.field, s.variant.split(" ")[0], s.resource_id) for s in generated]
    assert len(keys) == len(set(keys))
    assert {s.variant for s in generated} >= {"the number 1", "the number 0", "absent"}
    assert all(type(s).model_validate(s.model_dump(mode="json")) == s for s in generated)


@pytest.mark.parametrize(
    "playbook_id",
    ["github.repo_hook.insecure_ssl", "github.org.two_factor_not_required", "github.deploy_key.stale"],
)
def test_shipped_playbooks_hold_on_every_documented_shape(playbook_id: str) -> None:
    """Shipped playbooks whose fields have several documented shapes pass all their companions."""
    results = run_shape_cases([SHIPPED[playbook_id]])
    assert results
    assert [(r.name, r.problems) for r in results if not r.passed] == []


def test_playbooks_test_runs_the_companions_and_playbooks_shapes_prints_them() -> None:
    """`mendflow playbooks test ID` prints a PASS line per companion and counts them; `shapes` prints the data."""
    from typer.testing import CliRunner

    from mendflow.cli.playbooks_cmd import app

    pid = "github.org_hook.without_secret"  # few companions: this test is about the command, not the shapes
    done = CliRunner().invoke(app, ["test", pid])
    assert done.exit_code == 0, done.output
    assert f"PASS  {pid} › shape: resource.active as absent on /orgs/acme/hooks/" in done.output
    count = len(shape_cases(SHIPPED[pid]))
    assert f"{count} shape companion(s), 1 playbook(s))" in done.output and count > 0
    assert f"{len(SHIPPED[pid].tests) + count} passed, 0 failed" in done.output
    skipped = CliRunner().invoke(app, ["test", pid, "--no-shapes"])
    assert "shape:" not in skipped.output and "shape companion(s)" not in skipped.output
    listed = CliRunner().invoke(app, ["shapes", pid])
    assert listed.exit_code == 0, listed.output
    assert listed.output.startswith(f"shapes:\n- playbook_id: {pid}")
    assert listed.output.count("- playbook_id: ") == count
