"""Behaviour of the Okta simulator over real loopback HTTP: auth schemes, cursor pagination, rate-limit buckets,
Okta error objects, filters and state-changing writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from mendflow.runtime.loopback import serve_in_thread
from mendflow.sim.common import FaultPlan
from mendflow.sim.generate import okta_id, okta_tenant
from mendflow.sim.okta import create_okta_app
from mendflow.tenant import TenantFile, load_tenant_file, parse_tenant

DEMO = Path(__file__).resolve().parents[2] / "src" / "mendflow" / "data" / "demo-okta.json"
TOKEN = "00sim-okta-token-0123456789"
ALICE, BOB = okta_id("00u", 1), okta_id("00u", 2)


@pytest.fixture
def tenant() -> TenantFile:
    return load_tenant_file(DEMO)


def _client(app: Starlette, scheme: str = "SSWS") -> Iterator[httpx.Client]:
    headers = {"Authorization": f"{scheme} {TOKEN}"}
    with serve_in_thread(app) as server, httpx.Client(base_url=server.base_url, headers=headers) as client:
        yield client


@pytest.fixture
def okta(tenant: TenantFile) -> Iterator[httpx.Client]:
    yield from _client(create_okta_app(tenant, token=TOKEN))


def test_ssws_and_bearer_are_accepted_and_anything_else_is_401(okta: httpx.Client) -> None:
    """Both Okta schemes work; a missing, wrong or Basic credential gets Okta's E0000011 and no echo."""
    assert okta.get(f"/api/v1/users/{ALICE}").status_code == 200
    assert okta.get(f"/api/v1/users/{ALICE}", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    for header in ("", "SSWS wrong-token", f"Basic {TOKEN}"):
        response = okta.get(f"/api/v1/users/{ALICE}", headers={"Authorization": header})
        assert response.status_code == 401 and response.json()["errorCode"] == "E0000011"
        assert "wrong-token" not in response.text


def test_cursor_pagination_visits_every_listed_user_once(okta: httpx.Client, tenant: TenantFile) -> None:
    """`limit` + `after` links walk all users but DEPROVISIONED ones, each once, in order."""
    expected = [u["id"] for u in tenant.section()["users"] if u["status"] != "DEPROVISIONED"]
    response = okta.get("/api/v1/users", params={"limit": 3})
    seen = [u["id"] for u in response.json()]
    while "next" in response.links:
        assert "after=" in response.links["next"]["url"] and "limit=3" in response.links["next"]["url"]
        response = okta.get(response.links["next"]["url"])
        seen += [u["id"] for u in response.json()]
    assert seen == expected
    assert 'rel="self"' in response.headers["link"]


def test_limit_is_capped_at_the_endpoint_maximum() -> None:
    """Asking for 1,000 users per page gets Okta's maximum of 200."""
    app = create_okta_app(parse_tenant(okta_tenant(users=450), source="generated"), token=TOKEN)
    for client in _client(app):
        first = client.get("/api/v1/users", params={"limit": 1000})
        assert len(first.json()) == 200 and "limit=200" in first.links["next"]["url"]


def test_filters_select_users_and_unknown_expressions_are_refused(okta: httpx.Client) -> None:
    """`filter=status eq "…"` selects (DEPROVISIONED included when asked); unsupported syntax is E0000031."""
    found = okta.get("/api/v1/users", params={"filter": 'status eq "DEPROVISIONED"'}).json()
    assert [u["status"] for u in found] == ["DEPROVISIONED"]
    refused = okta.get("/api/v1/users", params={"filter": "lastLogin lt 5"})
    assert refused.status_code == 400 and refused.json()["errorCode"] == "E0000031"


def test_policies_need_a_type_as_okta_requires(okta: httpx.Client) -> None:
    """listPolicies without `type` is a validation error naming the field; with it, only that type."""
    missing = okta.get("/api/v1/policies")
    assert missing.status_code == 400 and missing.json()["errorCauses"][0]["errorSummary"].startswith("type:")
    assert {p["type"] for p in okta.get("/api/v1/policies", params={"type": "PASSWORD"}).json()} == {"PASSWORD"}


def test_every_answer_carries_the_endpoint_buckets_rate_limit_headers(tenant: TenantFile) -> None:
    """Each endpoint has its own bucket: exhausting users leaves groups untouched; 429 says when to come back."""
    app = create_okta_app(tenant, token=TOKEN, faults=FaultPlan(rate_limit=2, rate_window=60))
    for client in _client(app):
        first = client.get("/api/v1/users")
        assert first.headers["x-rate-limit-limit"] == "2" and first.headers["x-rate-limit-remaining"] == "1"
        client.get("/api/v1/users")
        limited = client.get("/api/v1/users")
        assert limited.status_code == 429 and limited.json()["errorCode"] == "E0000047"
        assert int(limited.headers["x-rate-limit-reset"]) >= int(first.headers["x-rate-limit-reset"])
        assert client.get("/api/v1/groups").status_code == 200


def test_lifecycle_writes_change_what_a_rescan_sees(okta: httpx.Client) -> None:
    """Suspend then unsuspend move the user's status; suspending a suspended user is refused with E0000001."""
    assert okta.post(f"/api/v1/users/{BOB}/lifecycle/suspend").status_code == 200
    assert okta.get(f"/api/v1/users/{BOB}").json()["status"] == "SUSPENDED"
    again = okta.post(f"/api/v1/users/{BOB}/lifecycle/suspend")
    assert again.status_code == 400 and again.json()["errorCode"] == "E0000001"
    assert okta.post(f"/api/v1/users/{BOB}/lifecycle/unsuspend").status_code == 200
    assert okta.get(f"/api/v1/users/{BOB}").json()["status"] == "ACTIVE"


def test_replacing_a_rule_keeps_what_okta_owns(okta: httpx.Client) -> None:
    """A PUT's `id`, `created` and `_links` are ignored; `lastUpdated` moves; the rest is the body sent."""
    path = f"/api/v1/policies/{okta_id('00p', 2)}/rules/{okta_id('0pr', 2)}"
    rule = okta.get(path).json()
    sent = {**rule, "id": "0prFORGED", "created": "2000-01-01T00:00:00.000Z", "name": "Renamed"}
    answer = okta.put(path, json=sent).json()
    assert answer["id"] == rule["id"] and answer["created"] == rule["created"] and answer["_links"] == rule["_links"]
    assert answer["name"] == "Renamed" and answer["lastUpdated"] != rule["lastUpdated"]


def test_unknown_paths_and_methods_get_okta_error_objects(okta: httpx.Client) -> None:
    """404 E0000007 for unknown paths and ids; 405 E0000022 for an unsupported method."""
    assert okta.get("/api/v1/nothing").json()["errorCode"] == "E0000007"
    assert okta.get("/api/v1/users/00uNOPE").json()["errorSummary"].endswith("(User)")
    wrong = okta.delete(f"/api/v1/policies/{okta_id('00p', 1)}")
    assert wrong.status_code == 405 and wrong.json()["errorCode"] == "E0000022"
