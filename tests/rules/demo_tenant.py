"""Resources of the demo tenant (src/mendflow/data/demo-github.json), built by hand following the connector
contract, so rule tests do not depend on the connector or the simulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

from mendflow.models import Resource

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
"""The demo file's `taken_at`."""


def demo_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((files("mendflow.data") / "demo-github.json").read_text(encoding="utf-8"))
    return document


def demo_resources(document: dict[str, Any] | None = None) -> list[Resource]:
    github = (document or demo_document())["github"]
    org = github["org"]["login"]
    resources = [Resource(type="github.org", id=f"/orgs/{org}", data=github["org"])]
    members_off = set(github["members_2fa_disabled"])
    for user in github["members"]:
        login = user["login"]
        membership = github["memberships"].get(login)
        resources.append(
            Resource(
                type="github.member",
                id=f"/orgs/{org}/memberships/{login}",
                data=user,
                related={
                    "membership": {"role": membership["role"], "state": membership["state"]} if membership else None,
                    "two_factor_disabled": login in members_off,
                },
            )
        )
    outside_off = set(github["outside_collaborators_2fa_disabled"])
    outside = {user["login"] for user in github["outside_collaborators"]}
    for user in github["outside_collaborators"]:
        resources.append(
            Resource(
                type="github.outside_collaborator",
                id=f"/orgs/{org}/outside_collaborators/{user['login']}",
                data=user,
                related={"two_factor_disabled": user["login"] in outside_off},
            )
        )
    for hook in github["hooks"]:
        resources.append(Resource(type="github.org_hook", id=f"/orgs/{org}/hooks/{hook['id']}", data=hook))
    for repo in github["repos"]:
        resources.extend(_repo_resources(repo, outside))
    return resources


def _repo_resources(repo: dict[str, Any], outside: set[str]) -> list[Resource]:
    base = f"/repos/{repo['owner']['login']}/{repo['name']}"
    data = {key: value for key, value in repo.items() if not key.startswith("_")}
    summary = {key: repo[key] for key in ("name", "private", "visibility", "archived")}
    branch = repo["default_branch"]
    rulesets = [
        ruleset for ruleset in repo["_rulesets"] if ruleset["enforcement"] == "active" and _targets(ruleset, branch)
    ]
    found = [
        Resource(
            type="github.repo",
            id=base,
            data=data,
            related={
                "default_branch_protection": repo["_branch_protection"].get(branch),
                "default_branch_rulesets": rulesets,
            },
        )
    ]
    found += [
        Resource(type="github.repo_hook", id=f"{base}/hooks/{hook['id']}", data=hook, related={"repo": summary})
        for hook in repo["_hooks"]
    ]
    found += [
        Resource(type="github.deploy_key", id=f"{base}/keys/{key['id']}", data=key, related={"repo": summary})
        for key in repo["_keys"]
    ]
    found += [
        Resource(
            type="github.collaborator",
            id=f"{base}/collaborators/{user['login']}",
            data=user,
            related={"outside": user["login"] in outside, "repo": summary},
        )
        for user in repo["_collaborators"]
    ]
    return found


def _targets(ruleset: dict[str, Any], branch: str) -> bool:
    include = ruleset.get("conditions", {}).get("ref_name", {}).get("include", [])
    return bool({"~DEFAULT_BRANCH", "~ALL", f"refs/heads/{branch}"} & set(include))
