"""Behaviour of the GitHub simulator over real loopback HTTP: auth, pagination, errors, writes, rate limits."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from mendflow.errors import ConnectionProblem
from mendflow.runtime.loopback import LoopbackServer, serve_async, serve_in_thread
from mendflow.sim.github import create_github_app
from mendflow.tenant import TenantFile, load_tenant_file, parse_tenant

DEMO = Path(__file__).resolve().parents[2] / "src" / "mendflow" / "data" / "demo-github.json"
TOKEN = "ghp_simtesttoken0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def tenant() -> TenantFile:
    return load_tenant_file(DEMO)


@pytest.fixture
def app(tenant: TenantFile) -> Starlette:
    return create_github_app(tenant, token=TOKEN)


def _client(app: Starlette) -> Iterator[httpx.Client]:
    with serve_in_thread(app) as server, httpx.Client(base_url=server.base_url, headers=AUTH) as client:
        yield client


@pytest.fixture
def gh(app: Starlette) -> Iterator[httpx.Client]:
    yield from _client(app)


def _logins(response: httpx.Response) -> list[str]:
    return [user["login"] for user in response.json()]


# ---- auth and errors ----------------------------------------------------------------------------------------
def test_missing_token_answers_401_with_vendor_body(gh: httpx.Client) -> None:
    """A request without Authorization is refused with GitHub's 'Bad credentials' body."""
    response = gh.get("/orgs/acme", headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.json() == {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }
    assert response.headers["content-type"] == "application/json; charset=utf-8"


def test_wrong_token_answers_401_and_never_echoes_it(gh: httpx.Client) -> None:
    """A wrong token is refused and appears nowhere in the answer; the `token` scheme also works."""
    wrong = gh.get("/orgs/acme", headers={"Authorization": "Bearer ghp_wrongwrongwrong"})
    assert wrong.status_code == 401
    assert "ghp_wrong" not in wrong.text and "ghp_wrong" not in str(wrong.headers)
    assert gh.get("/orgs/acme", headers={"Authorization": f"token {TOKEN}"}).status_code == 200
    assert gh.get("/orgs/acme", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401


def test_unknown_org_repo_hook_and_path_answer_vendor_404(gh: httpx.Client) -> None:
    """Unknown orgs, repos, hooks, paths and methods all get GitHub's JSON 404."""
    not_found = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}
    for method, path in [
        ("GET", "/orgs/other"),
        ("GET", "/orgs/other/members"),
        ("GET", "/repos/acme/nope"),
        ("GET", "/repos/other/api"),
        ("GET", "/repos/acme/api/hooks/999"),
        ("GET", "/repos/acme/api/hooks/not-a-number"),
        ("GET", "/orgs/acme/hooks/11"),
        ("GET", "/no/such/path"),
        ("DELETE", "/orgs/acme"),
    ]:
        response = gh.request(method, path)
        assert (response.status_code, response.json()) == (404, not_found), (method, path)


def test_body_that_is_not_a_json_object_answers_400(gh: httpx.Client) -> None:
    """Broken JSON and JSON that is not an object are both 'Problems parsing JSON'."""
    for content in (b"{not json", b"[1, 2]", b'"text"'):
        response = gh.patch("/orgs/acme", content=content)
        assert response.status_code == 400
        assert response.json()["message"] == "Problems parsing JSON"


def test_unprotected_branch_answers_404_branch_not_protected(gh: httpx.Client) -> None:
    """A branch absent from `_branch_protection` answers 404 'Branch not protected'."""
    response = gh.get("/repos/acme/web/branches/main/protection")
    assert response.status_code == 404
    assert response.json()["message"] == "Branch not protected"
    assert gh.get("/repos/acme/api/branches/main/protection").status_code == 200


# ---- reads ------------------------------------------------------------------------------------------------------
def test_pagination_walks_every_member_exactly_once(gh: httpx.Client, tenant: TenantFile) -> None:
    """Following Link rel=next with per_page=2 visits every member once; next/last/prev/first are right."""
    expected = [m["login"] for m in tenant.section()["members"]]
    first = gh.get("/orgs/acme/members", params={"per_page": 2})
    last_page = -(-len(expected) // 2)
    base = str(gh.base_url).rstrip("/")
    assert first.links["next"]["url"] == f"{base}/orgs/acme/members?per_page=2&page=2"
    assert first.links["last"]["url"] == f"{base}/orgs/acme/members?per_page=2&page={last_page}"
    assert "prev" not in first.links and "first" not in first.links
    seen, response = _logins(first), first
    while "next" in response.links:
        response = gh.get(response.links["next"]["url"])
        seen += _logins(response)
    assert seen == expected
    assert set(response.links) == {"prev", "first"}
    assert response.links["prev"]["url"].endswith(f"page={last_page - 1}")


def test_link_header_keeps_the_other_query_parameters(gh: httpx.Client) -> None:
    """Pagination links keep filters such as `role`, changing only `page`."""
    response = gh.get("/orgs/acme/members", params={"role": "member", "per_page": 1})
    assert _logins(response) == ["hubot"]
    next_url = httpx.URL(response.links["next"]["url"])
    assert dict(next_url.params) == {"role": "member", "per_page": "1", "page": "2"}


def test_members_2fa_filter_returns_only_the_listed_users(gh: httpx.Client, tenant: TenantFile) -> None:
    """`filter=2fa_disabled` serves exactly the logins in `members_2fa_disabled` (and likewise for outside)."""
    section = tenant.section()
    members = gh.get("/orgs/acme/members", params={"filter": "2fa_disabled"})
    assert _logins(members) == section["members_2fa_disabled"]
    devin = next(m for m in section["members"] if m["login"] == "devin")
    served_base = str(gh.base_url).rstrip("/")
    assert members.json()[0] == json.loads(json.dumps(devin).replace("https://api.github.com", served_base))
    outside = gh.get("/orgs/acme/outside_collaborators", params={"filter": "2fa_disabled"})
    assert _logins(outside) == section["outside_collaborators_2fa_disabled"]


def test_collaborators_affiliation_outside_lists_only_non_members(gh: httpx.Client) -> None:
    """`affiliation=outside` drops org members; `direct` lists every direct collaborator."""
    assert _logins(gh.get("/repos/acme/api/collaborators", params={"affiliation": "outside"})) == ["contractor-jo"]
    assert _logins(gh.get("/repos/acme/api/collaborators", params={"affiliation": "direct"})) == [
        "octocat",
        "contractor-jo",
    ]


def test_served_objects_drop_underscore_keys_and_keep_unknown_fields() -> None:
    """Tenant sub-collections (`_hooks`, …) are not served; vendor fields we do not know are served back."""
    document = json.loads(DEMO.read_text(encoding="utf-8"))
    document["github"]["repos"][0]["x_field_from_the_future"] = {"kept": True}
    app = create_github_app(parse_tenant(document, source="test"), token=TOKEN)
    for gh in _client(app):
        repo = gh.get("/repos/acme/api").json()
        assert repo["x_field_from_the_future"] == {"kept": True}
        assert not [key for key in repo if key.startswith("_")]
        ruleset = gh.get("/repos/acme/web/rulesets/42").json()
        assert "_links" in ruleset  # GitHub's own field, not a tenant sub-collection


def test_two_apps_from_one_tenant_file_are_independent(tenant: TenantFile) -> None:
    """Each app deep-copies the tenant: a write to one is invisible to the other and to the file's object."""
    first, second = create_github_app(tenant, token=TOKEN), create_github_app(tenant, token=TOKEN)
    for gh in _client(first):
        assert gh.patch("/orgs/acme", json={"default_repository_permission": "read"}).status_code == 200
    assert first.state.github.org["default_repository_permission"] == "read"
    assert second.state.github.org["default_repository_permission"] == "write"
    assert tenant.section()["org"]["default_repository_permission"] == "write"


# ---- webhook secrets and config ---------------------------------------------------------------------------------
def test_hook_secret_is_served_masked_and_absent_when_never_set(gh: httpx.Client, app: Starlette) -> None:
    """A set secret reads back as ******** everywhere; a hook created without one shows no secret at all."""
    created = gh.post("/repos/acme/docs/hooks", json={"config": {"url": "https://h.example/x"}})
    assert created.status_code == 201
    assert "secret" not in created.json()["config"]
    hook_id = created.json()["id"]
    patched = gh.patch(f"/repos/acme/docs/hooks/{hook_id}/config", json={"secret": "s3cr3t"})
    assert patched.json()["secret"] == "********"
    assert gh.get(f"/repos/acme/docs/hooks/{hook_id}").json()["config"]["secret"] == "********"
    assert gh.get(f"/repos/acme/docs/hooks/{hook_id}/config").json()["secret"] == "********"
    assert "s3cr3t" not in gh.get("/repos/acme/docs/hooks").text
    stored = app.state.github.find(app.state.github.repo("docs")["_hooks"], hook_id)
    assert stored["config"]["secret"] == "s3cr3t"


def test_hook_config_patch_merges_the_given_keys(gh: httpx.Client, app: Starlette) -> None:
    """PATCH …/hooks/{id}/config changes only the keys sent; url and secret stay."""
    before = gh.get("/repos/acme/api/hooks/11/config").json()
    after = gh.patch("/repos/acme/api/hooks/11/config", json={"insecure_ssl": 0}).json()
    assert after == {**before, "insecure_ssl": "0"}
    assert gh.get("/repos/acme/api/hooks/11").json()["config"] == after
    org_after = gh.patch("/orgs/acme/hooks/301/config", json={"url": "https://siem.example/new"}).json()
    assert org_after["url"] == "https://siem.example/new" and org_after["secret"] == "********"
    assert app.state.github.find(app.state.github.hooks, 301)["updated_at"] != "2026-09-04T17:26:27Z"


def test_whole_hook_patch_replaces_config_and_drops_an_unsent_secret(gh: httpx.Client) -> None:
    """PATCH …/hooks/{id} with `config` replaces it (GitHub's rule), and active/events change as given."""
    body = {"config": {"url": "https://ci.example/new", "content_type": "json"}, "active": False}
    hook = gh.patch("/repos/acme/api/hooks/11", json=body).json()
    assert hook["config"] == {"url": "https://ci.example/new", "content_type": "json"}
    assert hook["active"] is False
    events = gh.patch("/repos/acme/api/hooks/11", json={"add_events": ["release"], "remove_events": ["push"]})
    assert events.json()["events"] == ["release"]
    assert events.json()["config"] == hook["config"]


def test_hook_with_invalid_config_answers_422(gh: httpx.Client) -> None:
    """A content_type GitHub does not know, or a hook without URL, is 'Validation Failed'."""
    bad = gh.patch("/repos/acme/api/hooks/11/config", json={"content_type": "xml"})
    assert bad.status_code == 422 and bad.json()["message"] == "Validation Failed"
    assert gh.post("/orgs/acme/hooks", json={"name": "web", "config": {}}).status_code == 422


# ---- settings -----------------------------------------------------------------------------------------------------
def test_repo_security_and_analysis_patch_changes_only_the_given_feature(gh: httpx.Client, app: Starlette) -> None:
    """Each security_and_analysis feature is merged on its own; the others keep their status."""
    before = app.state.github.repo("api")["security_and_analysis"]
    before = {name: dict(value) for name, value in before.items()}
    patch = {"security_and_analysis": {"secret_scanning": {"status": "enabled"}}}
    served = gh.patch("/repos/acme/api", json=patch).json()["security_and_analysis"]
    assert served == {**before, "secret_scanning": {"status": "enabled"}}
    assert app.state.github.repo("api")["security_and_analysis"] == served
    bad = gh.patch("/repos/acme/api", json={"security_and_analysis": {"secret_scanning": {"status": "on"}}})
    assert bad.status_code == 422


def test_org_patch_with_invalid_enum_answers_422_and_leaves_org_unchanged(gh: httpx.Client, app: Starlette) -> None:
    """An unknown default_repository_permission is rejected and nothing in the org changes."""
    before = dict(app.state.github.org)
    response = gh.patch("/orgs/acme", json={"default_repository_permission": "owner", "name": "Changed"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"resource": "Organization", "code": "invalid", "field": "default_repository_permission"}
    ]
    assert app.state.github.org == before


def test_org_patch_updates_the_given_fields(gh: httpx.Client) -> None:
    """A valid org PATCH is served back and read back by a later GET."""
    body = {"default_repository_permission": "read", "members_can_create_public_repositories": False}
    assert gh.patch("/orgs/acme", json=body).status_code == 200
    org = gh.get("/orgs/acme").json()
    assert org["default_repository_permission"] == "read"
    assert org["members_can_create_public_repositories"] is False


# ---- writes visible to later reads ---------------------------------------------------------------------------
def test_deploy_key_create_and_delete_are_visible_to_later_gets(gh: httpx.Client) -> None:
    """POST /keys adds a key a later GET lists; DELETE removes it."""
    created = gh.post("/repos/acme/api/keys", json={"title": "bot", "key": "ssh-ed25519 AAAAnewkey", "read_only": True})
    assert created.status_code == 201
    key = created.json()
    assert created.headers["location"] == key["url"]
    assert key["id"] in [k["id"] for k in gh.get("/repos/acme/api/keys").json()]
    assert gh.delete(f"/repos/acme/api/keys/{key['id']}").status_code == 204
    assert gh.get(f"/repos/acme/api/keys/{key['id']}").status_code == 404
    assert gh.post("/repos/acme/api/keys", json={"title": "no key"}).status_code == 422


def test_hook_create_and_delete_are_visible_to_later_gets(gh: httpx.Client) -> None:
    """Org and repo hooks created by POST are listed, and DELETE removes them."""
    for base in ("/orgs/acme/hooks", "/repos/acme/web/hooks"):
        body = {"name": "web", "config": {"url": "https://new.example/h", "secret": "x"}, "events": ["*"]}
        hook = gh.post(base, json=body).json()
        assert hook["id"] in [h["id"] for h in gh.get(base).json()]
        assert gh.delete(f"{base}/{hook['id']}").status_code == 204
        assert gh.get(f"{base}/{hook['id']}").status_code == 404


def test_collaborator_grant_and_removal_are_visible_to_later_gets(gh: httpx.Client) -> None:
    """Adding an outsider makes them an outside collaborator; removing them drops both listings."""
    invited = gh.put("/repos/acme/docs/collaborators/freelancer", json={"permission": "triage"})
    assert invited.status_code == 201 and invited.json()["permissions"] == "triage"
    listed = gh.get("/repos/acme/docs/collaborators", params={"affiliation": "outside"}).json()
    assert [(c["login"], c["role_name"]) for c in listed] == [("freelancer", "triage")]
    assert "freelancer" in _logins(gh.get("/orgs/acme/outside_collaborators"))
    assert gh.put("/repos/acme/docs/collaborators/freelancer", json={"permission": "admin"}).status_code == 204
    assert gh.get("/repos/acme/docs/collaborators/freelancer/permission").json()["permission"] == "admin"
    assert gh.delete("/repos/acme/docs/collaborators/freelancer").status_code == 204
    assert gh.get("/repos/acme/docs/collaborators").json() == []
    assert "freelancer" not in _logins(gh.get("/orgs/acme/outside_collaborators"))


def test_membership_role_change_and_removal_are_visible_to_later_gets(gh: httpx.Client) -> None:
    """PUT membership changes the role; DELETE removes the member and their repository access."""
    assert gh.put("/orgs/acme/memberships/mona", json={"role": "admin"}).json()["role"] == "admin"
    assert "mona" in _logins(gh.get("/orgs/acme/members", params={"role": "admin"}))
    assert gh.put("/orgs/acme/memberships/mona", json={"role": "boss"}).status_code == 422
    assert gh.get("/orgs/acme/members/mona").status_code == 204
    assert gh.delete("/orgs/acme/memberships/mona").status_code == 204
    assert gh.get("/orgs/acme/members/mona").status_code == 404
    assert gh.get("/orgs/acme/memberships/mona").status_code == 404
    assert "mona" not in _logins(gh.get("/repos/acme/infra/collaborators"))


def test_converting_a_member_to_outside_collaborator_moves_them(gh: httpx.Client) -> None:
    """PUT outside_collaborators/{user} turns a member into an outside collaborator, 2FA status included."""
    assert gh.put("/orgs/acme/outside_collaborators/devin").status_code == 204
    assert "devin" not in _logins(gh.get("/orgs/acme/members"))
    assert "devin" in _logins(gh.get("/orgs/acme/outside_collaborators", params={"filter": "2fa_disabled"}))
    assert gh.delete("/orgs/acme/outside_collaborators/octocat").status_code == 422
    assert gh.delete("/orgs/acme/outside_collaborators/contractor-jo").status_code == 204
    assert "contractor-jo" not in _logins(gh.get("/repos/acme/api/collaborators"))


def test_branch_protection_put_stores_the_get_shape_and_delete_removes_it(gh: httpx.Client) -> None:
    """PUT takes the PUT body (booleans, logins) and a later GET serves enabled flags and URLs."""
    body = {
        "required_status_checks": {"strict": True, "contexts": ["ci/test"]},
        "enforce_admins": True,
        "required_pull_request_reviews": {"required_approving_review_count": 2, "dismiss_stale_reviews": True},
        "restrictions": None,
        "allow_force_pushes": False,
        "required_linear_history": True,
    }
    put = gh.put("/repos/acme/web/branches/main/protection", json=body)
    assert put.status_code == 200
    got = gh.get("/repos/acme/web/branches/main/protection").json()
    assert got == put.json()
    base = f"{str(gh.base_url).rstrip('/')}/repos/acme/web/branches/main/protection"
    assert got["url"] == base
    assert got["enforce_admins"] == {"url": f"{base}/enforce_admins", "enabled": True}
    assert got["required_linear_history"] == {"enabled": True}
    assert got["required_status_checks"]["checks"] == [{"context": "ci/test", "app_id": None}]
    assert got["required_pull_request_reviews"]["required_approving_review_count"] == 2
    assert "restrictions" not in got
    assert gh.get("/repos/acme/web/branches/main").json()["protected"] is True
    missing = gh.put("/repos/acme/web/branches/main/protection", json={"enforce_admins": True})
    assert missing.status_code == 422
    assert gh.delete("/repos/acme/web/branches/main/protection").status_code == 204
    assert gh.get("/repos/acme/web/branches/main/protection").status_code == 404


# ---- rate limit -----------------------------------------------------------------------------------------------
def test_rate_limit_headers_count_down_on_every_response(gh: httpx.Client) -> None:
    """Every answer carries GitHub's x-ratelimit-* headers and each request spends one unit."""
    first, second = gh.get("/orgs/acme"), gh.get("/orgs/acme/repos")
    assert first.headers["x-ratelimit-limit"] == "5000"
    assert first.headers["x-ratelimit-resource"] == "core"
    assert int(first.headers["x-ratelimit-remaining"]) - 1 == int(second.headers["x-ratelimit-remaining"])
    assert int(second.headers["x-ratelimit-used"]) == 2
    assert int(second.headers["x-ratelimit-reset"]) > 1_700_000_000


def test_rate_limit_exhaustion_answers_403_with_remaining_zero(tenant: TenantFile) -> None:
    """After the budget is spent GitHub's 403 comes back; /rate_limit itself costs nothing."""
    for gh in _client(create_github_app(tenant, token=TOKEN, rate_limit=3)):
        assert [gh.get("/orgs/acme").headers["x-ratelimit-remaining"] for _ in range(3)] == ["2", "1", "0"]
        refused = gh.get("/orgs/acme")
        assert refused.status_code == 403
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert refused.json()["message"].startswith("API rate limit exceeded for ")
        assert refused.json()["documentation_url"].startswith("https://docs.github.com/")
        overview = gh.get("/rate_limit")
        assert overview.status_code == 200
        assert overview.json()["rate"] == overview.json()["resources"]["core"]
        assert overview.json()["rate"]["remaining"] == 0 and overview.json()["rate"]["used"] == 3


def test_rate_limit_window_refills_after_the_reset_time(tenant: TenantFile) -> None:
    """When the clock passes x-ratelimit-reset the budget is whole again."""
    now = [1_800_000_000.0]
    app = create_github_app(tenant, token=TOKEN, rate_limit=1, clock=lambda: now[0])
    for gh in _client(app):
        assert gh.get("/orgs/acme").status_code == 200
        refused = gh.get("/orgs/acme")
        assert refused.status_code == 403
        now[0] = float(refused.headers["x-ratelimit-reset"])
        assert gh.get("/orgs/acme").status_code == 200


# ---- the loopback server -------------------------------------------------------------------------------------
def test_port_in_use_raises_connection_problem_naming_the_port(app: Starlette) -> None:
    """Serving on a taken port fails at once with a one-line message naming host, port and --port."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(ConnectionProblem) as err, serve_in_thread(app, port=port):
            pass
    assert str(err.value) == f"port {port} on 127.0.0.1 is already in use; pick another with --port"


def test_serve_in_thread_stops_cleanly_and_frees_the_port(app: Starlette) -> None:
    """Leaving the block stops the server thread and closes the socket."""
    before = set(threading.enumerate())
    with serve_in_thread(app) as server:
        port = server.port
        assert httpx.get(f"{server.base_url}/orgs/acme", headers=AUTH).status_code == 200
    assert set(threading.enumerate()) <= before
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/orgs/acme", headers=AUTH)


async def test_serve_async_serves_until_cancelled(app: Starlette) -> None:
    """The foreground server answers once `ready` fires and shuts down when its task is cancelled."""
    ready: asyncio.Future[LoopbackServer] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve_async(app, host="127.0.0.1", port=0, ready=ready.set_result))
    server = await asyncio.wait_for(ready, 10)
    async with httpx.AsyncClient(base_url=server.base_url, headers=AUTH) as client:
        assert (await client.get("/orgs/acme")).status_code == 200
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", server.port))  # the port is free again


def test_listening_socket_disables_nagle() -> None:
    """Regression: without TCP_NODELAY every simulator response waited ~40 ms for a delayed ACK."""
    import socket

    from mendflow.runtime.loopback import bind_listening_socket

    sock = bind_listening_socket("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        sock.close()
