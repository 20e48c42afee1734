"""Stock PyGithub, given only the simulator's base URL (github.com style and GitHub Enterprise's `/api/v3`),
reads what mendflow reads and makes the writes mendflow's actions make: the simulator answers as GitHub would,
including the absolute URLs in bodies that PyGithub follows (it refuses any host but its base URL's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from github import Auth, Github
from github.GithubException import GithubException
from github.NamedUser import NamedUser
from github.Organization import Organization
from starlette.applications import Starlette

from mendflow.runtime.loopback import serve_in_thread
from mendflow.sim.github import create_github_app
from mendflow.tenant import load_tenant_file

DEMO = Path(__file__).resolve().parents[2] / "src" / "mendflow" / "data" / "demo-github.json"
TOKEN = "ghp_pygithubcontract0123456789"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPyGithubContractKeyMaterial0000000000000"


@pytest.fixture(params=["", "/api/v3"], ids=["github.com", "enterprise"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[Github, Starlette, str]]:
    prefix: str = request.param
    app = create_github_app(load_tenant_file(DEMO), token=TOKEN, api_prefix=prefix)
    with serve_in_thread(app) as server:
        base = server.base_url + prefix
        # No client-side pacing (PyGithub waits 0.25 s between requests and 1 s between writes by default).
        client = Github(
            auth=Auth.Token(TOKEN),
            base_url=base,
            retry=None,
            per_page=2,
            seconds_between_requests=0,
            seconds_between_writes=0,
        )
        yield client, app, base
        client.close()


def _member(org: Organization, login: str) -> NamedUser:
    # PyGithub's get_user(login) calls GET /users/{login}, which mendflow never uses and the simulator lacks.
    return next(user for user in org.get_members() if user.login == login)


def test_reads_mendflow_makes(served: tuple[Github, Starlette, str]) -> None:
    """Org, repos (paged), hooks, deploy keys, branch protection, members, collaborators and permissions read
    through PyGithub, every followed URL on the simulator's base."""
    gh, _, base = served
    org = gh.get_organization("acme")
    assert org.url == f"{base}/orgs/acme" and org.two_factor_requirement_enabled is False
    repos = list(org.get_repos())  # per_page=2: PyGithub follows the Link header across pages
    assert [r.name for r in repos] == ["api", "web", "infra", "docs"]
    api = repos[0]  # a listed repository: its later calls go to the `url` in the body
    assert api.url == f"{base}/repos/acme/api"
    assert [h.config["url"] for h in api.get_hooks()] == [
        "https://ci.acme.example/hooks/github",  # a hook's destination is not a GitHub URL: never rewritten
        "https://chat.acme.example/github",
    ]
    assert [h.id for h in org.get_hooks()] == [301, 302]
    assert [(k.title, k.read_only) for k in api.get_keys()] == [("deploy-bot", False)]
    protection = api.get_branch("main").get_protection()
    assert protection.enforce_admins is True
    assert protection.required_pull_request_reviews.required_approving_review_count == 2
    assert [m.login for m in org.get_members()] == ["octocat", "hubot", "mona", "lisa", "devin"]
    assert [m.login for m in org.get_members(filter_="2fa_disabled")] == ["devin"]
    assert [u.login for u in org.get_outside_collaborators()] == ["contractor-jo"]
    assert [c.login for c in api.get_collaborators()] == ["octocat", "contractor-jo"]
    assert api.get_collaborator_permission("contractor-jo") in ("read", "write", "admin", "none")
    assert _member(org, "octocat").get_organization_membership("acme").role == "admin"


def test_writes_mendflow_actions_make(served: tuple[Github, Starlette, str]) -> None:
    """Org settings, repository visibility, hooks (create, disable, delete), deploy keys, branch protection,
    collaborators and org membership changed through PyGithub land in the simulator's state."""
    gh, app, _ = served
    state = app.state.github
    org = gh.get_organization("acme")
    # PyGithub's Organization.edit has no default_repository_permission: its public requester sends the PATCH.
    gh.requester.requestJsonAndCheck("PATCH", org.url, input={"default_repository_permission": "read"})
    assert state.org["default_repository_permission"] == "read"
    api = org.get_repo("api")
    api.edit(private=True)
    assert gh.get_repo("acme/api").private is True

    hook = api.create_hook("web", {"url": "https://hooks.acme.example/in", "content_type": "json"}, ["push"])
    hook.edit("web", dict(hook.config), active=False)
    assert [h.active for h in api.get_hooks() if h.id == hook.id] == [False]
    hook.delete()
    assert hook.id not in [h.id for h in api.get_hooks()]
    org_hook = org.get_hook(301)
    org_hook.edit("web", dict(org_hook.config), active=False)
    assert org.get_hook(301).active is False

    key = api.create_key("ci", KEY, read_only=True)
    assert key.read_only is True
    key.delete()
    assert [k.title for k in api.get_keys()] == ["deploy-bot"]

    main = api.get_branch("main")
    main.edit_protection(strict=True, contexts=["ci/test"], enforce_admins=True, required_approving_review_count=1)
    assert main.get_protection().required_status_checks.contexts == ["ci/test"]
    main.remove_protection()
    with pytest.raises(GithubException) as missing:
        main.get_protection()
    assert missing.value.status == 404

    api.remove_from_collaborators("contractor-jo")
    assert "contractor-jo" not in [c.login for c in api.get_collaborators()]
    api.add_to_collaborators("mona", permission="pull")
    hubot = _member(org, "hubot")
    org.add_to_members(hubot, role="admin")
    assert hubot.get_organization_membership("acme").role == "admin"
    org.remove_from_membership(_member(org, "devin"))
    assert "devin" not in [m.login for m in org.get_members()]
    org.convert_to_outside_collaborator(_member(org, "lisa"))
    assert "lisa" in [u.login for u in org.get_outside_collaborators()]
    org.remove_outside_collaborator(next(u for u in org.get_outside_collaborators() if u.login == "lisa"))
    assert "lisa" not in [u.login for u in org.get_outside_collaborators()]
