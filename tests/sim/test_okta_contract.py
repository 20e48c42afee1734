"""Contract: every operation in tests/specs/okta-subset.normalized.json, served by the Okta simulator from the demo
tenant file, answers with a status, body and headers that Okta's own OpenAPI description accepts (openapi-core);
requests with bodies are checked against the description too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.validation.response.exceptions import InvalidData

from mendflow.runtime.loopback import serve_in_thread
from mendflow.sim.common import FaultPlan
from mendflow.sim.generate import okta_id
from mendflow.sim.okta import create_okta_app
from mendflow.tenant import TenantFile, load_tenant_file
from tests.connectors.okta_response_data import ADMINS, DAVE_ROLE, ENGINEERING, response_tenant
from tests.sim.openapi_adapter import SpecRequest, SpecResponse

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "specs" / "okta-subset.normalized.json"
DEMO = ROOT / "src" / "mendflow" / "data" / "demo-okta.json"
HOST = "https://subdomain.okta.com"
TOKEN = "00okta-contract-token-0123456789"
ALICE, BOB, CAROL, DAVE = (okta_id("00u", n) for n in (1, 2, 3, 4))
FRANK, GRACE, HEIDI = (okta_id("00u", n) for n in (6, 7, 8))
PASSWORD, SIGN_ON = okta_id("00p", 1), okta_id("00p", 2)
SESSION_RULE = okta_id("0pr", 2)
TOKEN_ID, SALESFORCE, GRANT = okta_id("00T", 1), okta_id("0oa", 3), "oag1simgrant00000001"
MISSING = "00uNOSUCHUSER0000000"


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    status: int
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.params or ''} → {self.status}"


def _demo() -> TenantFile:
    return load_tenant_file(DEMO)


def _policy_body(policy_id: str, **changes: Any) -> dict[str, Any]:
    """The demo policy as a client would PUT it back: its GET body without read-only fields."""
    policy = next(p for p in _demo().section()["policies"] if p["id"] == policy_id)
    body = {k: v for k, v in policy.items() if k not in ("id", "created", "lastUpdated", "_links", "_rules")}
    return {**body, **changes}


def _rule_body(**changes: Any) -> dict[str, Any]:
    policy = next(p for p in _demo().section()["policies"] if p["id"] == SIGN_ON)
    rule = next(r for r in policy["_rules"] if r["id"] == SESSION_RULE)
    return {**{k: v for k, v in rule.items() if k not in ("id", "created", "lastUpdated", "_links")}, **changes}


U, P = "/api/v1/users", "/api/v1/policies"
CASES: dict[tuple[str, str], list[Case]] = {
    ("GET", U): [
        Case("GET", U, 200, {"limit": 2}),
        Case("GET", U, 200, {"filter": 'status eq "SUSPENDED" or status eq "DEPROVISIONED"'}),
        Case("GET", U, 200, {"search": 'profile.login sw "ali"', "limit": 200}),
    ],
    ("GET", f"{U}/{{id}}"): [
        Case("GET", f"{U}/{ALICE}", 200),
        Case("GET", f"{U}/alice@acme.example", 200),
        Case("GET", f"{U}/{MISSING}", 404),
    ],
    ("POST", f"{U}/{{id}}/lifecycle/deactivate"): [
        Case("POST", f"{U}/{HEIDI}/lifecycle/deactivate", 200),
        Case("POST", f"{U}/{MISSING}/lifecycle/deactivate", 404),
    ],
    ("POST", f"{U}/{{id}}/lifecycle/activate"): [
        Case("POST", f"{U}/{GRACE}/lifecycle/activate", 200, {"sendEmail": "false"}),
        Case("POST", f"{U}/{ALICE}/lifecycle/activate", 403),
        Case("POST", f"{U}/{MISSING}/lifecycle/activate", 404),
    ],
    ("POST", f"{U}/{{id}}/lifecycle/suspend"): [
        Case("POST", f"{U}/{BOB}/lifecycle/suspend", 200),
        Case("POST", f"{U}/{FRANK}/lifecycle/suspend", 400),
        Case("POST", f"{U}/{MISSING}/lifecycle/suspend", 404),
    ],
    ("POST", f"{U}/{{id}}/lifecycle/unsuspend"): [
        Case("POST", f"{U}/{FRANK}/lifecycle/unsuspend", 200),
        Case("POST", f"{U}/{ALICE}/lifecycle/unsuspend", 400),
    ],
    ("GET", f"{U}/{{userId}}/factors"): [
        Case("GET", f"{U}/{ALICE}/factors", 200),
        Case("GET", f"{U}/{CAROL}/factors", 200),
        Case("GET", f"{U}/{MISSING}/factors", 404),
    ],
    ("GET", f"{U}/{{userId}}/roles"): [
        Case("GET", f"{U}/{DAVE}/roles", 200),
        Case("GET", f"{U}/{MISSING}/roles", 404),
    ],
    ("GET", f"{U}/{{userId}}/grants"): [
        Case("GET", f"{U}/{ALICE}/grants", 200, {"limit": 20}),
        Case("GET", f"{U}/{MISSING}/grants", 404),
    ],
    ("DELETE", f"{U}/{{userId}}/grants/{{grantId}}"): [
        Case("DELETE", f"{U}/{ALICE}/grants/{GRANT}", 204),
        Case("DELETE", f"{U}/{BOB}/grants/{GRANT}", 404),
    ],
    ("GET", "/api/v1/iam/assignees/users"): [Case("GET", "/api/v1/iam/assignees/users", 200, {"limit": 1})],
    ("GET", P): [
        Case("GET", P, 200, {"type": "PASSWORD"}),
        Case("GET", P, 200, {"type": "OKTA_SIGN_ON", "status": "ACTIVE", "limit": "1"}),
        Case("GET", P, 200, {"type": "MFA_ENROLL"}),
        Case("GET", P, 200, {"type": "ACCESS_POLICY"}),
    ],
    ("GET", f"{P}/{{policyId}}"): [Case("GET", f"{P}/{PASSWORD}", 200), Case("GET", f"{P}/00pNOPE", 404)],
    ("PUT", f"{P}/{{policyId}}"): [
        Case("PUT", f"{P}/{PASSWORD}", 200, body=_policy_body(PASSWORD, description="tightened")),
        Case("PUT", f"{P}/{PASSWORD}", 400, body=_policy_body(PASSWORD, type="OKTA_SIGN_ON")),
        Case("PUT", f"{P}/00pNOPE", 404, body=_policy_body(PASSWORD)),
    ],
    ("GET", f"{P}/{{policyId}}/rules"): [
        Case("GET", f"{P}/{SIGN_ON}/rules", 200),
        Case("GET", f"{P}/00pNOPE/rules", 404),
    ],
    ("GET", f"{P}/{{policyId}}/rules/{{ruleId}}"): [
        Case("GET", f"{P}/{SIGN_ON}/rules/{SESSION_RULE}", 200),
        Case("GET", f"{P}/{SIGN_ON}/rules/0prNOPE", 404),
    ],
    ("PUT", f"{P}/{{policyId}}/rules/{{ruleId}}"): [
        Case("PUT", f"{P}/{SIGN_ON}/rules/{SESSION_RULE}", 200, body=_rule_body(name="Corporate sessions (fixed)")),
        Case("PUT", f"{P}/{SIGN_ON}/rules/{SESSION_RULE}", 400, body=_rule_body(name="")),
        Case("PUT", f"{P}/{SIGN_ON}/rules/0prNOPE", 404, body=_rule_body()),
    ],
    ("GET", "/api/v1/api-tokens"): [Case("GET", "/api/v1/api-tokens", 200)],
    ("GET", "/api/v1/api-tokens/{apiTokenId}"): [
        Case("GET", f"/api/v1/api-tokens/{TOKEN_ID}", 200),
        Case("GET", "/api/v1/api-tokens/00TNOPE", 404),
    ],
    ("PUT", "/api/v1/api-tokens/{apiTokenId}"): [
        Case(
            "PUT",
            f"/api/v1/api-tokens/{TOKEN_ID}",
            200,
            body={"name": "ci-sync", "network": {"connection": "ZONE", "include": ["nzo1simcorporate0000"]}},
        ),
        Case("PUT", f"/api/v1/api-tokens/{TOKEN_ID}", 400, body={"name": "x", "network": {"connection": "MOON"}}),
        Case("PUT", "/api/v1/api-tokens/00TNOPE", 404, body={"name": "x"}),
    ],
    ("DELETE", "/api/v1/api-tokens/{apiTokenId}"): [
        Case("DELETE", f"/api/v1/api-tokens/{TOKEN_ID}", 204),
        Case("DELETE", "/api/v1/api-tokens/00TNOPE", 404),
    ],
    ("GET", "/api/v1/apps"): [
        Case("GET", "/api/v1/apps", 200, {"limit": 2}),
        Case("GET", "/api/v1/apps", 200, {"filter": 'status eq "ACTIVE"'}),
    ],
    ("GET", "/api/v1/apps/{appId}/grants"): [
        Case("GET", f"/api/v1/apps/{SALESFORCE}/grants", 200),
        Case("GET", "/api/v1/apps/0oaNOPE/grants", 404),
    ],
    ("GET", "/api/v1/apps/{appId}/grants/{grantId}"): [
        Case("GET", f"/api/v1/apps/{SALESFORCE}/grants/{GRANT}", 200),
        Case("GET", f"/api/v1/apps/{SALESFORCE}/grants/oagNOPE", 404),
    ],
    ("DELETE", "/api/v1/apps/{appId}/grants/{grantId}"): [
        Case("DELETE", f"/api/v1/apps/{SALESFORCE}/grants/{GRANT}", 204),
        Case("DELETE", f"/api/v1/apps/{okta_id('0oa', 1)}/grants/{GRANT}", 404),
    ],
    ("GET", "/api/v1/groups"): [Case("GET", "/api/v1/groups", 200, {"limit": 2})],
    # what response workflows do (`mendflow.providers.okta.response_actions`)
    ("DELETE", f"{U}/{{userId}}/sessions"): [
        Case("DELETE", f"{U}/{BOB}/sessions", 204, {"oauthTokens": "true"}),
        Case("DELETE", f"{U}/{MISSING}/sessions", 404),
    ],
    ("DELETE", f"{U}/{{userId}}/grants"): [
        Case("DELETE", f"{U}/{BOB}/grants", 204),
        Case("DELETE", f"{U}/{MISSING}/grants", 404),
    ],
    ("GET", f"{U}/{{userId}}/clients"): [
        Case("GET", f"{U}/{BOB}/clients", 200),
        Case("GET", f"{U}/{MISSING}/clients", 404),
    ],
    ("GET", f"{U}/{{userId}}/clients/{{clientId}}/tokens"): [
        Case("GET", f"{U}/{BOB}/clients/{SALESFORCE}/tokens", 200, {"limit": 20}),
        Case("GET", f"{U}/{MISSING}/clients/{SALESFORCE}/tokens", 404),
    ],
    ("DELETE", f"{U}/{{userId}}/clients/{{clientId}}/tokens"): [
        Case("DELETE", f"{U}/{BOB}/clients/{SALESFORCE}/tokens", 204),
        Case("DELETE", f"{U}/{BOB}/clients/0oaNOPE/tokens", 404),
    ],
    ("GET", f"{U}/{{id}}/groups"): [
        Case("GET", f"{U}/{DAVE}/groups", 200),
        Case("GET", f"{U}/{MISSING}/groups", 404),
    ],
    ("PUT", "/api/v1/groups/{groupId}/users/{userId}"): [
        Case("PUT", f"/api/v1/groups/{ENGINEERING}/users/{ALICE}", 204),
        Case("PUT", f"/api/v1/groups/00gNOPE/users/{ALICE}", 404),
    ],
    ("DELETE", "/api/v1/groups/{groupId}/users/{userId}"): [
        Case("DELETE", f"/api/v1/groups/{ADMINS}/users/{DAVE}", 204),
        Case("DELETE", f"/api/v1/groups/{ADMINS}/users/{MISSING}", 404),
    ],
    ("POST", f"{U}/{{userId}}/roles"): [
        Case("POST", f"{U}/{BOB}/roles", 201, body={"type": "HELP_DESK_ADMIN"}),
        Case("POST", f"{U}/{BOB}/roles", 400, body={"type": "KING"}),
        Case("POST", f"{U}/{MISSING}/roles", 404, body={"type": "HELP_DESK_ADMIN"}),
    ],
    ("DELETE", f"{U}/{{userId}}/roles/{{roleAssignmentId}}"): [
        Case("DELETE", f"{U}/{DAVE}/roles/{DAVE_ROLE}", 204),
        Case("DELETE", f"{U}/{DAVE}/roles/ra1NOPE", 404),
    ],
    ("GET", "/api/v1/apps/{appId}"): [
        Case("GET", f"/api/v1/apps/{SALESFORCE}", 200),
        Case("GET", "/api/v1/apps/0oaNOPE", 404),
    ],
    ("POST", "/api/v1/apps/{appId}/lifecycle/deactivate"): [
        Case("POST", f"/api/v1/apps/{SALESFORCE}/lifecycle/deactivate", 200),
        Case("POST", "/api/v1/apps/0oaNOPE/lifecycle/deactivate", 404),
    ],
    ("POST", "/api/v1/apps/{appId}/lifecycle/activate"): [
        Case("POST", f"/api/v1/apps/{okta_id('0oa', 4)}/lifecycle/activate", 200),
        Case("POST", "/api/v1/apps/0oaNOPE/lifecycle/activate", 404),
    ],
    ("GET", "/api/v1/logs"): [
        Case("GET", "/api/v1/logs", 200, {"since": "2026-11-01T00:00:00.000Z", "filter": f'target.id eq "{BOB}"'}),
        Case("GET", "/api/v1/logs", 200, {"sortOrder": "DESCENDING", "limit": 1}),
        Case("GET", "/api/v1/logs", 400, {"until": "tomorrow"}),
    ],
}


def _spec_operations() -> set[tuple[str, str]]:
    paths = json.loads(SPEC.read_text(encoding="utf-8"))["paths"]
    return {(method.upper(), path) for path, item in paths.items() for method in item if method != "parameters"}


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return OpenAPI.from_file_path(str(SPEC))


def _serve(faults: FaultPlan | None = None, **kwargs: Any) -> Iterator[httpx.Client]:
    """The demo org plus group members, sessions, refresh tokens and System Log events (response actions)."""
    app = create_okta_app(response_tenant(), token=TOKEN, faults=faults, **kwargs)
    headers = {"Authorization": f"SSWS {TOKEN}"}
    with serve_in_thread(app) as server, httpx.Client(base_url=server.base_url, headers=headers) as client:
        yield client


@pytest.fixture
def okta() -> Iterator[httpx.Client]:
    """A fresh simulator: writes must not leak into other cases."""
    yield from _serve()


@pytest.fixture(scope="module")
def reader() -> Iterator[httpx.Client]:
    """One simulator shared by the read-only cases."""
    yield from _serve()


def _call(client: httpx.Client, case: Case) -> httpx.Response:
    body = None if case.body is None else json.dumps(case.body).encode()
    headers = {"content-type": "application/json"} if body is not None else {}
    return client.request(case.method, case.path, params=case.params, content=body, headers=headers)


def _check(openapi: OpenAPI, response: httpx.Response) -> None:
    openapi.validate_response(SpecRequest(response.request, HOST), SpecResponse(response))


def test_every_spec_operation_has_a_contract_case() -> None:
    """The case table covers exactly the operations of the spec, each with at least one success."""
    assert set(CASES) == _spec_operations()
    assert all(any(200 <= case.status < 300 for case in cases) for cases in CASES.values())


def _declares_no_body(operation: tuple[str, str], status: int) -> bool:
    """Okta declares some answers with `content: {}` (no body), which openapi-core cannot validate as such."""
    paths = json.loads(SPEC.read_text(encoding="utf-8"))["paths"]
    declared = paths[operation[1]][operation[0].lower()]["responses"].get(str(status), {})
    return declared.get("content") == {}


@pytest.mark.parametrize(
    ("operation", "case"), [(op, case) for op, cases in CASES.items() for case in cases], ids=lambda x: str(x)
)
def test_response_matches_the_vendor_description(
    openapi: OpenAPI, reader: httpx.Client, request: pytest.FixtureRequest, operation: tuple[str, str], case: Case
) -> None:
    """The simulator answers with the expected status, and request and answer pass openapi-core's validation."""
    client = reader if case.method == "GET" else request.getfixturevalue("okta")
    response = _call(client, case)
    assert response.status_code == case.status, response.text
    if case.body is not None and case.status == 200:
        openapi.validate_request(SpecRequest(response.request, HOST))
    if _declares_no_body(operation, case.status):
        assert response.content == b""
        return
    _check(openapi, response)
    if response.status_code >= 400:
        assert set(response.json()) == {"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"}


def test_rate_limited_and_forbidden_answers_match_the_description(openapi: OpenAPI) -> None:
    """A 429 past the bucket and a 403 on a forbidden endpoint carry Okta's error body and headers."""
    plan = FaultPlan(forbidden=("/api/v1/groups",), rate_limit=2, rate_window=60)
    for client in _serve(plan):
        statuses = [client.get(U).status_code for _ in range(3)]
        limited = client.get(U)
        forbidden = client.get("/api/v1/groups")
    assert statuses == [200, 200, 429] and limited.status_code == 429
    assert limited.json()["errorCode"] == "E0000047" and limited.headers["x-rate-limit-remaining"] == "0"
    assert forbidden.status_code == 403 and forbidden.json()["errorCode"] == "E0000006"
    _check(openapi, limited)
    _check(openapi, forbidden)


@pytest.mark.parametrize(
    ("path", "breakage"),
    [
        (f"{U}/{ALICE}", lambda body: body.update(status="HAPPY")),
        (f"{U}/{ALICE}/roles", lambda body: body[0].update(assignmentType="FRIEND")),
        (f"{P}/{PASSWORD}", lambda body: body.update(created="yesterday")),
        ("/api/v1/groups", lambda body: body[0].update(type="PARTY")),
    ],
)
def test_validator_rejects_a_deliberately_broken_body(
    openapi: OpenAPI, reader: httpx.Client, path: str, breakage: Any
) -> None:
    """The same validation fails once a real answer is broken, so a passing contract test means something."""
    response = reader.get(path)
    _check(openapi, response)
    body = response.json()
    breakage(body)
    with pytest.raises(InvalidData):
        openapi.validate_response(
            SpecRequest(response.request, HOST), SpecResponse(response, json.dumps(body).encode())
        )
