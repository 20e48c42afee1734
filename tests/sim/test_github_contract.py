"""Contract: every operation in tests/specs/github-subset.json, served by the simulator from the demo tenant file,
answers with a body, status and headers that GitHub's own OpenAPI description accepts (checked by openapi-core).
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
from mendflow.sim.generate import github_installations
from mendflow.sim.github import create_github_app
from mendflow.tenant import TenantFile, parse_tenant
from tests.sim.openapi_adapter import SpecRequest, SpecResponse

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "specs" / "github-subset.json"
DEMO = ROOT / "src" / "mendflow" / "data" / "demo-github.json"
TOKEN = "ghp_contracttoken0123456789"


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    status: int
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status}"


PROTECTION_PUT = {
    "required_status_checks": {"strict": True, "contexts": ["ci/test"]},
    "enforce_admins": True,
    "required_pull_request_reviews": {
        "required_approving_review_count": 1,
        "dismissal_restrictions": {"users": ["octocat"], "teams": []},
    },
    "restrictions": {"users": ["octocat"], "teams": [], "apps": []},
    "required_linear_history": True,
}
HOOK = {"name": "web", "config": {"url": "https://hooks.example/in", "content_type": "json", "secret": "s"}}

# Spec operation → the requests that exercise it (success first, then documented error answers).
CASES: dict[tuple[str, str], list[Case]] = {
    ("GET", "/orgs/{org}"): [Case("GET", "/orgs/acme", 200), Case("GET", "/orgs/nobody", 404)],
    ("PATCH", "/orgs/{org}"): [
        Case("PATCH", "/orgs/acme", 200, body={"default_repository_permission": "read", "blog": "https://b.example"}),
        Case("PATCH", "/orgs/acme", 422, body={"default_repository_permission": "owner"}),
    ],
    ("GET", "/orgs/{org}/members"): [
        Case("GET", "/orgs/acme/members", 200, {"per_page": 2}),
        Case("GET", "/orgs/acme/members", 200, {"filter": "2fa_disabled", "role": "all"}),
    ],
    ("GET", "/orgs/{org}/members/{username}"): [Case("GET", "/orgs/acme/members/octocat", 204)],
    ("GET", "/orgs/{org}/outside_collaborators"): [
        Case("GET", "/orgs/acme/outside_collaborators", 200, {"filter": "2fa_disabled"})
    ],
    ("PUT", "/orgs/{org}/outside_collaborators/{username}"): [
        Case("PUT", "/orgs/acme/outside_collaborators/hubot", 204),
        Case("PUT", "/orgs/acme/outside_collaborators/lisa", 202, body={"async": True}),
        Case("PUT", "/orgs/acme/outside_collaborators/stranger", 404),
    ],
    ("DELETE", "/orgs/{org}/outside_collaborators/{username}"): [
        Case("DELETE", "/orgs/acme/outside_collaborators/contractor-jo", 204),
        Case("DELETE", "/orgs/acme/outside_collaborators/octocat", 422),
    ],
    ("GET", "/orgs/{org}/memberships/{username}"): [
        Case("GET", "/orgs/acme/memberships/octocat", 200),
        Case("GET", "/orgs/acme/memberships/stranger", 404),
    ],
    ("PUT", "/orgs/{org}/memberships/{username}"): [
        Case("PUT", "/orgs/acme/memberships/hubot", 200, body={"role": "admin"}),
        Case("PUT", "/orgs/acme/memberships/newcomer", 200, body={"role": "member"}),
        Case("PUT", "/orgs/acme/memberships/hubot", 422, body={"role": "boss"}),
    ],
    ("DELETE", "/orgs/{org}/memberships/{username}"): [
        Case("DELETE", "/orgs/acme/memberships/hubot", 204),
        Case("DELETE", "/orgs/acme/memberships/stranger", 404),
    ],
    ("GET", "/orgs/{org}/repos"): [Case("GET", "/orgs/acme/repos", 200, {"type": "all", "sort": "full_name"})],
    ("GET", "/orgs/{org}/installations"): [Case("GET", "/orgs/acme/installations", 200)],
    ("GET", "/rate_limit"): [Case("GET", "/rate_limit", 200)],
    ("GET", "/orgs/{org}/hooks"): [Case("GET", "/orgs/acme/hooks", 200), Case("GET", "/orgs/nobody/hooks", 404)],
    ("POST", "/orgs/{org}/hooks"): [
        Case("POST", "/orgs/acme/hooks", 201, body=HOOK),
        Case("POST", "/orgs/acme/hooks", 422, body={"name": "web", "config": {}}),
    ],
    ("GET", "/orgs/{org}/hooks/{hook_id}"): [
        Case("GET", "/orgs/acme/hooks/301", 200),
        Case("GET", "/orgs/acme/hooks/999", 404),
    ],
    ("PATCH", "/orgs/{org}/hooks/{hook_id}"): [
        Case("PATCH", "/orgs/acme/hooks/301", 200, body={"config": {"url": "https://new.example"}, "active": False}),
        Case("PATCH", "/orgs/acme/hooks/301", 422, body={"config": {"content_type": "json"}}),
    ],
    ("DELETE", "/orgs/{org}/hooks/{hook_id}"): [
        Case("DELETE", "/orgs/acme/hooks/302", 204),
        Case("DELETE", "/orgs/acme/hooks/999", 404),
    ],
    ("GET", "/orgs/{org}/hooks/{hook_id}/config"): [Case("GET", "/orgs/acme/hooks/301/config", 200)],
    ("PATCH", "/orgs/{org}/hooks/{hook_id}/config"): [
        Case("PATCH", "/orgs/acme/hooks/301/config", 200, body={"insecure_ssl": "0", "secret": "new"})
    ],
    ("GET", "/repos/{owner}/{repo}"): [Case("GET", "/repos/acme/api", 200), Case("GET", "/repos/acme/nope", 404)],
    ("PATCH", "/repos/{owner}/{repo}"): [
        Case(
            "PATCH", "/repos/acme/api", 200, body={"security_and_analysis": {"secret_scanning": {"status": "enabled"}}}
        ),
        Case("PATCH", "/repos/acme/api", 422, body={"visibility": "secret"}),
        Case("PATCH", "/repos/acme/nope", 404, body={"private": True}),
    ],
    ("GET", "/repos/{owner}/{repo}/keys"): [Case("GET", "/repos/acme/api/keys", 200)],
    ("POST", "/repos/{owner}/{repo}/keys"): [
        Case("POST", "/repos/acme/api/keys", 201, body={"title": "t", "key": "ssh-ed25519 AAAAcontract"}),
        Case("POST", "/repos/acme/api/keys", 422, body={"title": "t"}),
    ],
    ("GET", "/repos/{owner}/{repo}/keys/{key_id}"): [
        Case("GET", "/repos/acme/api/keys/7", 200),
        Case("GET", "/repos/acme/api/keys/8", 404),
    ],
    ("DELETE", "/repos/{owner}/{repo}/keys/{key_id}"): [Case("DELETE", "/repos/acme/api/keys/7", 204)],
    ("GET", "/repos/{owner}/{repo}/hooks"): [
        Case("GET", "/repos/acme/api/hooks", 200),
        Case("GET", "/repos/acme/nope/hooks", 404),
    ],
    ("POST", "/repos/{owner}/{repo}/hooks"): [
        Case("POST", "/repos/acme/docs/hooks", 201, body=HOOK),
        Case("POST", "/repos/acme/docs/hooks", 422, body={"config": {"url": "https://x.example", "insecure_ssl": "2"}}),
    ],
    ("GET", "/repos/{owner}/{repo}/hooks/{hook_id}"): [
        Case("GET", "/repos/acme/api/hooks/11", 200),
        Case("GET", "/repos/acme/api/hooks/21", 404),
    ],
    ("PATCH", "/repos/{owner}/{repo}/hooks/{hook_id}"): [
        Case("PATCH", "/repos/acme/api/hooks/11", 200, body={"add_events": ["release"], "active": True}),
        Case("PATCH", "/repos/acme/api/hooks/11", 200, body={"config": {"url": "https://ci.example/n"}}),
        Case("PATCH", "/repos/acme/api/hooks/11", 422, body={"events": "push"}),
    ],
    ("DELETE", "/repos/{owner}/{repo}/hooks/{hook_id}"): [
        Case("DELETE", "/repos/acme/api/hooks/12", 204),
        Case("DELETE", "/repos/acme/api/hooks/999", 404),
    ],
    ("GET", "/repos/{owner}/{repo}/hooks/{hook_id}/config"): [Case("GET", "/repos/acme/api/hooks/11/config", 200)],
    ("PATCH", "/repos/{owner}/{repo}/hooks/{hook_id}/config"): [
        Case("PATCH", "/repos/acme/api/hooks/11/config", 200, body={"url": "https://ci.example/x", "insecure_ssl": 0})
    ],
    ("GET", "/repos/{owner}/{repo}/branches/{branch}"): [
        Case("GET", "/repos/acme/api/branches/main", 200),
        Case("GET", "/repos/acme/web/branches/main", 200),
        Case("GET", "/repos/acme/web/branches/nope", 404),
    ],
    ("GET", "/repos/{owner}/{repo}/branches/{branch}/protection"): [
        Case("GET", "/repos/acme/api/branches/main/protection", 200),
        Case("GET", "/repos/acme/web/branches/main/protection", 404),
    ],
    ("PUT", "/repos/{owner}/{repo}/branches/{branch}/protection"): [
        Case("PUT", "/repos/acme/web/branches/main/protection", 200, body=PROTECTION_PUT),
        Case("PUT", "/repos/acme/web/branches/main/protection", 422, body={"enforce_admins": True}),
        Case("PUT", "/repos/acme/nope/branches/main/protection", 404, body=PROTECTION_PUT),
    ],
    ("DELETE", "/repos/{owner}/{repo}/branches/{branch}/protection"): [
        Case("DELETE", "/repos/acme/api/branches/main/protection", 204)
    ],
    ("GET", "/repos/{owner}/{repo}/collaborators"): [
        Case("GET", "/repos/acme/api/collaborators", 200, {"affiliation": "outside"}),
        Case("GET", "/repos/acme/api/collaborators", 200, {"affiliation": "all", "permission": "admin"}),
        Case("GET", "/repos/acme/nope/collaborators", 404),
    ],
    ("PUT", "/repos/{owner}/{repo}/collaborators/{username}"): [
        Case("PUT", "/repos/acme/docs/collaborators/freelancer", 201, body={"permission": "triage"}),
        Case("PUT", "/repos/acme/api/collaborators/octocat", 204, body={"permission": "maintain"}),
        Case("PUT", "/repos/acme/api/collaborators/octocat", 422, body={"permission": "superuser"}),
    ],
    ("DELETE", "/repos/{owner}/{repo}/collaborators/{username}"): [
        Case("DELETE", "/repos/acme/api/collaborators/contractor-jo", 204)
    ],
    ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission"): [
        Case("GET", "/repos/acme/api/collaborators/contractor-jo/permission", 200),
        Case("GET", "/repos/acme/docs/collaborators/lisa/permission", 200),
        Case("GET", "/repos/acme/api/collaborators/stranger/permission", 404),
    ],
    ("GET", "/repos/{owner}/{repo}/invitations"): [
        Case("GET", "/repos/acme/api/invitations", 200, {"per_page": 10}),  # the description declares only 200
    ],
    ("GET", "/repos/{owner}/{repo}/rulesets"): [
        Case("GET", "/repos/acme/web/rulesets", 200, {"includes_parents": "true", "targets": "branch,tag"}),
        Case("GET", "/repos/acme/nope/rulesets", 404),
    ],
    ("GET", "/repos/{owner}/{repo}/rulesets/{ruleset_id}"): [
        Case("GET", "/repos/acme/web/rulesets/42", 200),
        Case("GET", "/repos/acme/web/rulesets/43", 404),
    ],
}


def _spec_operations() -> set[tuple[str, str]]:
    paths = json.loads(SPEC.read_text(encoding="utf-8"))["paths"]
    return {(method.upper(), path) for path, item in paths.items() for method in item if method != "parameters"}


def _fixture_tenant() -> TenantFile:
    """The shipped demo tenant, unmodified: what `mendflow demo` serves is what is checked."""
    return parse_tenant(json.loads(DEMO.read_text(encoding="utf-8")), source=str(DEMO))


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return OpenAPI.from_file_path(str(SPEC))


def _serve() -> Iterator[httpx.Client]:
    app = create_github_app(_fixture_tenant(), token=TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with serve_in_thread(app) as server, httpx.Client(base_url=server.base_url, headers=headers) as client:
        yield client


@pytest.fixture
def gh() -> Iterator[httpx.Client]:
    """A fresh simulator: writes must not leak into other cases."""
    yield from _serve()


@pytest.fixture(scope="module")
def reader() -> Iterator[httpx.Client]:
    """One simulator shared by the read-only cases, which change nothing."""
    yield from _serve()


def _call(gh: httpx.Client, case: Case) -> httpx.Response:
    body = None if case.body is None else json.dumps(case.body).encode()
    return gh.request(case.method, case.path, params=case.params, content=body)


def test_every_spec_operation_has_a_contract_case() -> None:
    """The case table covers exactly the operations of the spec, so no operation goes unchecked."""
    assert set(CASES) == _spec_operations()
    assert all(any(200 <= case.status < 300 for case in cases) for cases in CASES.values())


@pytest.mark.parametrize("case", [case for cases in CASES.values() for case in cases], ids=lambda case: str(case))
def test_response_matches_the_vendor_description(
    openapi: OpenAPI, reader: httpx.Client, request: pytest.FixtureRequest, case: Case
) -> None:
    """The simulator's answer has the expected status and passes openapi-core's response validation."""
    client = reader if case.method == "GET" else request.getfixturevalue("gh")
    response = _call(client, case)
    assert response.status_code == case.status, response.text
    openapi.validate_response(SpecRequest(response.request), SpecResponse(response))


@pytest.mark.parametrize(
    ("path", "breakage"),
    [
        ("/orgs/acme", lambda body: body.pop("login")),
        ("/repos/acme/api/hooks/11", lambda body: body["config"].update(insecure_ssl=["1"])),
        ("/orgs/acme/members", lambda body: body[0].update(id="1000")),
        ("/repos/acme/api/branches/main/protection", lambda body: body["enforce_admins"].pop("url")),
    ],
)
def test_validator_rejects_a_deliberately_broken_body(
    openapi: OpenAPI, reader: httpx.Client, path: str, breakage: Any
) -> None:
    """The same validation fails once a real answer is broken, so a passing contract test means something."""
    response = reader.get(path)
    openapi.validate_response(SpecRequest(response.request), SpecResponse(response))
    body = response.json()
    breakage(body)
    with pytest.raises(InvalidData):
        openapi.validate_response(SpecRequest(response.request), SpecResponse(response, json.dumps(body).encode()))


def test_open_invitations_match_the_description(openapi: OpenAPI) -> None:
    """A tenant file's pending invitation (the demo has none: the simulator accepts its own at once) is served as
    GitHub's repository-invitation object, and a broken one is caught."""
    document = json.loads(DEMO.read_text(encoding="utf-8"))
    docs = next(r for r in document["github"]["repos"] if r["name"] == "docs")
    docs["_invitations"] = [{"id": 77, "invitee": "freelancer", "permissions": "triage"}]
    app = create_github_app(parse_tenant(document, source="test"), token=TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with serve_in_thread(app) as server, httpx.Client(base_url=server.base_url, headers=headers) as client:
        response = client.get("/repos/acme/docs/invitations")
    assert response.status_code == 200 and [i["invitee"]["login"] for i in response.json()] == ["freelancer"]
    openapi.validate_response(SpecRequest(response.request), SpecResponse(response))
    broken = response.json()
    broken[0]["permissions"] = "owner"
    with pytest.raises(InvalidData):
        openapi.validate_response(SpecRequest(response.request), SpecResponse(response, json.dumps(broken).encode()))


def test_app_installations_match_the_description_page_by_page(openapi: OpenAPI) -> None:
    """A generated org's app installations (the demo has none) are served as GitHub's wrapped `installation`
    objects, page by page with `Link` headers, and a broken one is caught."""
    document = json.loads(DEMO.read_text(encoding="utf-8"))
    document["github"]["installations"] = github_installations("acme")
    app = create_github_app(parse_tenant(document, source="test"), token=TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    slugs: list[str] = []
    with serve_in_thread(app) as server, httpx.Client(base_url=server.base_url, headers=headers) as client:
        url: str | None = "/orgs/acme/installations?per_page=2"
        while url is not None:
            response = client.get(url)
            assert response.status_code == 200 and response.json()["total_count"] == 3
            openapi.validate_response(SpecRequest(response.request), SpecResponse(response))
            slugs += [i["app_slug"] for i in response.json()["installations"]]
            url = response.links.get("next", {}).get("url")
    assert slugs == ["issue-labeler", "security-scanner", "release-bot"]
    broken = response.json()
    broken["installations"][0]["repository_selection"] = "some"
    with pytest.raises(InvalidData):
        openapi.validate_response(SpecRequest(response.request), SpecResponse(response, json.dumps(broken).encode()))
