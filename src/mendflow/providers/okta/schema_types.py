"""Okta's resource types as schemas of the spec subset (`tests/specs/okta-subset.normalized.json`): what
`resource` is, and the `related` facts the collector adds (`mendflow.playbooks.cut` cuts them into
`mendflow/data/schemas/okta.json`).
"""

from __future__ import annotations

from typing import Any

from mendflow.playbooks.schema_refs import facts, ref

TYPES: dict[str, dict[str, Any]] = {
    "okta.user": {
        "resource": ref("User"),
        "related": facts(
            roles={"type": "array", "items": {"anyOf": [ref("StandardRole"), ref("CustomRole")]}},
            factors={"type": "array", "items": ref("UserFactor")},
        ),
    },
    "okta.group": {"resource": ref("Group"), "related": facts()},
    "okta.policy": {"resource": ref("Policy"), "related": facts()},
    "okta.policy_rule": {
        "resource": ref("PolicyRule"),
        "related": facts(
            policy=facts(
                id=ref("Policy", "properties", "id"),
                type=ref("Policy", "properties", "type"),
                name=ref("Policy", "properties", "name"),
            )
        ),
    },
    "okta.api_token": {
        "resource": ref("ApiToken"),
        # None when the token owner's roles could not be read
        "related": facts(owner_roles={"type": "array", "items": ref("RoleType"), "nullable": True}),
    },
    "okta.app": {"resource": ref("Application"), "related": facts()},
    "okta.oauth_grant": {
        "resource": ref("OAuth2ScopeConsentGrant"),
        # the app the grant was read under (`GET /api/v1/apps/{appId}/grants`)
        "related": facts(
            app=facts(
                id=ref("Application", "properties", "id"),
                label=ref("Application", "properties", "label"),
                signOnMode=ref("Application", "properties", "signOnMode"),
                status=ref("Application", "properties", "status"),
            )
        ),
    },
}
"""Resource type → the schema of `resource` and of `related` (the connector's facts)."""
