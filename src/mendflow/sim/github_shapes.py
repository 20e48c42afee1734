"""GitHub's wire shapes for the simulator: error bodies, served views, and the checks GitHub applies to inputs.

Pure functions over JSON dicts, so the state class only decides *what* changes and the HTTP layer only routes.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from typing import Any

from mendflow.sim.common import SimError

JSON = dict[str, Any]
DOCS_URL = "https://docs.github.com/rest"
MASK = "********"
# GitHub's repository permission ladder, lowest first; role names are what the UI and `role_name` call them.
PERMISSIONS = ("pull", "triage", "push", "maintain", "admin")
ROLE_NAMES = {"pull": "read", "triage": "triage", "push": "write", "maintain": "maintain", "admin": "admin"}
LEGACY_PERMISSION = {"read": "read", "triage": "read", "write": "write", "maintain": "write", "admin": "admin"}
FLAG_RULES = ("required_linear_history", "allow_force_pushes", "allow_deletions", "block_creations",
              "required_conversation_resolution", "lock_branch", "allow_fork_syncing")  # fmt: skip
PUT_REQUIRED = ("required_status_checks", "enforce_admins", "required_pull_request_reviews", "restrictions")
ORG_ENUMS = {
    "default_repository_permission": ("read", "write", "admin", "none"),
    "members_allowed_repository_creation_type": ("all", "private", "none"),
}


class ApiError(SimError):
    """A GitHub error answer: status, message and (for 422) the `errors` list."""

    def __init__(self, status: int, message: str, errors: list[JSON] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors

    def body(self) -> JSON:
        out: JSON = {"message": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
        out["documentation_url"] = DOCS_URL
        out["status"] = str(self.status)
        return out


def not_found(message: str = "Not Found") -> ApiError:
    return ApiError(404, message)


def invalid(resource: str, field: str, code: str = "invalid", message: str | None = None) -> ApiError:
    error: JSON = {"resource": resource, "code": code, "field": field}
    if message is not None:
        error["message"] = message
    return ApiError(422, "Validation Failed", [error])


def same(a: str, b: str) -> bool:
    """GitHub logins and repository names are case-insensitive."""
    return a.casefold() == b.casefold()


def public(obj: JSON) -> JSON:
    """The served copy: drop tenant-file sub-collections (`_hooks`, …) but keep GitHub's own `_links`."""
    return copy.deepcopy({k: v for k, v in obj.items() if not k.startswith("_") or k == "_links"})


def config_view(config: JSON) -> JSON:
    out = copy.deepcopy(config)
    if out.get("secret"):
        out["secret"] = MASK
    return out


def hook_view(hook: JSON) -> JSON:
    out = public(hook)
    out["config"] = config_view(hook.get("config") or {})
    return out


def user_view(user: JSON) -> JSON:
    """A simple-user object cut from any user-like object (collaborator, membership user, …)."""
    return {k: copy.deepcopy(v) for k, v in user.items() if k not in ("permissions", "role_name")}


def clean_config(given: Any, *, resource: str, require_url: bool) -> JSON:
    """Check a webhook config the way GitHub does and normalise `insecure_ssl` to the string it serves."""
    if not isinstance(given, dict):
        raise invalid(resource, "config")
    out = dict(given)
    if require_url and not out.get("url"):
        raise invalid(resource, "url", "custom", "Config must contain URL for webhooks")
    if "url" in out and not isinstance(out["url"], str):
        raise invalid(resource, "url")
    if "content_type" in out and out["content_type"] not in ("json", "form"):
        raise invalid(resource, "content_type")
    if "insecure_ssl" in out:
        ssl = out["insecure_ssl"]
        if isinstance(ssl, bool) or str(ssl) not in ("0", "1", "0.0", "1.0"):
            raise invalid(resource, "insecure_ssl")
        out["insecure_ssl"] = str(int(float(ssl)))
    if "secret" in out and out["secret"] in (None, ""):
        del out["secret"]
    elif "secret" in out and not isinstance(out["secret"], str):
        raise invalid(resource, "secret")
    return out


def permissions_for(permission: str) -> JSON:
    level = PERMISSIONS.index(permission)
    return {name: i <= level for i, name in enumerate(PERMISSIONS)}


def permission_of(collaborator: JSON) -> str:
    """The highest ladder step a collaborator holds (`role_name` wins; custom roles fall back to flags)."""
    role = collaborator.get("role_name")
    for perm, name in ROLE_NAMES.items():
        if role == name:
            return perm
    flags = collaborator.get("permissions") or {}
    held = [p for p in PERMISSIONS if flags.get(p)]
    return held[-1] if held else "pull"


def _users(given: Any, user: Callable[[str], JSON], field: str) -> list[JSON]:
    if not isinstance(given, list) or not all(isinstance(x, str) for x in given):
        raise ApiError(422, f"Invalid request.\n\nFor '{field}', {given!r} is not an array of logins.")
    return [user(login) for login in given]


def _actors(given: Any, url: str, user: Callable[[str], JSON], field: str) -> JSON:
    """Users resolved to user objects; team and app slugs are accepted but not modelled (listed empty)."""
    if not isinstance(given, dict):
        raise ApiError(422, f"Invalid request.\n\nFor '{field}', {given!r} is not an object.")
    out: JSON = {"url": url, "users_url": f"{url}/users", "teams_url": f"{url}/teams"} if url else {}
    out.update(users=_users(given.get("users", []), user, field), teams=[], apps=[])
    return out


def protection_from_put(body: JSON, *, url: str, user: Callable[[str], JSON], previous: JSON | None) -> JSON:
    """Turn the PUT body (booleans, logins) into the GET shape (`enabled` objects, `url`s, user objects)."""
    for key in PUT_REQUIRED:
        if key not in body:
            raise ApiError(422, f'Invalid request.\n\n"{key}" wasn\'t supplied.')
    out: JSON = {"url": url}
    checks = body["required_status_checks"]
    if checks is not None:
        if not isinstance(checks, dict) or not isinstance(checks.get("strict", False), bool):
            raise ApiError(422, "Invalid request.\n\nFor 'required_status_checks', the value is not valid.")
        given = checks.get("checks") or [{"context": c} for c in checks.get("contexts") or []]
        listed = [{"context": str(c["context"]), "app_id": c.get("app_id")} for c in given]
        out["required_status_checks"] = {
            "url": f"{url}/required_status_checks", "strict": bool(checks.get("strict")),
            "contexts": [c["context"] for c in listed], "contexts_url": f"{url}/required_status_checks/contexts",
            "checks": listed,
        }  # fmt: skip
    admins = body["enforce_admins"]
    if admins is not None and not isinstance(admins, bool):
        raise ApiError(422, "Invalid request.\n\nFor 'enforce_admins', the value is not a boolean.")
    out["enforce_admins"] = {"url": f"{url}/enforce_admins", "enabled": bool(admins)}
    reviews = body["required_pull_request_reviews"]
    if reviews is not None:
        count = reviews.get("required_approving_review_count", 1) if isinstance(reviews, dict) else None
        if not isinstance(reviews, dict) or not isinstance(count, int) or not 0 <= count <= 6:
            raise ApiError(422, "Invalid request.\n\nFor 'required_pull_request_reviews', the value is not valid.")
        review: JSON = {"url": f"{url}/required_pull_request_reviews"}
        for flag in ("dismiss_stale_reviews", "require_code_owner_reviews"):
            review[flag] = bool(reviews.get(flag, False))
        review["required_approving_review_count"] = count
        review["require_last_push_approval"] = bool(reviews.get("require_last_push_approval", False))
        if "dismissal_restrictions" in reviews:
            dismiss_url = f"{url}/dismissal_restrictions"
            given_actors = reviews["dismissal_restrictions"]
            review["dismissal_restrictions"] = _actors(given_actors, dismiss_url, user, "dismissal_restrictions")
        if "bypass_pull_request_allowances" in reviews:
            bypass = reviews["bypass_pull_request_allowances"]
            review["bypass_pull_request_allowances"] = _actors(bypass, "", user, "bypass_pull_request_allowances")
        out["required_pull_request_reviews"] = review
    if body["restrictions"] is not None:
        restrict = _actors(body["restrictions"], f"{url}/restrictions", user, "restrictions")
        restrict["apps_url"] = f"{url}/restrictions/apps"
        out["restrictions"] = restrict
    signed = ((previous or {}).get("required_signatures") or {}).get("enabled", False)
    out["required_signatures"] = {"url": f"{url}/required_signatures", "enabled": bool(signed)}
    for flag in FLAG_RULES:
        value = body.get(flag)
        if value is not None and not isinstance(value, bool):
            raise ApiError(422, f"Invalid request.\n\nFor '{flag}', {value!r} is not a boolean.")
        out[flag] = {"enabled": bool(value)}
    return out


def branch_view(repo: JSON, name: str, protection: JSON | None, *, api: str) -> JSON:
    """A branch object; the simulator has no git data, so the head commit is a stable stand-in.

    Its author and committer are `{}` (GitHub's answer for commits by unknown users).
    """
    full = str(repo.get("full_name") or repo["name"])
    base = f"{api}/repos/{full}"
    sha = hashlib.sha1(f"{full}@{name}".encode(), usedforsecurity=False).hexdigest()
    commit_url = f"{base}/commits/{sha}"
    checks = (protection or {}).get("required_status_checks") or {}
    return {
        "name": name,
        "commit": {
            "sha": sha, "node_id": f"C_sim{sha[:16]}", "url": commit_url, "comments_url": f"{commit_url}/comments",
            "html_url": f"https://github.com/{full}/commit/{sha}", "author": {}, "committer": {}, "parents": [],
            "commit": {"url": f"{base}/git/commits/{sha}", "author": None, "committer": None, "comment_count": 0,
                       "message": "simulated head commit", "tree": {"sha": sha, "url": f"{base}/git/trees/{sha}"}},
        },
        "_links": {"self": f"{base}/branches/{name}", "html": f"https://github.com/{full}/tree/{name}"},
        "protected": protection is not None,
        "protection": {
            "enabled": protection is not None,
            "required_status_checks": {
                "enforcement_level": "non_admins" if checks else "off",
                "contexts": list(checks.get("contexts", [])), "checks": copy.deepcopy(checks.get("checks", [])),
            },
        },
        "protection_url": f"{base}/branches/{name}/protection",
    }  # fmt: skip
