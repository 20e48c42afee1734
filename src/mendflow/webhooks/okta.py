"""Okta event hooks: the shared-secret header, the one-time verification, and which resources events are about.

Okta sends every delivery (and the verification request) with the header configured on the event hook, usually
`Authorization: <secret>`; there is no body signature. Verification: a GET carrying
`x-okta-verification-challenge`, answered with `{"verification": <that value>}`. A delivery's JSON has a
top-level `eventId` and `data.events[]`, each with an `eventType` and `target[]` objects (`id`, `type`).
`okta_targets` maps those to canonical API paths for a targeted rescan.
"""

from __future__ import annotations

import hmac
from typing import Any

from mendflow.webhooks.payload import PayloadError, field

CHALLENGE_HEADER = "x-okta-verification-challenge"

_PATHS = {
    "user": "/api/v1/users/{id}",
    "usergroup": "/api/v1/groups/{id}",
    "appinstance": "/api/v1/apps/{id}",
    "policyentity": "/api/v1/policies/{id}",
    "token": "/api/v1/api-tokens/{id}",
    "apitoken": "/api/v1/api-tokens/{id}",
}
"""System Log target types (case-insensitive) → the path a targeted rescan reads."""
EVENT_PREFIXES = (
    "user.lifecycle.",
    "user.account.",
    "user.mfa.factor.",
    "iam.role.",
    "group.user_membership.",
    "group.lifecycle.",
    "policy.",
    "system.api_token.",
    "application.lifecycle.",
)
"""Event types that change something mendflow collects: users (lifecycle, admin roles, factors), groups,
policies and their rules, API tokens, apps."""


def secret_matches(secret: str, header: str) -> bool:
    """Constant-time comparison of the configured shared secret with the header Okta sent."""
    return hmac.compare_digest(secret.encode(), header.encode())


def delivery_id(payload: Any) -> str:
    """The delivery's `eventId` (Okta resends the same one when it retries)."""
    return str(field(payload, "eventId"))


def okta_targets(payload: Any) -> list[str]:
    """The canonical paths a delivery's events are about; PayloadError names the first malformed field."""
    events = (payload.get("data") or {}).get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list):
        raise PayloadError("data.events", "expected a list of events")
    out: list[str] = []
    for n, event in enumerate(events):
        kind = event.get("eventType") if isinstance(event, dict) else None
        if not isinstance(kind, str):
            raise PayloadError(f"data.events[{n}].eventType", "missing")
        if not kind.startswith(EVENT_PREFIXES):
            continue
        targets = event.get("target") or []
        if not isinstance(targets, list):
            raise PayloadError(f"data.events[{n}].target", "expected a list")
        for target in targets:
            template = _PATHS.get(str(target.get("type", "")).lower()) if isinstance(target, dict) else None
            if template is None:
                continue
            path = template.format(id=field({"id": target.get("id")}, "id"))
            if template == _PATHS["policyentity"] and kind.startswith("policy.rule."):
                path += "/rules"  # a rule changed: re-read the policy's rules (the rule target has no policy id)
            out.append(path)
    return list(dict.fromkeys(out))


__all__ = ["CHALLENGE_HEADER", "EVENT_PREFIXES", "delivery_id", "okta_targets", "secret_matches"]
