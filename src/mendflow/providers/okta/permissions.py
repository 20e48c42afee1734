"""Okta OAuth scopes as data: the `oauth2` security requirement of each operation in Okta's Management API
description (`tests/connectors/test_permissions.py` checks them against `tests/specs/okta-subset.normalized.json`),
what each action needs, the reads `doctor` tries an API token with, and how a service app's grant is learned
(Okta's `Provider.permissions`).
"""

from __future__ import annotations

from mendflow.config import TenantConnection
from mendflow.connectors.credentials import Credential
from mendflow.connectors.permissions import Need, Permissions, need, response_need

NEEDS: tuple[Need, ...] = (
    need("GET", "/api/v1/users", "okta.users.read", "read users"),
    need("GET", "/api/v1/users/{id}", "okta.users.read", "read users"),
    need("GET", "/api/v1/users/{id}/factors", "okta.users.read", "read users' MFA factors"),
    need("POST", "/api/v1/users/{id}/lifecycle/suspend", "okta.users.manage", "suspend users"),
    need("POST", "/api/v1/users/{id}/lifecycle/unsuspend", "okta.users.manage", "suspend users"),
    need("GET", "/api/v1/users/{id}/roles", "okta.roles.read", "read admin role assignments"),
    need("GET", "/api/v1/iam/assignees/users", "okta.roles.read", "read admin role assignments"),
    need("GET", "/api/v1/policies", "okta.policies.read", "read policies"),
    need("GET", "/api/v1/policies/{id}", "okta.policies.read", "read policies"),
    need("PUT", "/api/v1/policies/{id}", "okta.policies.manage", "change policies"),
    need("GET", "/api/v1/policies/{id}/rules", "okta.policies.read", "read policies"),
    need("GET", "/api/v1/policies/{id}/rules/{rule_id}", "okta.policies.read", "read policies"),
    need("PUT", "/api/v1/policies/{id}/rules/{rule_id}", "okta.policies.manage", "change policies"),
    need("GET", "/api/v1/api-tokens", "okta.apiTokens.read", "read API tokens"),
    need("GET", "/api/v1/api-tokens/{id}", "okta.apiTokens.read", "read API tokens"),
    need("DELETE", "/api/v1/api-tokens/{id}", "okta.apiTokens.manage", "revoke API tokens"),
    need("GET", "/api/v1/apps", "okta.apps.read", "read apps"),
    need("GET", "/api/v1/groups", "okta.groups.read", "read groups"),
    need("GET", "/api/v1/apps/{appId}/grants", "okta.appGrants.read", "read OAuth apps' scope grants"),
    need("GET", "/api/v1/apps/{appId}/grants/{grantId}", "okta.appGrants.read", "read OAuth apps' scope grants"),
    need("DELETE", "/api/v1/apps/{appId}/grants/{grantId}", "okta.appGrants.manage", "revoke OAuth scope grants"),
    response_need("DELETE", "/api/v1/users/{userId}/sessions", "okta.users.manage", "clear users' sessions"),
    response_need("DELETE", "/api/v1/users/{userId}/grants", "okta.users.manage", "revoke users' OAuth grants"),
    response_need("GET", "/api/v1/users/{userId}/clients", "okta.users.read", "read users' OAuth clients"),
    response_need(
        "GET", "/api/v1/users/{userId}/clients/{clientId}/tokens", "okta.users.read", "read users' refresh tokens"
    ),
    response_need(
        "DELETE", "/api/v1/users/{userId}/clients/{clientId}/tokens", "okta.users.manage", "revoke refresh tokens"
    ),
    response_need("GET", "/api/v1/users/{id}/groups", "okta.users.read", "read group memberships"),
    response_need("PUT", "/api/v1/groups/{groupId}/users/{userId}", "okta.groups.manage", "change group memberships"),
    response_need(
        "DELETE", "/api/v1/groups/{groupId}/users/{userId}", "okta.groups.manage", "change group memberships"
    ),
    response_need("POST", "/api/v1/users/{userId}/roles", "okta.roles.manage", "assign admin roles"),
    response_need(
        "DELETE", "/api/v1/users/{userId}/roles/{roleAssignmentId}", "okta.roles.manage", "unassign admin roles"
    ),
    response_need("GET", "/api/v1/apps/{appId}", "okta.apps.read", "read apps"),
    response_need(
        "POST", "/api/v1/apps/{appId}/lifecycle/activate", "okta.apps.manage", "activate and deactivate apps"
    ),
    response_need(
        "POST", "/api/v1/apps/{appId}/lifecycle/deactivate", "okta.apps.manage", "activate and deactivate apps"
    ),
    response_need("GET", "/api/v1/logs", "okta.logs.read", "read the System Log"),
)

ACTION_NEEDS: dict[str, str] = {
    "okta.user.set_status": "okta.users.manage",
    "okta.policy_rule.update": "okta.policies.manage",
    "okta.policy.update_password": "okta.policies.manage",
    "okta.api_token.revoke": "okta.apiTokens.manage",
    "okta.oauth_grant.revoke": "okta.appGrants.manage",
    "okta.user.clear_sessions": "okta.users.manage",
    "okta.user.revoke_grants": "okta.users.manage",
    "okta.group_membership.set": "okta.groups.manage",
    "okta.role_assignment.unassign": "okta.roles.manage",
    "okta.app.set_status": "okta.apps.manage",
}
"""The write scope each Okta action needs (its reads are the scan's)."""

READ_SCOPES: tuple[str, ...] = tuple(sorted({n.permission for n in NEEDS if n.method == "GET" and n.scan}))
"""The scopes a scan reads with (a service app asks for these, and for a write's own scope when it writes)."""

READ_PROBES: dict[str, str] = {
    "okta.users.read": "/api/v1/users?limit=1",
    "okta.roles.read": "/api/v1/iam/assignees/users?limit=1",
    "okta.policies.read": "/api/v1/policies?type=OKTA_SIGN_ON&limit=1",
    "okta.apiTokens.read": "/api/v1/api-tokens",
    "okta.apps.read": "/api/v1/apps?limit=1",
    "okta.groups.read": "/api/v1/groups?limit=1",
}
"""One small read per scope, for an SSWS API token (whose privileges cannot be listed)."""


async def _granted(connection: TenantConnection, credential: Credential) -> frozenset[str] | None:
    """The scopes Okta grants the service app: declared, or asked all at once, then one by one; None for an API
    token."""
    from mendflow.providers.okta.app_auth import OktaServiceCredential, token_error

    if not isinstance(credential, OktaServiceCredential):
        return None
    if credential.auth.scopes is not None:
        return frozenset(credential.auth.scopes)
    known = {n.permission for n in NEEDS} | set(ACTION_NEEDS.values())
    candidates = frozenset(p for p in known if p.startswith("okta."))
    answer = await credential.request_token(candidates)
    if token_error(answer) is None:
        return candidates
    if token_error(answer) != "invalid_scope":
        credential.accept(answer)  # raises the clear error (invalid_client, DPoP, …)
    found = [s for s in sorted(candidates) if token_error(await credential.request_token(frozenset({s}))) is None]
    return frozenset(found)


PERMISSIONS = Permissions(
    needs=NEEDS,
    actions=ACTION_NEEDS,
    read_probes=READ_PROBES,
    granted=_granted,
    long_lived_warning="an SSWS API token has no scopes: it holds every privilege of the admin who made it; "
    "use a service app",
)
