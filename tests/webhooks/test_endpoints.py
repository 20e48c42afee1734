"""POST /webhooks/github and GET|POST /webhooks/okta over loopback HTTP: each refusal has its status and its
audit record and requests no rescan; replays are ignored; the canary secrets and payloads never reach a log line,
an audit record or an answer."""

from __future__ import annotations

import io
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from mendflow.api.app import create_api_app
from mendflow.api.webhooks import MemoryDeliveryLog, WebhookReceiver
from mendflow.audit import AuditLog
from mendflow.providers.github.webhooks import github_signature
from mendflow.runtime.loopback import serve_in_thread
from mendflow.secrets import SecretRef
from mendflow.telemetry import configure_logging
from mendflow.webhooks import WebhookSettings, WebhookTenant

CANARY_PAYLOAD = "canary-payload-5f1d"
REPO = {"name": "web", "full_name": "acme/web", "owner": {"login": "acme"}, "description": CANARY_PAYLOAD}


@dataclass
class Hooks:
    url: str
    audit: AuditLog
    github_secret: str
    okta_secret: str
    asked: list[tuple[str, list[str], str]] = field(default_factory=list)
    failing: list[bool] = field(default_factory=lambda: [False])

    def post_github(
        self,
        event: str,
        payload: Any,
        *,
        delivery: str | None = None,
        secret: str | None = None,
        **headers: str | bytes,
    ) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent: dict[str, str | bytes] = {
            "x-github-event": event,
            "x-github-delivery": delivery or str(uuid.uuid4()),
            "x-hub-signature-256": github_signature(secret or self.github_secret, body),
            "content-type": "application/json",
        }
        sent.update(headers)
        return httpx.post(f"{self.url}/webhooks/github", content=body, headers={k: v for k, v in sent.items() if v})

    def post_okta(self, payload: Any, *, secret: str | None = None) -> httpx.Response:
        headers = {"authorization": secret if secret is not None else self.okta_secret}
        body = json.dumps(payload).encode()
        return httpx.post(f"{self.url}/webhooks/okta", content=body, headers={k: v for k, v in headers.items() if v})

    def last(self) -> dict[str, Any]:
        return self.audit.records()[-1]


@pytest.fixture
def hooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hooks]:
    github_secret, okta_secret = "canary-gh-" + secrets.token_hex(8), "canary-okta-" + secrets.token_hex(8)
    monkeypatch.setenv("T_GH_HOOK", github_secret)
    monkeypatch.setenv("T_OKTA_HOOK", okta_secret)
    config = WebhookSettings(
        tenants=(
            WebhookTenant(tenant="github:acme", provider="github", secret=SecretRef(ref="env:T_GH_HOOK")),
            WebhookTenant(tenant="okta:acme", provider="okta", secret=SecretRef(ref="env:T_OKTA_HOOK")),
        ),
        max_body=4096,
    )
    audit = AuditLog(tmp_path / "audit.jsonl")
    state = Hooks("", audit, github_secret, okta_secret)

    async def rescan(tenant: str, targets: list[str], source: str) -> None:
        if state.failing[0]:
            raise RuntimeError("temporal unreachable")
        state.asked.append((tenant, targets, source))

    receiver = WebhookReceiver(config, audit=audit, deliveries=MemoryDeliveryLog(), rescan=rescan)
    with serve_in_thread(create_api_app(audit=audit, webhooks=receiver)) as server:
        state.url = server.base_url
        yield state


def test_a_signed_github_delivery_requests_a_rescan_of_what_it_names(hooks: Hooks) -> None:
    """A signed `repository` event: 202, one rescan of the repository, audited as accepted."""
    answer = hooks.post_github("repository", {"action": "edited", "repository": REPO}, delivery="d-1")
    assert answer.status_code == 202
    assert hooks.asked == [("github:acme", ["/repos/acme/web"], "github delivery d-1")]
    assert hooks.last()["outcome"] == "accepted" and hooks.last()["details"]["delivery"] == "d-1"


def test_ping_is_answered_and_rescans_nothing(hooks: Hooks) -> None:
    """GitHub's `ping` on webhook creation: 200, nothing asked."""
    assert hooks.post_github("ping", {"zen": "Keep it logically awesome.", "hook_id": 1}).status_code == 200
    assert hooks.asked == []


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"x-hub-signature-256": ""}, "unsigned"),
        ({"x-hub-signature-256": "sha256=" + "0" * 64}, "matches no configured tenant"),
        ({"x-hub-signature-256": "sha1=abc"}, "malformed"),
        ({"x-hub-signature-256": "sha256=" + "é" * 64}, "malformed"),
    ],
    ids=["unsigned", "mis-signed", "malformed-signature", "non-ascii-signature"],
)
def test_unsigned_or_mis_signed_github_deliveries_are_refused_401_and_audited(
    hooks: Hooks, headers: dict[str, str], reason: str
) -> None:
    """No signature, a wrong one or a malformed one: 401, audited, no rescan."""
    sent = {k: v.encode() for k, v in headers.items()}  # raw bytes: a client need not send ASCII
    answer = hooks.post_github("repository", {"repository": REPO}, **sent)
    assert answer.status_code == 401
    assert hooks.asked == []
    assert hooks.last()["outcome"] == "refused" and reason in hooks.last()["reason"]


def test_a_delivery_signed_with_another_secret_is_refused(hooks: Hooks) -> None:
    """The body signed with a secret no tenant has: 401."""
    assert hooks.post_github("repository", {"repository": REPO}, secret="not-the-secret").status_code == 401
    assert hooks.asked == []


def test_a_replayed_delivery_is_ignored_and_audited(hooks: Hooks) -> None:
    """The same delivery id twice: the second is answered 200, audited as ignored, and asks for nothing."""
    payload = {"action": "edited", "repository": REPO}
    assert hooks.post_github("repository", payload, delivery="d-7").status_code == 202
    again = hooks.post_github("repository", payload, delivery="d-7")
    assert again.status_code == 200 and again.json() == {"ignored": "duplicate delivery"}
    assert len(hooks.asked) == 1
    assert hooks.last()["outcome"] == "ignored" and "replayed" in hooks.last()["reason"]


def test_an_oversized_delivery_is_refused_413_and_audited(hooks: Hooks) -> None:
    """A body past `max_body`: 413 before any signature is computed."""
    big = {"repository": REPO, "padding": "x" * 5000}
    assert hooks.post_github("repository", big).status_code == 413
    assert hooks.asked == [] and hooks.last()["outcome"] == "refused"
    assert "exceeds" in hooks.last()["reason"]


@pytest.mark.parametrize(
    ("body", "field_path"),
    [(b"{not json", None), (b"[1, 2]", None), (json.dumps({"action": "edited"}).encode(), "repository")],
    ids=["not-json", "not-an-object", "missing-field"],
)
def test_a_malformed_signed_delivery_is_refused_400_naming_the_field(
    hooks: Hooks, body: bytes, field_path: str | None
) -> None:
    """Signed but not JSON, or without the event's fields: 400 (naming the field), audited, no rescan."""
    answer = hooks.post_github("repository", body)
    assert answer.status_code == 400
    assert hooks.asked == [] and hooks.last()["outcome"] == "refused"
    if field_path:
        assert answer.json()["field"] == field_path


def test_a_delivery_that_cannot_be_handed_over_is_retried_not_replayed(hooks: Hooks) -> None:
    """Temporal unreachable: 503 and an error record; the vendor's retry of the same delivery then goes through."""
    hooks.failing[0] = True
    payload = {"action": "edited", "repository": REPO}
    assert hooks.post_github("repository", payload, delivery="d-9").status_code == 503
    assert hooks.last()["outcome"] == "error"
    hooks.failing[0] = False
    assert hooks.post_github("repository", payload, delivery="d-9").status_code == 202
    assert len(hooks.asked) == 1


def _okta_delivery(event_id: str = "ev-1") -> dict[str, Any]:
    event = {"eventType": "user.lifecycle.suspend", "target": [{"id": "00u1", "type": "User", "login": CANARY_PAYLOAD}]}
    return {"eventType": "com.okta.event_hook", "eventId": event_id, "data": {"events": [event]}}


def test_okta_verification_challenge_is_answered_only_with_the_shared_secret(hooks: Hooks) -> None:
    """Okta's one-time GET: echoed back with the secret header, 401 without it."""
    challenge = {"x-okta-verification-challenge": "chal-123"}
    ok = httpx.get(f"{hooks.url}/webhooks/okta", headers={**challenge, "authorization": hooks.okta_secret})
    assert ok.status_code == 200 and ok.json() == {"verification": "chal-123"}
    assert httpx.get(f"{hooks.url}/webhooks/okta", headers=challenge).status_code == 401
    assert hooks.last()["outcome"] == "refused"


def test_okta_deliveries_need_the_shared_secret_and_are_not_replayed(hooks: Hooks) -> None:
    """No header or a wrong one: 401 and audited; the right one: 200 and a rescan; the same eventId again: ignored."""
    assert hooks.post_okta(_okta_delivery(), secret="").status_code == 401
    assert hooks.post_okta(_okta_delivery(), secret="wrong").status_code == 401
    assert hooks.asked == []
    assert hooks.post_okta(_okta_delivery()).status_code == 200
    assert hooks.asked == [("okta:acme", ["/api/v1/users/00u1"], "okta delivery ev-1")]
    assert hooks.post_okta(_okta_delivery()).json() == {"ignored": "duplicate delivery"}
    assert len(hooks.asked) == 1
    bad = hooks.post_okta({"eventId": "ev-2", "data": {}})
    assert bad.status_code == 400 and bad.json()["field"] == "data.events"


def test_canary_secrets_and_payloads_never_reach_logs_audit_or_answers(hooks: Hooks) -> None:
    """Every refusal and acceptance above, once more: neither secret nor payload text appears anywhere."""
    stream = io.StringIO()
    configure_logging(level="DEBUG", json_output=True, stream=stream)
    answers = [
        hooks.post_github("repository", {"action": "edited", "repository": REPO}),
        hooks.post_github("repository", {"repository": REPO}, secret="nope"),
        hooks.post_github("repository", {"repository": {**REPO, "name": CANARY_PAYLOAD + "/x"}}),
        hooks.post_github("repository", {"repository": REPO, "padding": CANARY_PAYLOAD * 500}),
        hooks.post_okta(_okta_delivery("ev-9")),
        hooks.post_okta(_okta_delivery("ev-10"), secret=hooks.okta_secret + "x"),
    ]
    assert [a.status_code for a in answers] == [202, 401, 400, 413, 200, 401]
    assert hooks.audit.path is not None
    seen = "\n".join([stream.getvalue(), *(a.text for a in answers), hooks.audit.path.read_text()])
    for canary in (hooks.github_secret, hooks.okta_secret, CANARY_PAYLOAD):
        assert canary not in seen
    assert stream.getvalue().count("webhook refused") == 4  # the refusals were logged, just safely
