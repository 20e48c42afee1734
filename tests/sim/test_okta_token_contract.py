"""Contract: the Okta simulator's org authorization server token endpoint (`POST /oauth2/v1/token`, what an API
Services app mints its access tokens from) answers as Okta's own OpenID Connect & OAuth 2.0 description says
(tests/specs/okta-oauth-subset.json, checked by openapi-core): the token, and each refusal an Okta client meets.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from openapi_core import OpenAPI
from openapi_core.validation.response.exceptions import InvalidData

from mendflow.runtime.loopback import serve_in_thread
from mendflow.sim.app_auth import OktaServiceApp, OktaServiceAuthority
from mendflow.sim.okta import create_okta_app
from mendflow.tenant import load_tenant_file
from tests.connectors.keys import rsa_pair
from tests.sim.openapi_adapter import SpecRequest, SpecResponse

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "specs" / "okta-oauth-subset.json"
DEMO = ROOT / "src" / "mendflow" / "data" / "demo-okta.json"
HOST = "https://subdomain.okta.com"
CLIENT = "0oaCONTRACTSVC000001"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PRIVATE, PUBLIC = rsa_pair()
GRANTED = frozenset({"okta.users.read", "okta.policies.read"})


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return OpenAPI.from_file_path(str(SPEC))


@pytest.fixture
def org() -> Iterator[httpx.Client]:
    authority = OktaServiceAuthority(apps={CLIENT: OktaServiceApp(CLIENT, PUBLIC, GRANTED)})
    app = create_okta_app(load_tenant_file(DEMO), token="unused-static-token-0000", service_apps=authority)
    with serve_in_thread(app) as server, httpx.Client(base_url=server.base_url, timeout=10) as client:
        authority.org_url = server.base_url
        yield client


def _assertion(org: httpx.Client, key: str = PRIVATE) -> str:
    """A `private_key_jwt` client assertion as Okta documents it: iss = sub = client id, aud = the token URL."""
    now = int(time.time())
    audience = str(org.base_url).rstrip("/") + "/oauth2/v1/token"
    claims = {"iss": CLIENT, "sub": CLIENT, "aud": audience, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, key, algorithm="RS256")


def _token(org: httpx.Client, openapi: OpenAPI, **form: str) -> httpx.Response:
    """POST the form to the token endpoint; the answer must be one Okta's description allows."""
    response = org.post("/oauth2/v1/token", data=form, headers={"Accept": "application/json"})
    openapi.validate_response(SpecRequest(response.request, host_url=HOST), SpecResponse(response))
    return response


def _form(org: httpx.Client, **changes: str) -> dict[str, str]:
    form = {"grant_type": "client_credentials", "scope": "okta.users.read", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": _assertion(org)}  # fmt: skip
    return {**form, **changes}


def test_the_subset_holds_exactly_the_token_operation() -> None:
    """The contract covers the one operation of the subset and nothing else."""
    paths = json.loads(SPEC.read_text(encoding="utf-8"))["paths"]
    assert {(m.upper(), p) for p, item in paths.items() for m in item if m != "parameters"} == {
        ("POST", "/oauth2/v1/token")
    }


def test_a_granted_scope_gets_a_bearer_token_as_described(org: httpx.Client, openapi: OpenAPI) -> None:
    """200 with `token_type` Bearer, `expires_in` in seconds, the access token and the scopes it holds."""
    minted = _token(org, openapi, **_form(org, scope="okta.users.read okta.policies.read"))
    assert minted.status_code == 200
    body = minted.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"]
    assert body["scope"] == "okta.policies.read okta.users.read"
    users = org.get("/api/v1/users", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert users.status_code == 200
    wrong = json.dumps({**body, "token_type": "bearer", "expires_in": "3600"}).encode()
    with pytest.raises(InvalidData):  # the description bites: Okta's casing and types, not just any JSON
        openapi.validate_response(SpecRequest(minted.request, host_url=HOST), SpecResponse(minted, wrong))


def test_refusals_are_oauth_errors_as_described(org: httpx.Client, openapi: OpenAPI) -> None:
    """400 unsupported_grant_type and invalid_scope, 401 invalid_client: each an OAuthError body."""
    refusals = {
        "unsupported_grant_type": _token(org, openapi, **_form(org, grant_type="password")),
        "invalid_scope": _token(org, openapi, **_form(org, scope="okta.users.manage")),
        "invalid_client": _token(org, openapi, **_form(org, client_assertion=_assertion(org, rsa_pair()[0]))),
    }
    assert {error: answer.status_code for error, answer in refusals.items()} == {
        "unsupported_grant_type": 400,
        "invalid_scope": 400,
        "invalid_client": 401,
    }
    assert all(answer.json()["error"] == error for error, answer in refusals.items())
