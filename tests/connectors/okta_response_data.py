"""The demo Okta org plus what response workflows act on: group members, open sessions, OAuth refresh tokens and
a few System Log events (the tenant file's optional sections)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mendflow.sim.generate import okta_id
from mendflow.tenant import TenantFile, parse_tenant

DEMO = Path(__file__).resolve().parents[2] / "src" / "mendflow" / "data" / "demo-okta.json"
ALICE, BOB, DAVE = okta_id("00u", 1), okta_id("00u", 2), okta_id("00u", 4)
EVERYONE, ENGINEERING, ADMINS = (okta_id("00g", n) for n in (1, 2, 3))
SALESFORCE, LEGACY_HR = okta_id("0oa", 3), okta_id("0oa", 4)
DAVE_ROLE = "ra100000000000004sim"


def _event(uuid: str, published: str, event_type: str, target: str) -> dict[str, Any]:
    return {
        "uuid": uuid, "published": published, "eventType": event_type, "displayMessage": event_type,
        "severity": "INFO", "outcome": {"result": "SUCCESS"},
        "actor": {"id": ALICE, "type": "User", "alternateId": "alice@acme.example"},
        "target": [{"id": target, "type": "User"}],
    }  # fmt: skip


def response_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DEMO.read_text(encoding="utf-8"))
    okta = document["okta"]
    okta["group_members"] = {EVERYONE: [ALICE, BOB, DAVE], ENGINEERING: [BOB, DAVE], ADMINS: [DAVE]}
    okta["sessions"] = {BOB: 2}
    okta["refresh_tokens"] = [
        {"id": "oar1simtoken00000001", "status": "ACTIVE", "clientId": SALESFORCE, "userId": BOB,
         "issuer": "https://acme.okta.com/oauth2/default", "scopes": ["openid", "offline_access"],
         "created": "2026-10-01T00:00:00.000Z", "lastUpdated": "2026-10-01T00:00:00.000Z",
         "expiresAt": "2026-12-31T00:00:00.000Z"},
    ]  # fmt: skip
    okta["grants"].append(
        {"id": "oag1simgrant00000002", "status": "ACTIVE", "issuer": "https://acme.okta.com", "scopeId":
         "okta.users.read", "clientId": SALESFORCE, "userId": BOB, "source": "END_USER",
         "created": "2026-03-01T00:00:00.000Z", "lastUpdated": "2026-03-01T00:00:00.000Z"}
    )  # fmt: skip
    okta["log_events"] = [
        _event("evt-00000000-0001", "2026-11-01T10:00:00.000Z", "user.session.start", BOB),
        _event("evt-00000000-0002", "2026-11-02T10:00:00.000Z", "user.account.update_password", BOB),
        _event("evt-00000000-0003", "2026-11-03T10:00:00.000Z", "user.session.start", DAVE),
    ]
    return document


def response_tenant() -> TenantFile:
    return parse_tenant(response_document(), source="test")
