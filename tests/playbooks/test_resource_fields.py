"""The field catalogue conditions are checked against: equal to the vendor's schemas, and read from CEL text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mendflow.data import demo_tenant_path
from mendflow.offline import scan_tenant_file
from mendflow.playbooks.resource_fields import RESOURCE_FIELDS, unknown_fields

SPEC = json.loads((Path(__file__).parents[1] / "specs" / "github-subset.json").read_text(encoding="utf-8"))
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]

# Which schemas describe the object a connector yields for each type (a repo is listed, then re-read in full).
VENDOR_SCHEMAS = {
    "github.org": ["organization-full"],
    "github.member": ["simple-user"],
    "github.outside_collaborator": ["simple-user"],
    "github.org_hook": ["org-hook"],
    "github.repo": ["minimal-repository", "full-repository"],
    "github.repo_hook": ["hook"],
    "github.deploy_key": ["deploy-key"],
    "github.collaborator": ["collaborator"],
    "github.app_installation": ["installation"],
}


def properties(name: str) -> set[str]:
    found: set[str] = set()

    def walk(schema: dict[str, Any]) -> None:
        if "$ref" in schema:
            walk(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]])
            return
        for key in ("allOf", "anyOf", "oneOf"):
            for part in schema.get(key, []):
                walk(part)
        found.update(schema.get("properties", {}))

    walk(SCHEMAS[name])
    return found


@pytest.mark.parametrize("resource_type", sorted(VENDOR_SCHEMAS))
def test_catalogue_lists_exactly_the_vendor_schema_fields(resource_type: str) -> None:
    """Top-level fields per GitHub type equal the union of the properties of its schemas in GitHub's description."""
    expected = set().union(*(properties(name) for name in VENDOR_SCHEMAS[resource_type]))
    assert set(RESOURCE_FIELDS[resource_type].resource) == expected


def test_closed_nested_objects_match_their_vendor_schemas() -> None:
    """Hook config and security_and_analysis list the schema's own keys."""
    assert set(RESOURCE_FIELDS["github.repo_hook"].resource["config"] or {}) == properties("webhook-config")
    assert set(RESOURCE_FIELDS["github.org_hook"].resource["config"] or {}) == properties("webhook-config")
    repo = RESOURCE_FIELDS["github.repo"].resource
    assert set(repo["security_and_analysis"] or {}) == properties("security-and-analysis")
    installation = RESOURCE_FIELDS["github.app_installation"].resource
    assert set(installation["permissions"] or {}) == properties("app-permissions")


def test_related_facts_the_connector_produces_are_all_catalogued() -> None:
    """Every `related` key the GitHub connector yields on the demo tenant is in the catalogue, and no other."""
    scan = scan_tenant_file(demo_tenant_path(), [])
    produced: dict[str, set[str]] = {}
    for resource in scan.resources:
        produced.setdefault(resource.type, set()).update(resource.related)
    for resource_type, keys in produced.items():
        assert keys == set(RESOURCE_FIELDS[resource_type].related), resource_type


def test_misspelt_top_level_field_is_found_with_its_offset_and_suggestion() -> None:
    """`resource.confg` is reported at the field name with the intended spelling."""
    (problem,) = unknown_fields('resource.confg.insecure_ssl == "1"', "github.repo_hook")
    assert problem.offset == len("resource.")
    assert "unknown field 'resource.confg' for github.repo_hook — did you mean 'resource.config'?" in problem.message


def test_fields_of_closed_objects_are_checked_and_free_form_ones_are_not() -> None:
    """config.* is checked; below a free-form field (related.default_branch_protection) anything goes."""
    assert unknown_fields("resource.config.insecure_sll == '1'", "github.repo_hook")
    assert not unknown_fields("related.default_branch_protection.anything.at_all == 1", "github.repo")
    assert not unknown_fields("resource.owner.login == 'x'", "github.repo")


def test_index_syntax_strings_comments_and_other_roots_are_understood() -> None:
    """`resource["x"]` is checked; text inside strings, comments, loop variables and `x.resource` are not fields."""
    (problem,) = unknown_fields('resource["confg"] == 1', "github.repo_hook")
    assert "'resource.confg'" in problem.message and problem.offset == len('resource["')
    condition = (
        '"resource.nope" == resource.name // resource.nope\n'
        "&& related.default_branch_rulesets.exists(r, r.resource.nope == 1)\n"
        "&& resource.topics.exists(t, t == 'x') && resource.size() > 0"
    )
    assert unknown_fields(condition, "github.repo") == []


def test_related_of_a_type_without_facts_says_it_has_none() -> None:
    """github.org has no related facts; naming one says so."""
    (problem,) = unknown_fields("related.membership == null", "github.org")
    assert "(it has none)" in problem.message


def test_types_without_a_catalogue_are_not_checked() -> None:
    """A resource type the catalogue does not know (another vendor, added later) is left alone."""
    assert unknown_fields("resource.anything == 1", "example.thing") == []
