"""Okta's remediation actions: where each setting lives in the object and which call writes it.

- users are suspended and unsuspended through lifecycle operations, never by editing `status`;
- policies and rules are replaced whole (`PUT`) from their current body, read-only keys stripped, so the
  captured field values are the rollback and everything else travels unchanged;
- API tokens and OAuth apps' scope grants are revoked with `DELETE`, which cannot be undone.
"""

from __future__ import annotations

from mendflow.actions import ACTIONS
from mendflow.connectors.actions import (
    FieldAction,
    ReplaceAction,
    RevokeAction,
    TransitionAction,
    read_paths,
    revocation_state,
)
from mendflow.providers.okta.response_actions import OKTA_RESPONSE_ACTIONS

_SESSION = ("actions", "signon", "session")
RULE_PATHS: dict[str, tuple[str, ...]] = {
    "max_session_lifetime_minutes": (*_SESSION, "maxSessionLifetimeMinutes"),
    "max_session_idle_minutes": (*_SESSION, "maxSessionIdleMinutes"),
    "use_persistent_cookie": (*_SESSION, "usePersistentCookie"),
    "factor_mode": ("actions", "appSignOn", "verificationMethod", "factorMode"),
}
_PASSWORD = ("settings", "password")
PASSWORD_PATHS: dict[str, tuple[str, ...]] = {
    "min_length": (*_PASSWORD, "complexity", "minLength"),
    "min_lower_case": (*_PASSWORD, "complexity", "minLowerCase"),
    "min_upper_case": (*_PASSWORD, "complexity", "minUpperCase"),
    "min_number": (*_PASSWORD, "complexity", "minNumber"),
    "min_symbol": (*_PASSWORD, "complexity", "minSymbol"),
    "exclude_common": (*_PASSWORD, "complexity", "dictionary", "common", "exclude"),
    "history_count": (*_PASSWORD, "age", "historyCount"),
    "max_age_days": (*_PASSWORD, "age", "maxAgeDays"),
    "min_age_minutes": (*_PASSWORD, "age", "minAgeMinutes"),
    "max_attempts": (*_PASSWORD, "lockout", "maxAttempts"),
}

OKTA_ACTIONS: dict[str, FieldAction] = {
    action.spec.name: action
    for action in (
        TransitionAction(
            spec=ACTIONS["okta.user.set_status"],
            read_fields=read_paths({"status": ("status",)}),
            field="status",
            transitions={
                ("ACTIVE", "SUSPENDED"): "/lifecycle/suspend",
                ("SUSPENDED", "ACTIVE"): "/lifecycle/unsuspend",
            },
        ),
        ReplaceAction(
            spec=ACTIONS["okta.policy_rule.update"],
            read_fields=read_paths(RULE_PATHS),
            paths=RULE_PATHS,
        ),
        ReplaceAction(
            spec=ACTIONS["okta.policy.update_password"],
            read_fields=read_paths(PASSWORD_PATHS),
            paths=PASSWORD_PATHS,
        ),
        RevokeAction(spec=ACTIONS["okta.api_token.revoke"], read_fields=revocation_state),
        RevokeAction(spec=ACTIONS["okta.oauth_grant.revoke"], read_fields=revocation_state),
    )
} | OKTA_RESPONSE_ACTIONS
"""Campaign actions, and the response workflows' (sessions, OAuth grants, groups, roles, apps: their module)."""
