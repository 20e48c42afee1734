"""Rule engine benchmark: 50 posture rules over 100,000 GitHub-shaped resources, the CEL engine against the same
conditions hand-written in Python, in one run (`.venv/bin/python bench/rules.py`, also part of `make bench`).

Resources are generated deterministically and streamed in chunks of 1,000: each chunk is evaluated by the
engine (`RuleSet.decider`, the engine's inner loop: one generated function per resource type) and by the
hand-written functions (one call per rule, each guarded like an engine would), timed separately, and the two
sets of decisions are compared on every resource before the chunk is dropped. Only one chunk is ever in memory.
Then `bench/rules_shipped.py` times the shipped playbooks over realistic GitHub and Okta resources the same way.
"""

from __future__ import annotations

import gc
import json
import random
import re
import resource
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from mendflow.playbooks.model import Playbook
from mendflow.rules import compile_rules

RESOURCES = 100_000
CHUNK = 1_000
SEED = 20_240_601
AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MIX = {
    "github.repo": 0.40,
    "github.member": 0.20,
    "github.repo_hook": 0.15,
    "github.collaborator": 0.12,
    "github.deploy_key": 0.08,
    "github.org_hook": 0.04,
    "github.org": 0.01,
}
"""Share of each resource type in the snapshot."""

Resource = tuple[str, dict[str, Any], dict[str, Any]]
_REPO_LINKS = (
    "forks",
    "keys",
    "collaborators",
    "teams",
    "hooks",
    "issue_events",
    "events",
    "assignees",
    "branches",
    "tags",
    "blobs",
    "git_tags",
    "git_refs",
    "trees",
    "statuses",
    "languages",
    "stargazers",
    "contributors",
    "subscribers",
    "subscription",
    "commits",
    "git_commits",
    "comments",
    "issue_comment",
    "contents",
    "compare",
    "merges",
    "archive",
    "downloads",
    "issues",
    "pulls",
    "milestones",
    "notifications",
    "labels",
    "releases",
    "deployments",
)
"""The `*_url` links GitHub returns on every repository (most of a repository object's bytes)."""


# The 50 rules: (id, resource type, CEL condition, the same condition hand-written in Python).
# The Python versions are written the way one would by hand: direct subscripts (a missing field raises, like
# CEL's error), `is True`/`is False` for JSON booleans, datetime.fromisoformat, precompiled regular expressions.

_ts = datetime.fromisoformat
_HTTP = re.compile(r"(?i)^http://")
_SECRETISH = re.compile(r"(?i)(secret|password|credential)")
_CONTRACTOR = re.compile(r"^[a-z0-9-]+-(contractor|vendor)$")
_D90, _D180, _D365, _D730 = (timedelta(days=d) for d in (90, 180, 365, 730))


def _active_ruleset(rel: Any) -> bool:
    return any(r["enforcement"] == "active" for r in rel["default_branch_rulesets"])


def _insufficient_approvals(r: Any, rel: Any, now: datetime) -> bool:
    protection = rel["default_branch_protection"]
    if r["archived"] is not False or (protection is None and not _active_ruleset(rel)):
        return False
    classic_weak = (
        protection is None
        or "required_pull_request_reviews" not in protection
        or protection["required_pull_request_reviews"]["required_approving_review_count"] < 2
    )
    ruleset_strong = any(
        rs["enforcement"] == "active"
        and "rules" in rs
        and any(
            x["type"] == "pull_request" and x["parameters"]["required_approving_review_count"] >= 2 for x in rs["rules"]
        )
        for rs in rel["default_branch_rulesets"]
    )
    return classic_weak and not ruleset_strong


def _no_secret(h: Any) -> bool:
    config = h["config"]
    return "secret" not in config or config["secret"] is None or config["secret"] == ""


RULES: list[tuple[str, str, str, Callable[..., bool]]] = [
    # Repositories (18)
    (
        "repo_secret_scanning_disabled",
        "github.repo",
        'resource.archived == false && resource.security_and_analysis.secret_scanning.status == "disabled"',
        lambda r, rel, now: (
            r["archived"] is False and r["security_and_analysis"]["secret_scanning"]["status"] == "disabled"
        ),
    ),
    (
        "repo_push_protection_disabled",
        "github.repo",
        "resource.archived == false"
        ' && resource.security_and_analysis.secret_scanning_push_protection.status == "disabled"',
        lambda r, rel, now: (
            r["archived"] is False
            and r["security_and_analysis"]["secret_scanning_push_protection"]["status"] == "disabled"
        ),
    ),
    (
        "repo_dependabot_disabled",
        "github.repo",
        'resource.archived == false && resource.security_and_analysis.dependabot_security_updates.status == "disabled"',
        lambda r, rel, now: (
            r["archived"] is False and r["security_and_analysis"]["dependabot_security_updates"]["status"] == "disabled"
        ),
    ),
    (
        "repo_inactive_not_archived",
        "github.repo",
        "resource.archived == false && timestamp(resource.pushed_at != null ? resource.pushed_at : resource.created_at)"
        ' < now - duration("4320h")',
        lambda r, rel, now: (
            r["archived"] is False
            and _ts(r["pushed_at"] if r["pushed_at"] is not None else r["created_at"]) < now - _D180
        ),
    ),
    (
        "repo_default_branch_unprotected",
        "github.repo",
        "resource.archived == false && related.default_branch_protection == null"
        ' && !related.default_branch_rulesets.exists(r, r.enforcement == "active")',
        lambda r, rel, now: (
            r["archived"] is False and rel["default_branch_protection"] is None and not _active_ruleset(rel)
        ),
    ),
    (
        "repo_force_push_allowed",
        "github.repo",
        "related.default_branch_protection != null && has(related.default_branch_protection.allow_force_pushes)"
        " && related.default_branch_protection.allow_force_pushes.enabled == true",
        lambda r, rel, now: (
            (p := rel["default_branch_protection"]) is not None
            and "allow_force_pushes" in p
            and p["allow_force_pushes"]["enabled"] is True
        ),
    ),
    (
        "repo_insufficient_approvals",
        "github.repo",
        "resource.archived == false"
        " && !(related.default_branch_protection == null"
        ' && !related.default_branch_rulesets.exists(r, r.enforcement == "active"))'
        " && (related.default_branch_protection == null"
        " || !has(related.default_branch_protection.required_pull_request_reviews)"
        " || related.default_branch_protection.required_pull_request_reviews.required_approving_review_count < 2)"
        ' && !related.default_branch_rulesets.exists(r, r.enforcement == "active" && has(r.rules)'
        ' && r.rules.exists(x, x.type == "pull_request" && x.parameters.required_approving_review_count >= 2))',
        _insufficient_approvals,
    ),
    (
        "repo_private_forking_allowed",
        "github.repo",
        "resource.private == true && resource.allow_forking == true",
        lambda r, rel, now: r["private"] is True and r["allow_forking"] is True,
    ),
    (
        "repo_public_wiki",
        "github.repo",
        'resource.visibility == "public" && resource.has_wiki == true',
        lambda r, rel, now: r["visibility"] == "public" and r["has_wiki"] is True,
    ),
    (
        "repo_auto_merge_without_cleanup",
        "github.repo",
        "resource.allow_auto_merge == true && resource.delete_branch_on_merge == false",
        lambda r, rel, now: r["allow_auto_merge"] is True and r["delete_branch_on_merge"] is False,
    ),
    (
        "repo_unusual_default_branch",
        "github.repo",
        '!(resource.default_branch in ["main", "master", "trunk"])',
        lambda r, rel, now: r["default_branch"] not in ("main", "master", "trunk"),
    ),
    (
        "repo_deprecated_not_archived",
        "github.repo",
        'resource.archived == false && resource.topics.exists(t, t == "deprecated")',
        lambda r, rel, now: r["archived"] is False and "deprecated" in r["topics"],
    ),
    (
        "repo_public_without_license",
        "github.repo",
        'resource.visibility == "public" && resource.license == null',
        lambda r, rel, now: r["visibility"] == "public" and r["license"] is None,
    ),
    (
        "repo_copyleft_license",
        "github.repo",
        'resource.license != null && resource.license.spdx_id in ["GPL-3.0", "AGPL-3.0"]',
        lambda r, rel, now: r["license"] is not None and r["license"]["spdx_id"] in ("GPL-3.0", "AGPL-3.0"),
    ),
    ("repo_very_large", "github.repo", "resource.size > 1000000", lambda r, rel, now: r["size"] > 1000000),
    (
        "repo_undocumented",
        "github.repo",
        '(resource.description == null || resource.description == "") && size(resource.topics) == 0',
        lambda r, rel, now: (r["description"] is None or r["description"] == "") and len(r["topics"]) == 0,
    ),
    (
        "repo_secretish_name",
        "github.repo",
        'resource.name.matches("(?i)(secret|password|credential)")',
        lambda r, rel, now: _SECRETISH.search(r["name"]) is not None,
    ),
    (
        "repo_pii_without_signoff",
        "github.repo",
        'has(resource.custom_properties.data_classification) && resource.custom_properties.data_classification == "pii"'
        " && resource.web_commit_signoff_required == false",
        lambda r, rel, now: (
            "data_classification" in r["custom_properties"]
            and r["custom_properties"]["data_classification"] == "pii"
            and r["web_commit_signoff_required"] is False
        ),
    ),
    # Repository webhooks (8)
    (
        "repo_hook_insecure_ssl",
        "github.repo_hook",
        'resource.config.insecure_ssl == "1"',
        lambda h, rel, now: h["config"]["insecure_ssl"] == "1",
    ),
    (
        "repo_hook_plain_http",
        "github.repo_hook",
        'resource.active == true && resource.config.url.matches("(?i)^http://")',
        lambda h, rel, now: h["active"] is True and _HTTP.search(h["config"]["url"]) is not None,
    ),
    (
        "repo_hook_without_secret",
        "github.repo_hook",
        "resource.active == true"
        ' && (!has(resource.config.secret) || resource.config.secret == null || resource.config.secret == "")',
        lambda h, rel, now: h["active"] is True and _no_secret(h),
    ),
    (
        "repo_hook_all_events",
        "github.repo_hook",
        'resource.active == true && resource.events.exists(e, e == "*")',
        lambda h, rel, now: h["active"] is True and "*" in h["events"],
    ),
    (
        "repo_hook_failing",
        "github.repo_hook",
        "resource.active == true && resource.last_response.code != null && resource.last_response.code >= 400",
        lambda h, rel, now: h["active"] is True and (c := h["last_response"]["code"]) is not None and c >= 400,
    ),
    (
        "repo_hook_tunnel_on_public_repo",
        "github.repo_hook",
        'related.repo.visibility == "public" && resource.config.url.contains("ngrok")',
        lambda h, rel, now: rel["repo"]["visibility"] == "public" and "ngrok" in h["config"]["url"],
    ),
    (
        "repo_hook_form_encoded",
        "github.repo_hook",
        'resource.active == true && resource.config.content_type == "form"',
        lambda h, rel, now: h["active"] is True and h["config"]["content_type"] == "form",
    ),
    (
        "repo_hook_untouched",
        "github.repo_hook",
        'resource.active == true && timestamp(resource.updated_at) < now - duration("17520h")',
        lambda h, rel, now: h["active"] is True and _ts(h["updated_at"]) < now - _D730,
    ),
    # Organisation members (6)
    (
        "member_two_factor_disabled",
        "github.member",
        "related.two_factor_disabled == true",
        lambda u, rel, now: rel["two_factor_disabled"] is True,
    ),
    (
        "member_admin_without_2fa",
        "github.member",
        'related.membership != null && related.membership.role == "admin" && related.two_factor_disabled == true',
        lambda u, rel, now: (
            (m := rel["membership"]) is not None and m["role"] == "admin" and rel["two_factor_disabled"] is True
        ),
    ),
    ("member_site_admin", "github.member", "resource.site_admin == true", lambda u, rel, now: u["site_admin"] is True),
    (
        "member_invitation_pending",
        "github.member",
        'related.membership != null && related.membership.state == "pending"',
        lambda u, rel, now: (m := rel["membership"]) is not None and m["state"] == "pending",
    ),
    (
        "member_bot_admin",
        "github.member",
        'resource.type == "Bot" && related.membership != null && related.membership.role == "admin"',
        lambda u, rel, now: u["type"] == "Bot" and (m := rel["membership"]) is not None and m["role"] == "admin",
    ),
    (
        "member_service_account_admin",
        "github.member",
        'resource.login.startsWith("svc-") && related.membership != null && related.membership.role == "admin"',
        lambda u, rel, now: (
            u["login"].startswith("svc-") and (m := rel["membership"]) is not None and m["role"] == "admin"
        ),
    ),
    # Repository collaborators (6)
    (
        "collaborator_outside_admin",
        "github.collaborator",
        "related.outside == true && resource.permissions.admin == true",
        lambda c, rel, now: rel["outside"] is True and c["permissions"]["admin"] is True,
    ),
    (
        "collaborator_outside_push_private",
        "github.collaborator",
        "related.outside == true && resource.permissions.push == true && related.repo.private == true",
        lambda c, rel, now: (
            rel["outside"] is True and c["permissions"]["push"] is True and rel["repo"]["private"] is True
        ),
    ),
    (
        "collaborator_outside_maintainer",
        "github.collaborator",
        'related.outside == true && resource.role_name in ["admin", "maintain"]',
        lambda c, rel, now: rel["outside"] is True and c["role_name"] in ("admin", "maintain"),
    ),
    (
        "collaborator_site_admin",
        "github.collaborator",
        "resource.site_admin == true && resource.permissions.admin == true",
        lambda c, rel, now: c["site_admin"] is True and c["permissions"]["admin"] is True,
    ),
    (
        "collaborator_bot_admin_active_repo",
        "github.collaborator",
        'related.repo.archived == false && resource.type == "Bot" && resource.permissions.admin == true',
        lambda c, rel, now: (
            rel["repo"]["archived"] is False and c["type"] == "Bot" and c["permissions"]["admin"] is True
        ),
    ),
    (
        "collaborator_contractor_push",
        "github.collaborator",
        'resource.login.matches("^[a-z0-9-]+-(contractor|vendor)$") && resource.permissions.push == true',
        lambda c, rel, now: _CONTRACTOR.search(c["login"]) is not None and c["permissions"]["push"] is True,
    ),
    # Deploy keys (6)
    (
        "deploy_key_write_access",
        "github.deploy_key",
        "resource.read_only == false",
        lambda k, rel, now: k["read_only"] is False,
    ),
    (
        "deploy_key_stale",
        "github.deploy_key",
        'timestamp(resource.last_used != null ? resource.last_used : resource.created_at) < now - duration("2160h")',
        lambda k, rel, now: _ts(k["last_used"] if k["last_used"] is not None else k["created_at"]) < now - _D90,
    ),
    (
        "deploy_key_unverified",
        "github.deploy_key",
        "resource.verified == false",
        lambda k, rel, now: k["verified"] is False,
    ),
    (
        "deploy_key_write_on_public_repo",
        "github.deploy_key",
        'resource.read_only == false && related.repo.visibility == "public"',
        lambda k, rel, now: k["read_only"] is False and rel["repo"]["visibility"] == "public",
    ),
    (
        "deploy_key_temporary",
        "github.deploy_key",
        'resource.title.lowerAscii().contains("temp")',
        lambda k, rel, now: "temp" in k["title"].lower(),
    ),
    (
        "deploy_key_disabled_left_behind",
        "github.deploy_key",
        'resource.enabled == false && timestamp(resource.created_at) < now - duration("8760h")',
        lambda k, rel, now: k["enabled"] is False and _ts(k["created_at"]) < now - _D365,
    ),
    # Organisation webhooks (4)
    (
        "org_hook_insecure_ssl",
        "github.org_hook",
        'resource.config.insecure_ssl == "1"',
        lambda h, rel, now: h["config"]["insecure_ssl"] == "1",
    ),
    (
        "org_hook_plain_http",
        "github.org_hook",
        'resource.active == true && resource.config.url.matches("(?i)^http://")',
        lambda h, rel, now: h["active"] is True and _HTTP.search(h["config"]["url"]) is not None,
    ),
    (
        "org_hook_without_secret",
        "github.org_hook",
        "resource.active == true"
        ' && (!has(resource.config.secret) || resource.config.secret == null || resource.config.secret == "")',
        lambda h, rel, now: h["active"] is True and _no_secret(h),
    ),
    (
        "org_hook_all_events",
        "github.org_hook",
        'resource.events.exists(e, e == "*")',
        lambda h, rel, now: "*" in h["events"],
    ),
    # Organisations (2)
    (
        "org_two_factor_not_required",
        "github.org",
        "resource.two_factor_requirement_enabled == false",
        lambda o, rel, now: o["two_factor_requirement_enabled"] is False,
    ),
    (
        "org_base_permission_not_strict",
        "github.org",
        'resource.default_repository_permission in ["write", "admin"]',
        lambda o, rel, now: o["default_repository_permission"] in ("write", "admin"),
    ),
]


def stamp(rng: random.Random, newest_days_ago: int, oldest_days_ago: int) -> str:
    moment = AS_OF - timedelta(days=rng.randint(newest_days_ago, oldest_days_ago), seconds=rng.randint(0, 86_399))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def user(rng: random.Random, login: str) -> dict[str, Any]:
    base = f"https://api.github.com/users/{login}"
    return {
        "login": login,
        "id": rng.randint(1, 10**8),
        "node_id": f"MDQ6VXNlcj{rng.randint(10**6, 10**7)}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{rng.randint(1, 10**8)}?v=4",
        "gravatar_id": "",
        "url": base,
        "html_url": f"https://github.com/{login}",
        "followers_url": f"{base}/followers",
        "following_url": f"{base}/following{{/other_user}}",
        "gists_url": f"{base}/gists{{/gist_id}}",
        "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/subscriptions",
        "organizations_url": f"{base}/orgs",
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events",
        "type": "Bot" if login.endswith("[bot]") or rng.random() < 0.03 else "User",
        "user_view_type": "public",
        "site_admin": rng.random() < 0.01,
    }


def login(rng: random.Random) -> str:
    first = rng.choice(["ana", "ben", "chen", "dee", "eli", "fay", "gus", "hal", "ivy", "jo", "kim", "lee", "max"])
    suffix = rng.choice(["", "-dev", "-ops", "-contractor", "-vendor", "-bot", "99", "-sre"])
    prefix = "svc-" if rng.random() < 0.05 else ""
    return f"{prefix}{first}{rng.randint(1, 9999)}{suffix}"


def repo(rng: random.Random, org: str, number: int) -> Resource:
    name = rng.choice(["api", "web", "infra", "docs", "secrets-tool", "billing", "auth", "etl", "ml"]) + f"-{number}"
    full = f"{org}/{name}"
    base = f"https://api.github.com/repos/{full}"
    visibility = rng.choices(["private", "internal", "public"], [6, 2, 2])[0]
    archived = rng.random() < 0.1
    created = stamp(rng, 200, 3000)
    pushed = None if rng.random() < 0.03 else stamp(rng, 0, 700)
    status = lambda share: {"status": "enabled" if rng.random() < share else "disabled"}  # noqa: E731
    security = (
        None
        if rng.random() < 0.05
        else {
            "advanced_security": status(0.3),
            "secret_scanning": status(0.7),
            "secret_scanning_push_protection": status(0.6),
            "dependabot_security_updates": status(0.5),
            "secret_scanning_non_provider_patterns": status(0.1),
            "secret_scanning_validity_checks": status(0.2),
        }
    )
    data: dict[str, Any] = {
        "id": rng.randint(10**6, 10**9),
        "node_id": f"R_kgDO{rng.randint(10**7, 10**8)}",
        "name": name,
        "full_name": full,
        "private": visibility != "public",
        "visibility": visibility,
        "owner": {"login": org, "id": 4242, "type": rng.choices(["Organization", "User"], [9, 1])[0]},
        "html_url": f"https://github.com/{full}",
        "description": None if rng.random() < 0.3 else f"The {name} service",
        "fork": rng.random() < 0.08,
        "url": base,
        **{f"{part}_url": f"{base}/{part}" for part in _REPO_LINKS},
        "clone_url": f"https://github.com/{full}.git",
        "ssh_url": f"git@github.com:{full}.git",
        "homepage": None,
        "size": rng.choice([rng.randint(0, 5000), rng.randint(0, 200_000), rng.randint(0, 3_000_000)]),
        "stargazers_count": rng.randint(0, 500),
        "watchers_count": rng.randint(0, 500),
        "language": rng.choice([None, "Python", "Go", "TypeScript", "Rust", "HCL"]),
        "has_issues": True,
        "has_projects": rng.random() < 0.5,
        "has_downloads": True,
        "has_wiki": rng.random() < 0.4,
        "has_pages": rng.random() < 0.1,
        "has_discussions": False,
        "forks_count": rng.randint(0, 50),
        "archived": archived,
        "disabled": False,
        "open_issues_count": rng.randint(0, 300),
        "license": None
        if rng.random() < 0.4
        else {
            "key": (spdx := rng.choice(["mit", "apache-2.0", "gpl-3.0", "agpl-3.0"])),
            "spdx_id": spdx.upper(),
            "name": spdx.upper() + " License",
        },
        "allow_forking": rng.random() < 0.3,
        "is_template": False,
        "web_commit_signoff_required": rng.random() < 0.2,
        "topics": rng.sample(
            ["python", "internal", "deprecated", "pci", "terraform", "k8s", "legacy"], rng.randint(0, 3)
        ),
        "default_branch": rng.choices(["main", "master", "trunk", "develop"], [8, 3, 1, 1])[0],
        "pushed_at": pushed,
        "created_at": created,
        "updated_at": stamp(rng, 0, 900),
        "permissions": {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True},
        "allow_squash_merge": True,
        "allow_merge_commit": rng.random() < 0.5,
        "allow_rebase_merge": rng.random() < 0.5,
        "allow_auto_merge": rng.random() < 0.3,
        "delete_branch_on_merge": rng.random() < 0.5,
        "custom_properties": {"team": "core"} if rng.random() < 0.5 else {"team": "data", "data_classification": "pii"},
        "security_and_analysis": security,
    }
    protection = None
    if rng.random() < 0.6:
        protection = {
            "url": f"{base}/branches/main/protection",
            "enforce_admins": {"enabled": rng.random() < 0.5},
            "allow_force_pushes": {"enabled": rng.random() < 0.1},
            "allow_deletions": {"enabled": rng.random() < 0.05},
        }
        if rng.random() < 0.8:
            protection["required_pull_request_reviews"] = {"required_approving_review_count": rng.randint(0, 3)}
    rulesets = []
    for number_ in range(rng.choice([0, 0, 1, 2])):
        rules: list[dict[str, Any]] = [{"type": "deletion"}]
        if rng.random() < 0.5:
            rules.append({"type": "pull_request", "parameters": {"required_approving_review_count": rng.randint(0, 3)}})
        if rng.random() < 0.4:
            rules.append({"type": "non_fast_forward"})
        rulesets.append(
            {"id": number_ + 1, "enforcement": rng.choice(["active", "evaluate", "disabled"]), "rules": rules}
        )
    return "github.repo", data, {"default_branch_protection": protection, "default_branch_rulesets": rulesets}


def hook(rng: random.Random, org: str, kind: str) -> Resource:
    hook_id = rng.randint(10**6, 10**8)
    scheme = "http" if rng.random() < 0.08 else rng.choice(["https", "HTTPS"])
    host = rng.choice(["hooks.slack.com", "ci.acme.example", "abc123.ngrok.io", "siem.acme.example"])
    config: dict[str, Any] = {
        "url": f"{scheme}://{host}/services/{rng.randint(1, 99999)}",
        "content_type": rng.choice(["json", "form"]),
        "insecure_ssl": "1" if rng.random() < 0.05 else "0",
    }
    if rng.random() < 0.8:
        config["secret"] = rng.choice(["********", "", None])
    data: dict[str, Any] = {
        "type": "Organization" if kind == "github.org_hook" else "Repository",
        "id": hook_id,
        "name": "web",
        "active": rng.random() < 0.9,
        "events": rng.choice([["push"], ["push", "pull_request"], ["*"], ["release", "workflow_run"]]),
        "config": config,
        "updated_at": stamp(rng, 0, 1500),
        "created_at": stamp(rng, 100, 2500),
        "url": f"https://api.github.com/orgs/{org}/hooks/{hook_id}",
        "ping_url": f"https://api.github.com/orgs/{org}/hooks/{hook_id}/pings",
        "deliveries_url": f"https://api.github.com/orgs/{org}/hooks/{hook_id}/deliveries",
    }
    if kind == "github.org_hook":
        return kind, data, {}
    data["last_response"] = {"code": rng.choice([None, 200, 200, 202, 404, 500]), "status": "active", "message": None}
    data["test_url"] = data["url"] + "/test"
    visibility = rng.choice(["private", "public", "internal"])
    related = {
        "repo": {
            "name": f"repo-{rng.randint(1, 500)}",
            "private": visibility != "public",
            "visibility": visibility,
            "archived": rng.random() < 0.1,
        }
    }
    return kind, data, related


def member(rng: random.Random) -> Resource:
    data = user(rng, login(rng))
    role = rng.choices(["member", "admin"], [9, 1])[0]
    membership = (
        None if rng.random() < 0.02 else {"role": role, "state": rng.choices(["active", "pending"], [19, 1])[0]}
    )
    return "github.member", data, {"membership": membership, "two_factor_disabled": rng.random() < 0.05}


def collaborator(rng: random.Random) -> Resource:
    data = user(rng, login(rng))
    role = rng.choices(["read", "triage", "write", "maintain", "admin"], [4, 1, 4, 1, 1])[0]
    order = ["read", "triage", "write", "maintain", "admin"]
    data["permissions"] = {
        "pull": True,
        "triage": order.index(role) >= 1,
        "push": order.index(role) >= 2,
        "maintain": order.index(role) >= 3,
        "admin": role == "admin",
    }
    data["role_name"] = role
    visibility = rng.choice(["private", "public", "internal"])
    related = {
        "outside": rng.random() < 0.2,
        "repo": {
            "name": f"repo-{rng.randint(1, 500)}",
            "private": visibility != "public",
            "visibility": visibility,
            "archived": rng.random() < 0.1,
        },
    }
    return "github.collaborator", data, related


def deploy_key(rng: random.Random, org: str) -> Resource:
    key_id = rng.randint(10**5, 10**8)
    data = {
        "id": key_id,
        "key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"
        + "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789", k=43)),
        "url": f"https://api.github.com/repos/{org}/repo/keys/{key_id}",
        "title": rng.choice(["deploy", "CI", "Temp access", "backup-TEMP", "argo"]),
        "verified": rng.random() < 0.9,
        "created_at": stamp(rng, 10, 2000),
        "read_only": rng.random() < 0.7,
        "added_by": rng.choice([None, "ana1", "ben22"]),
        "last_used": None if rng.random() < 0.2 else stamp(rng, 0, 400),
        "enabled": rng.random() < 0.95,
    }
    visibility = rng.choice(["private", "public"])
    return (
        "github.deploy_key",
        data,
        {"repo": {"name": "repo", "private": visibility == "private", "visibility": visibility, "archived": False}},
    )


def org(rng: random.Random, name: str) -> Resource:
    return (
        "github.org",
        {
            "login": name,
            "id": rng.randint(1, 10**7),
            "url": f"https://api.github.com/orgs/{name}",
            "description": None,
            "two_factor_requirement_enabled": rng.choice([True, True, False, None]),
            "default_repository_permission": rng.choice(["read", "none", "write", "admin"]),
            "members_can_create_public_repositories": rng.random() < 0.5,
            "members_can_create_repositories": rng.random() < 0.8,
            "plan": {"name": "enterprise", "seats": 500},
        },
        {},
    )


def snapshot(count: int, seed: int = SEED) -> Iterator[Resource]:
    """`count` resources of the mix above, the same ones for the same seed, generated one at a time."""
    rng = random.Random(seed)
    kinds, weights = list(MIX), list(MIX.values())
    for number in range(count):
        name = f"org{number % 97}"
        kind = rng.choices(kinds, weights)[0]
        if kind == "github.repo":
            yield repo(rng, name, number)
        elif kind in ("github.repo_hook", "github.org_hook"):
            yield hook(rng, name, kind)
        elif kind == "github.member":
            yield member(rng)
        elif kind == "github.collaborator":
            yield collaborator(rng)
        elif kind == "github.deploy_key":
            yield deploy_key(rng, name)
        else:
            yield org(rng, name)


def playbook(rule_id: str, kind: str, when: str) -> Playbook:
    return Playbook.model_validate(
        {
            "apiVersion": "mendflow/v1",
            "id": f"bench.{rule_id}",
            "title": rule_id.replace("_", " "),
            "resource": kind,
            "detect": {"when": when, "severity": "medium"},
        }
    )


ERROR = "error"


def hand_written(functions: list[Callable[..., bool]], data: Any, related: Any, now: datetime) -> list[Any]:
    decisions: list[Any] = []
    for function in functions:
        try:
            decisions.append(function(data, related, now))
        except Exception:  # a missing field or a wrong type: the rule could not be decided
            decisions.append(ERROR)
    return decisions


def main(count: int = RESOURCES) -> None:
    rules = compile_rules([playbook(rule_id, kind, when) for rule_id, kind, when, _ in RULES])
    python_rules: dict[str, list[Callable[..., bool]]] = {}
    for _, kind, _, function in RULES:
        python_rules.setdefault(kind, []).append(function)
    deciders = {kind: rules.decider(kind, AS_OF) for kind in python_rules}
    engine_seconds = python_seconds = 0.0
    evaluations = findings = errors = resources = json_bytes = 0
    stream = snapshot(count)
    while chunk := [item for _, item in zip(range(CHUNK), stream, strict=False)]:
        resources += len(chunk)
        json_bytes += sum(len(json.dumps(data)) + len(json.dumps(related)) for _, data, related in chunk[:20])
        gc.collect()
        started = time.perf_counter()
        engine = [deciders[kind](data, related) for kind, data, related in chunk]  # type: ignore[misc]
        engine_seconds += time.perf_counter() - started
        started = time.perf_counter()
        python = [hand_written(python_rules[kind], data, related, AS_OF) for kind, data, related in chunk]
        python_seconds += time.perf_counter() - started
        for (kind, data, _), ours, theirs in zip(chunk, engine, python, strict=True):
            evaluations += len(ours)
            normalised = [d if d is True or d is False else ERROR for d in ours]
            if normalised != theirs:
                names = [rule_id for rule_id, k, _, _ in RULES if k == kind]
                diff = {n: (a, b) for n, a, b in zip(names, normalised, theirs, strict=True) if a != b}
                raise AssertionError(f"engine and hand-written Python disagree on {kind} {data.get('id')}: {diff}")
            findings += normalised.count(True)
            errors += normalised.count(ERROR)
    engine_rate = evaluations / engine_seconds
    python_rate = evaluations / python_seconds
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sample = max(1, min(resources, 20 * -(-resources // CHUNK)))
    print(
        f"rule engine: {len(RULES)} rules over {resources:,} resources ({len(python_rules)} types, "
        f"~{json_bytes / sample / 1024:.1f} KiB JSON each): {evaluations:,} rule-evaluations, "
        f"{findings:,} findings, {errors:,} undecidable; engine and hand-written agree on every one"
    )
    print(f"  engine (CEL compiled to Python): {engine_rate:>12,.0f} rule-evaluations/s ({engine_seconds:.2f} s)")
    print(f"  hand-written Python functions:   {python_rate:>12,.0f} rule-evaluations/s ({python_seconds:.2f} s)")
    print(f"  engine / hand-written:           {engine_rate / python_rate:>12.2f}")
    print(f"  peak RSS {peak_mb:.0f} MiB (resources streamed {CHUNK:,} at a time; the snapshot is never held whole)")
    # The shipped playbooks over realistic GitHub and Okta resources, this engine and the baseline (issue 14).
    __import__("rules_shipped").main([])


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else RESOURCES)
