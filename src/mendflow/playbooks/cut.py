"""Cut the vendors' API descriptions down to what conditions read, as the data file the type checker ships with.

mendflow never reads `tests/specs` at run time: this module turns a vendor description (already a subset, see
tests/specs/README.md) into `mendflow/data/schemas/<provider>.json`, keeping only the schemas reachable from each
resource type and only the keywords that say what shape a value takes. `related` facts are mendflow's own
contract with its connectors, so they are written here and baked into the same file.

Regenerate after a spec subset or a connector's `related` facts change (a test fails while the file is stale):

    python -m mendflow.playbooks.cut tests/specs
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

KEPT = frozenset(
    {
        "type",
        "properties",
        "required",
        "items",
        "oneOf",
        "anyOf",
        "allOf",
        "$ref",
        "nullable",
        "enum",
        "default",
        "format",
        "additionalProperties",
        "discriminator",
    }
)
"""Schema keywords that describe a value's shape; descriptions and examples are dropped."""

SCHEMAS = "#/components/schemas/"


def _ref(name: str, *below: str) -> dict[str, Any]:
    return {"$ref": SCHEMAS + "/".join((name, *below))}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"allOf": [schema], "nullable": True}


def _facts(required: bool = True, **properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": sorted(properties) if required else []}


_GITHUB_REPO_SUMMARY = _facts(
    name=_ref("full-repository", "properties", "name"),
    private=_ref("full-repository", "properties", "private"),
    visibility=_ref("full-repository", "properties", "visibility"),
    archived=_ref("full-repository", "properties", "archived"),
)
_TWO_FACTOR = {"type": "boolean", "nullable": True}
"""None when the caller may not list members by 2FA (not an owner): unknown, not false."""

PROVIDERS: dict[str, dict[str, dict[str, Any]]] = {
    "github": {
        "github.org": {"resource": _ref("organization-full"), "related": _facts()},
        "github.member": {
            "resource": _ref("simple-user"),
            "related": _facts(
                membership=_nullable(
                    _facts(
                        role=_ref("org-membership", "properties", "role"),
                        state=_ref("org-membership", "properties", "state"),
                    )
                ),
                two_factor_disabled=_TWO_FACTOR,
            ),
        },
        "github.outside_collaborator": {
            "resource": _ref("simple-user"),
            "related": _facts(two_factor_disabled=_TWO_FACTOR),
        },
        # The list endpoint's org-hook inlines a string-only config; the config endpoint the hook actions read
        # (and GitHub's docs) say webhook-config, whose insecure_ssl is a string or a number: both shapes occur.
        "github.org_hook": {
            "resource": {"anyOf": [_ref("org-hook"), _facts(required=False, config=_ref("webhook-config"))]},
            "related": _facts(),
        },
        "github.repo": {
            "resource": {"anyOf": [_ref("full-repository"), _ref("minimal-repository")]},
            "related": _facts(
                default_branch_protection=_nullable(_ref("branch-protection")),
                default_branch_rulesets={"type": "array", "items": _ref("repository-ruleset")},
            ),
        },
        "github.repo_hook": {"resource": _ref("hook"), "related": _facts(repo=_GITHUB_REPO_SUMMARY)},
        "github.deploy_key": {"resource": _ref("deploy-key"), "related": _facts(repo=_GITHUB_REPO_SUMMARY)},
        "github.collaborator": {
            "resource": _ref("collaborator"),
            "related": _facts(outside={"type": "boolean"}, repo=_GITHUB_REPO_SUMMARY),
        },
        "github.app_installation": {"resource": _ref("installation"), "related": _facts()},
    },
    "okta": {
        "okta.user": {
            "resource": _ref("User"),
            "related": _facts(
                roles={"type": "array", "items": {"anyOf": [_ref("StandardRole"), _ref("CustomRole")]}},
                factors={"type": "array", "items": _ref("UserFactor")},
            ),
        },
        "okta.group": {"resource": _ref("Group"), "related": _facts()},
        "okta.policy": {"resource": _ref("Policy"), "related": _facts()},
        "okta.policy_rule": {
            "resource": _ref("PolicyRule"),
            "related": _facts(
                policy=_facts(
                    id=_ref("Policy", "properties", "id"),
                    type=_ref("Policy", "properties", "type"),
                    name=_ref("Policy", "properties", "name"),
                )
            ),
        },
        "okta.api_token": {
            "resource": _ref("ApiToken"),
            # None when the token owner's roles could not be read
            "related": _facts(owner_roles={"type": "array", "items": _ref("RoleType"), "nullable": True}),
        },
        "okta.app": {"resource": _ref("Application"), "related": _facts()},
        "okta.oauth_grant": {
            "resource": _ref("OAuth2ScopeConsentGrant"),
            # the app the grant was read under (`GET /api/v1/apps/{appId}/grants`)
            "related": _facts(
                app=_facts(
                    id=_ref("Application", "properties", "id"),
                    label=_ref("Application", "properties", "label"),
                    signOnMode=_ref("Application", "properties", "signOnMode"),
                    status=_ref("Application", "properties", "status"),
                )
            ),
        },
    },
}
"""Provider → resource type → the schema of `resource` and of `related` (the connector's facts)."""

SPEC_FILES = {"github": "github-subset.json", "okta": "okta-subset.normalized.json"}
LICENCES = {"github": "github-subset.LICENSE.txt", "okta": "okta-subset.LICENSE.txt"}


def cut(spec: dict[str, Any], types: dict[str, dict[str, Any]], source: str) -> dict[str, Any]:
    """The data file for one provider: its types' schemas and every component they reach, shape keywords only."""
    components: dict[str, Any] = spec["components"]["schemas"]
    reached: set[str] = set()
    pending = [_strip(schema) for entry in types.values() for schema in entry.values()]
    while pending:
        for ref in _refs(pending.pop()):
            name = ref.removeprefix(SCHEMAS).split("/", 1)[0]
            if name in components and name not in reached:
                reached.add(name)
                pending.append(_strip(components[name]))
    return {
        "source": source,
        "generated_by": "python -m mendflow.playbooks.cut tests/specs",
        "types": {
            name: {part: _strip(schema) for part, schema in entry.items()} for name, entry in sorted(types.items())
        },
        "components": {"schemas": {name: _strip(components[name]) for name in sorted(reached)}},
    }


def _strip(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_strip(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    kept: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in KEPT:
            continue
        if key == "properties":
            kept[key] = {name: _strip(sub) for name, sub in value.items()}
        elif key == "discriminator":
            kept[key] = {k: v for k, v in value.items() if k in ("propertyName", "mapping")}
        elif key in ("enum", "default", "required"):
            kept[key] = value
        else:
            kept[key] = _strip(value)
    return kept


def _refs(schema: Any) -> list[str]:
    found: list[str] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                found.append(value)
            elif key == "discriminator" and isinstance(value, dict):
                found.extend(v for v in value.get("mapping", {}).values() if isinstance(v, str))
            else:
                found.extend(_refs(value))
    elif isinstance(schema, list):
        for item in schema:
            found.extend(_refs(item))
    return found


def render(data: dict[str, Any]) -> str:
    """The file's exact text (stable, so a test can compare it byte for byte)."""
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    """Write `src/mendflow/data/schemas/<provider>.json` (and its licence) from a folder of spec subsets."""
    if len(argv) != 1:
        print("usage: python -m mendflow.playbooks.cut SPEC_FOLDER", file=sys.stderr)
        return 2
    specs = Path(argv[0])
    out = Path(__file__).parents[1] / "data" / "schemas"
    out.mkdir(exist_ok=True)
    for provider, types in PROVIDERS.items():
        spec = json.loads((specs / SPEC_FILES[provider]).read_text(encoding="utf-8"))
        data = cut(spec, types, f"tests/specs/{SPEC_FILES[provider]} (licence: {provider}.LICENSE.txt)")
        (out / f"{provider}.json").write_text(render(data), encoding="utf-8")
        (out / f"{provider}.LICENSE.txt").write_text(
            (specs / LICENCES[provider]).read_text(encoding="utf-8"), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
