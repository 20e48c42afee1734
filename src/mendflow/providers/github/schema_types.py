"""GitHub's resource types as schemas of the spec subset (`tests/specs/github-subset.json`): what `resource` is,
and the `related` facts the collector adds (`mendflow.playbooks.cut` cuts them into
`mendflow/data/schemas/github.json`).
"""

from __future__ import annotations

from typing import Any

from mendflow.playbooks.schema_refs import facts, nullable, ref

_REPO_SUMMARY = facts(
    name=ref("full-repository", "properties", "name"),
    private=ref("full-repository", "properties", "private"),
    visibility=ref("full-repository", "properties", "visibility"),
    archived=ref("full-repository", "properties", "archived"),
)
_TWO_FACTOR = {"type": "boolean", "nullable": True}
"""None when the caller may not list members by 2FA (not an owner): unknown, not false."""

TYPES: dict[str, dict[str, Any]] = {
    "github.org": {"resource": ref("organization-full"), "related": facts()},
    "github.member": {
        "resource": ref("simple-user"),
        "related": facts(
            membership=nullable(
                facts(
                    role=ref("org-membership", "properties", "role"),
                    state=ref("org-membership", "properties", "state"),
                )
            ),
            two_factor_disabled=_TWO_FACTOR,
        ),
    },
    "github.outside_collaborator": {
        "resource": ref("simple-user"),
        "related": facts(two_factor_disabled=_TWO_FACTOR),
    },
    # The list endpoint's org-hook inlines a string-only config; the config endpoint the hook actions read
    # (and GitHub's docs) say webhook-config, whose insecure_ssl is a string or a number: both shapes occur.
    "github.org_hook": {
        "resource": {"anyOf": [ref("org-hook"), facts(required=False, config=ref("webhook-config"))]},
        "related": facts(),
    },
    "github.repo": {
        "resource": {"anyOf": [ref("full-repository"), ref("minimal-repository")]},
        "related": facts(
            default_branch_protection=nullable(ref("branch-protection")),
            default_branch_rulesets={"type": "array", "items": ref("repository-ruleset")},
        ),
    },
    "github.repo_hook": {"resource": ref("hook"), "related": facts(repo=_REPO_SUMMARY)},
    "github.deploy_key": {"resource": ref("deploy-key"), "related": facts(repo=_REPO_SUMMARY)},
    "github.collaborator": {
        "resource": ref("collaborator"),
        "related": facts(outside={"type": "boolean"}, repo=_REPO_SUMMARY),
    },
    "github.app_installation": {"resource": ref("installation"), "related": facts()},
}
"""Resource type → the schema of `resource` and of `related` (the connector's facts)."""
