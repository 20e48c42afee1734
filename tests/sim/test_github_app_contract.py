"""Contract: the GitHub simulator's app operations (find the installation, create an installation token) answer as
GitHub's own OpenAPI description says (tests/specs/github-apps-subset.json, checked by openapi-core), and the
installation token works, expires and is limited to its permissions as GitHub's docs describe.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from openapi_core import OpenAPI

from mendflow.providers.github.app_auth import app_jwt
from mendflow.runtime.loopback import serve_in_thread
from mendflow.sim.app_auth import GithubAppAuthority
from mendflow.sim.github import create_github_app
from mendflow.tenant import load_tenant_file
from tests.connectors.keys import rsa_pair
from tests.sim.openapi_adapter import SpecRequest, SpecResponse

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "specs" / "github-apps-subset.json"
DEMO = ROOT / "src" / "mendflow" / "data" / "demo-github.json"
APP_ID = "1001"
PRIVATE, PUBLIC = rsa_pair()
GRANTED = {"members": "read", "metadata": "read", "organization_hooks": "write"}


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return OpenAPI.from_file_path(str(SPEC))


@pytest.fixture
def authority() -> GithubAppAuthority:
    return GithubAppAuthority(app_id=APP_ID, public_key=PUBLIC, permissions=dict(GRANTED), token_ttl=3600.0)


@pytest.fixture
def gh(authority: GithubAppAuthority) -> Iterator[httpx.Client]:
    app = create_github_app(load_tenant_file(DEMO), token="unused-static-token-0000", app_auth=authority)
    with serve_in_thread(app) as server, httpx.Client(base_url=server.base_url) as client:
        yield client


def _as_app(key: str = PRIVATE, app_id: str = APP_ID) -> dict[str, str]:
    return {"Authorization": f"Bearer {app_jwt(app_id, key, now=time.time())}"}


def _checked(openapi: OpenAPI, response: httpx.Response) -> httpx.Response:
    openapi.validate_response(SpecRequest(response.request), SpecResponse(response))
    return response


def test_the_subset_holds_exactly_the_app_operations() -> None:
    """The contract covers both operations of the subset and nothing else."""
    paths = json.loads(SPEC.read_text(encoding="utf-8"))["paths"]
    found = {(m.upper(), p) for p, item in paths.items() for m in item if m != "parameters"}
    assert found == {
        ("GET", "/orgs/{org}/installation"),
        ("POST", "/app/installations/{installation_id}/access_tokens"),
    }


def test_installation_and_token_answers_match_the_description(openapi: OpenAPI, gh: httpx.Client) -> None:
    """200 installation, 201 token (with `expires_at` an hour ahead and the granted permissions)."""
    found = _checked(openapi, gh.get("/orgs/acme/installation", headers=_as_app()))
    assert found.status_code == 200
    minted = _checked(openapi, gh.post(f"/app/installations/{found.json()['id']}/access_tokens", headers=_as_app()))
    assert minted.status_code == 201
    body = minted.json()
    assert body["permissions"] == GRANTED and body["repository_selection"] == "all"
    expires = datetime.strptime(body["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert 3500 < (expires - datetime.now(UTC)).total_seconds() <= 3600


def test_refusals_match_the_description(openapi: OpenAPI, gh: httpx.Client, authority: GithubAppAuthority) -> None:
    """401 for a JWT signed by another key, 404 for another installation, 422 for more than was granted."""
    other, _ = rsa_pair()
    url = f"/app/installations/{authority.installation_id}/access_tokens"
    assert _checked(openapi, gh.post(url, headers=_as_app(other))).status_code == 401
    assert _checked(openapi, gh.post(url, headers=_as_app(app_id="999"))).status_code == 401
    missing = "/app/installations/7/access_tokens"
    assert _checked(openapi, gh.post(missing, headers=_as_app())).status_code == 404
    too_much = gh.post(url, headers=_as_app(), json={"permissions": {"members": "write"}})
    assert _checked(openapi, too_much).status_code == 422


def test_installation_token_is_scoped_and_expires(gh: httpx.Client, authority: GithubAppAuthority) -> None:
    """The token reads what it was granted, gets GitHub's 403 naming the accepted permission otherwise, then 401."""
    url = f"/app/installations/{authority.installation_id}/access_tokens"
    token = gh.post(url, headers=_as_app(), json={"permissions": {"metadata": "read"}}).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert gh.get("/orgs/acme/repos", headers=bearer).status_code == 200
    refused = gh.get("/orgs/acme/members", headers=bearer)
    assert refused.status_code == 403
    assert refused.json()["message"] == "Resource not accessible by integration"
    assert refused.headers["x-accepted-github-permissions"] == "members=read"
    authority.issued[token].expires_at = 0.0
    assert gh.get("/orgs/acme/repos", headers=bearer).status_code == 401
