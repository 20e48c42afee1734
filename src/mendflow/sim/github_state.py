"""The mutable state behind the GitHub simulator: one tenant's `github` section and the rules for changing it.

Stored objects keep the tenant file's shape (with `_` sub-collections and unmasked secrets); the views in
`github_shapes` produce what the API serves. Every method reads or changes the state the way GitHub would and
raises `ApiError` with GitHub's status and message.
"""

from __future__ import annotations

import copy
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from mendflow.sim.github_shapes import (
    JSON,
    LEGACY_PERMISSION,
    ORG_ENUMS,
    PERMISSIONS,
    ROLE_NAMES,
    ApiError,
    branch_view,
    clean_config,
    invalid,
    not_found,
    permission_of,
    permissions_for,
    protection_from_put,
    public,
    same,
    user_view,
)


class GithubState:
    """One organisation's state; every method either reads or changes it the way GitHub would."""

    def __init__(self, section: JSON, *, clock: Callable[[], float] = time.time) -> None:
        data = copy.deepcopy(section)
        self.clock = clock
        self.org: JSON = data["org"]
        self.members: list[JSON] = data.get("members", [])
        self.members_2fa_disabled: list[str] = data.get("members_2fa_disabled", [])
        self.memberships: dict[str, JSON] = data.get("memberships", {})
        self.outside_collaborators: list[JSON] = data.get("outside_collaborators", [])
        self.outside_collaborators_2fa_disabled: list[str] = data.get("outside_collaborators_2fa_disabled", [])
        self.hooks: list[JSON] = data.get("hooks", [])
        self.repos: list[JSON] = data.get("repos", [])
        self.installations: list[JSON] = data.get("installations", [])
        self._by_name: dict[str, JSON] = {}
        for repo in self.repos:
            for key in ("_hooks", "_keys", "_collaborators", "_rulesets"):
                repo.setdefault(key, [])
            repo.setdefault("_branch_protection", {})

    # ---- lookups -------------------------------------------------------------------------------------------
    @property
    def login(self) -> str:
        return str(self.org["login"])

    def now(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock()))

    def check_org(self, org: str) -> None:
        if not same(org, self.login):
            raise not_found()

    def repo(self, name: str, owner: str | None = None) -> JSON:
        if owner is None or same(owner, self.login):
            # An index by name keeps lookups flat in orgs of thousands of repositories (campaign benchmarks); a
            # stale entry (a renamed repository) fails the name check and the scan below rebuilds the index.
            hit = self._by_name.get(name.casefold())
            if hit is not None and same(hit["name"], name):
                return hit
            self._by_name = {str(r["name"]).casefold(): r for r in self.repos}
            for repo in self.repos:
                if same(repo["name"], name):
                    return repo
        raise not_found()

    @staticmethod
    def find(items: list[JSON], item_id: int) -> JSON:
        for item in items:
            if item.get("id") == item_id:
                return item
        raise not_found()

    def is_member(self, login: str) -> bool:
        return any(same(m["login"], login) for m in self.members)

    def is_outside(self, login: str) -> bool:
        return any(same(u["login"], login) for u in self.outside_collaborators)

    def _known_users(self) -> Iterator[JSON]:
        yield from self.members
        yield from self.outside_collaborators
        for membership in self.memberships.values():
            if isinstance(membership.get("user"), dict):
                yield membership["user"]
        for repo in self.repos:
            yield from repo["_collaborators"]

    def user(self, login: str) -> JSON:
        """The user's simple-user object; an unknown login gets a made-up but stable one."""
        for user in self._known_users():
            if same(user["login"], login):
                return user_view(user)
        uid = 10_000_000 + zlib.crc32(login.casefold().encode()) % 10_000_000
        api = f"https://api.github.com/users/{login}"
        return {
            "login": login, "id": uid, "node_id": f"U_sim{uid}", "gravatar_id": "", "url": api,
            "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4", "html_url": f"https://github.com/{login}",
            "followers_url": f"{api}/followers", "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}", "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions", "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos", "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": "User", "site_admin": False, "user_view_type": "public",
        }  # fmt: skip

    def org_simple(self) -> JSON:
        keys = ("login", "id", "node_id", "url", "repos_url", "events_url", "hooks_url", "issues_url",
                "members_url", "public_members_url", "avatar_url", "description")  # fmt: skip
        return {k: copy.deepcopy(self.org.get(k)) for k in keys}

    def next_id(self, items: Iterator[JSON]) -> int:
        return max((int(item.get("id", 0)) for item in items), default=0) + 1

    def all_hooks(self) -> Iterator[JSON]:
        yield from self.hooks
        for repo in self.repos:
            yield from repo["_hooks"]

    def all_keys(self) -> Iterator[JSON]:
        for repo in self.repos:
            yield from repo["_keys"]

    # ---- people --------------------------------------------------------------------------------------------
    def members_view(self, filter_: str, role: str) -> list[JSON]:
        out = self.members
        if filter_ == "2fa_disabled":
            out = [m for m in out if any(same(m["login"], x) for x in self.members_2fa_disabled)]
        if role in ("admin", "member"):
            out = [m for m in out if self.memberships.get(m["login"], {}).get("role", "member") == role]
        return [public(m) for m in out]

    def outside_view(self, filter_: str) -> list[JSON]:
        out = self.outside_collaborators
        if filter_ == "2fa_disabled":
            out = [u for u in out if any(same(u["login"], x) for x in self.outside_collaborators_2fa_disabled)]
        return [public(u) for u in out]

    def membership(self, login: str) -> JSON:
        """The stored membership; a member the tenant file gives none has GitHub's plain active `member` one."""
        for key, found in self.memberships.items():
            if same(key, login):
                return found
        if not self.is_member(login):
            raise not_found()
        user = self.user(login)
        return {
            "url": f"https://api.github.com/orgs/{self.login}/memberships/{user['login']}", "state": "active",
            "role": "member", "organization_url": f"https://api.github.com/orgs/{self.login}",
            "organization": self.org_simple(), "user": user,
        }  # fmt: skip

    def set_membership(self, login: str, role: str) -> JSON:
        if role not in ("admin", "member"):
            raise invalid("Membership", "role")
        try:
            found = self.membership(login)
        except ApiError:
            # A new member gets an invitation: the membership is pending and the member list is unchanged.
            user = self.user(login)
            found = {
                "url": f"https://api.github.com/orgs/{self.login}/memberships/{user['login']}",
                "state": "active" if self.is_member(login) else "pending", "role": role,
                "organization_url": f"https://api.github.com/orgs/{self.login}",
                "organization": self.org_simple(), "user": user,
            }  # fmt: skip
            self.memberships[user["login"]] = found
        if not any(same(key, login) for key in self.memberships):
            self.memberships[found["user"]["login"]] = found  # an implicit membership becomes a stored one
        found["role"] = role
        return found

    def remove_membership(self, login: str) -> None:
        """Removing a member also removes their access to the organisation's repositories."""
        key = next((k for k in self.memberships if same(k, login)), None)
        if key is None and not self.is_member(login):
            raise not_found()
        if key is not None:
            del self.memberships[key]
        self.members[:] = [m for m in self.members if not same(m["login"], login)]
        self.members_2fa_disabled[:] = [x for x in self.members_2fa_disabled if not same(x, login)]
        for repo in self.repos:
            repo["_collaborators"][:] = [c for c in repo["_collaborators"] if not same(c["login"], login)]

    def convert_to_outside(self, login: str) -> None:
        if not self.is_member(login):
            raise not_found()
        user = self.user(login)
        had_2fa_off = any(same(x, login) for x in self.members_2fa_disabled)
        self.members[:] = [m for m in self.members if not same(m["login"], login)]
        self.members_2fa_disabled[:] = [x for x in self.members_2fa_disabled if not same(x, login)]
        for key in [k for k in self.memberships if same(k, login)]:
            del self.memberships[key]
        self.outside_collaborators.append(user)
        if had_2fa_off:
            self.outside_collaborators_2fa_disabled.append(user["login"])

    def remove_outside(self, login: str) -> None:
        if self.is_member(login):
            raise ApiError(422, "You cannot specify an organization member to remove as an outside collaborator.")
        self._drop_outside(login)
        for repo in self.repos:
            repo["_collaborators"][:] = [c for c in repo["_collaborators"] if not same(c["login"], login)]

    def _drop_outside(self, login: str) -> None:
        self.outside_collaborators[:] = [u for u in self.outside_collaborators if not same(u["login"], login)]
        self.outside_collaborators_2fa_disabled[:] = [
            x for x in self.outside_collaborators_2fa_disabled if not same(x, login)
        ]

    # ---- repository collaborators --------------------------------------------------------------------------
    def collaborators_view(self, repo: JSON, affiliation: str, permission: str) -> list[JSON]:
        # Org members reaching the repo through the base permission are not listed: `direct` and `all` agree.
        out = repo["_collaborators"]
        if affiliation == "outside":
            out = [c for c in out if not self.is_member(c["login"])]
        if permission in PERMISSIONS:
            out = [c for c in out if (c.get("permissions") or {}).get(permission)]
        return [public(c) for c in out]

    def collaborator_permission(self, repo: JSON, login: str) -> JSON:
        found = next((c for c in repo["_collaborators"] if same(c["login"], login)), None)
        if found is not None:
            perm: str | None = permission_of(found)
            user = public(found)
        else:
            if not any(same(u["login"], login) for u in self._known_users()):
                raise not_found()
            perm = self._base_permission(login)
            user = self.user(login)
            user["permissions"] = permissions_for(perm) if perm else dict.fromkeys(PERMISSIONS, False)
            user["role_name"] = ROLE_NAMES[perm] if perm else "none"
        legacy = LEGACY_PERMISSION[ROLE_NAMES[perm]] if perm else "none"
        return {"permission": legacy, "role_name": user.get("role_name") or "none", "user": user}

    def _base_permission(self, login: str) -> str | None:
        """Access without a direct grant: owners are admins, other members get the org's base permission."""
        if not self.is_member(login):
            return None
        if any(same(k, login) and m.get("role") == "admin" for k, m in self.memberships.items()):
            return "admin"
        base = self.org.get("default_repository_permission") or "read"
        return {"read": "pull", "write": "push", "admin": "admin"}.get(str(base))

    def set_collaborator(self, repo: JSON, login: str, permission: str) -> bool:
        """Grant access; True when the user is new to the repo (GitHub then answers with an invitation)."""
        permission = {"read": "pull", "write": "push"}.get(permission, permission)
        if permission not in PERMISSIONS:
            raise invalid("Repository", "permission", "invalid", f"{permission} is not a valid permission")
        found = next((c for c in repo["_collaborators"] if same(c["login"], login)), None)
        created = found is None
        if found is None:
            # Invitations are accepted at once, so a rescan sees the new collaborator.
            found = self.user(login)
            repo["_collaborators"].append(found)
            if not self.is_member(login) and not self.is_outside(login):
                self.outside_collaborators.append(self.user(login))
        found["permissions"] = permissions_for(permission)
        found["role_name"] = ROLE_NAMES[permission]
        return created

    def remove_collaborator(self, repo: JSON, login: str) -> None:
        repo["_collaborators"][:] = [c for c in repo["_collaborators"] if not same(c["login"], login)]
        still = any(same(c["login"], login) for r in self.repos for c in r["_collaborators"])
        if not still and not self.is_member(login):
            self._drop_outside(login)

    # ---- organisation and repository settings --------------------------------------------------------------
    def _check_types(self, target: JSON, patch: JSON, resource: str) -> None:
        for field, value in patch.items():
            if isinstance(target.get(field), bool) and not isinstance(value, bool):
                raise invalid(resource, field)

    def update_org(self, patch: JSON) -> JSON:
        """Validate everything first, so a rejected PATCH leaves the org untouched."""
        for field, allowed in ORG_ENUMS.items():
            if field in patch and patch[field] not in allowed:
                raise invalid("Organization", field)
        self._check_types(self.org, patch, "Organization")
        self.org.update({k: v for k, v in patch.items() if not k.startswith("_") and k != "login"})
        self.org["updated_at"] = self.now()
        return self.org

    def update_repo(self, repo: JSON, patch: JSON) -> JSON:
        features = patch.get("security_and_analysis")
        if features is not None:
            if not isinstance(features, dict):
                raise invalid("Repository", "security_and_analysis")
            for name, value in features.items():
                if not isinstance(value, dict) or value.get("status") not in ("enabled", "disabled"):
                    raise invalid("Repository", f"security_and_analysis.{name}")
        if "visibility" in patch and patch["visibility"] not in ("public", "private", "internal"):
            raise invalid("Repository", "visibility")
        if "name" in patch:
            if not isinstance(patch["name"], str) or not patch["name"]:
                raise invalid("Repository", "name")
            if any(same(r["name"], patch["name"]) and r is not repo for r in self.repos):
                raise invalid("Repository", "name", "custom", "name already exists on this account")
        self._check_types(repo, patch, "Repository")
        for field, value in patch.items():
            if field == "security_and_analysis":
                merged = repo.setdefault("security_and_analysis", {}) or {}
                for name, sub in (value or {}).items():
                    merged.setdefault(name, {}).update(sub)
                repo["security_and_analysis"] = merged
            elif not field.startswith("_"):
                repo[field] = value
        if "name" in patch:
            repo["full_name"] = f"{self.login}/{patch['name']}"
        if "private" in patch and "visibility" not in patch:
            repo["visibility"] = "private" if patch["private"] else "public"
        elif "visibility" in patch:
            repo["private"] = patch["visibility"] != "public"
        repo["updated_at"] = self.now()
        return repo

    # ---- hooks and keys ------------------------------------------------------------------------------------
    def create_hook(self, hooks: list[JSON], body: JSON, *, url: str, repo_hook: bool) -> JSON:
        resource = "Hook"
        if body.get("name", "web") != "web":
            raise invalid(resource, "name")
        config = clean_config(body.get("config"), resource=resource, require_url=True)
        events = body.get("events", ["push"])
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise invalid(resource, "events")
        hook_id = self.next_id(self.all_hooks())
        hook_url = f"{url}/{hook_id}"
        now = self.now()
        hook: JSON = {
            "type": "Repository" if repo_hook else "Organization", "id": hook_id, "name": "web",
            "active": bool(body.get("active", True)), "events": events, "config": config,
            "updated_at": now, "created_at": now, "url": hook_url, "ping_url": f"{hook_url}/pings",
            "deliveries_url": f"{hook_url}/deliveries",
        }  # fmt: skip
        if repo_hook:
            hook["test_url"] = f"{hook_url}/test"
            hook["last_response"] = {"code": None, "status": "unused", "message": None}
        hooks.append(hook)
        return hook

    def update_hook(self, hook: JSON, body: JSON) -> JSON:
        """GitHub's whole-hook PATCH: a given `config` replaces the old one, secret included."""
        config = None
        if "config" in body:
            config = clean_config(body["config"], resource="Hook", require_url=True)
        given: dict[str, Any] = {
            "events": body.get("events", hook.get("events", [])),
            "add_events": body.get("add_events", []),
            "remove_events": body.get("remove_events", []),
        }
        for field, value in given.items():
            if not isinstance(value, list) or not all(isinstance(e, str) for e in value):
                raise invalid("Hook", field)
        kept = [*given["events"], *(e for e in given["add_events"] if e not in given["events"])]
        events = [e for e in kept if e not in given["remove_events"]]
        if "active" in body and not isinstance(body["active"], bool):
            raise invalid("Hook", "active")
        if config is not None:
            hook["config"] = config
        hook["events"] = events
        hook["active"] = body.get("active", hook.get("active", True))
        hook["updated_at"] = self.now()
        return hook

    def update_hook_config(self, hook: JSON, body: JSON) -> JSON:
        given = {k: v for k, v in body.items() if k in ("url", "content_type", "secret", "insecure_ssl")}
        config = dict(hook.get("config") or {})
        if given.get("secret") in (None, "") and "secret" in given:
            config.pop("secret", None)
        config.update(clean_config(given, resource="Hook", require_url=False))
        hook["config"] = config
        hook["updated_at"] = self.now()
        return config

    def add_key(self, repo: JSON, body: JSON, *, url: str) -> JSON:
        key = body.get("key")
        if not isinstance(key, str) or not key.strip():
            raise invalid("PublicKey", "key", "missing_field")
        if any(k.get("key") == key.strip() for k in self.all_keys()):
            raise invalid("PublicKey", "key", "custom", "key is already in use")
        key_id = self.next_id(self.all_keys())
        found: JSON = {
            "id": key_id, "key": key.strip(), "url": f"{url}/{key_id}", "title": str(body.get("title") or ""),
            "verified": True, "created_at": self.now(), "read_only": bool(body.get("read_only", False)),
            "added_by": None, "last_used": None, "enabled": True,
        }  # fmt: skip
        repo["_keys"].append(found)
        return found

    def remove(self, items: list[JSON], item_id: int) -> None:
        items.remove(self.find(items, item_id))

    # ---- branches and rulesets -----------------------------------------------------------------------------
    def protection(self, repo: JSON, branch: str) -> JSON:
        found: JSON | None = repo["_branch_protection"].get(branch)
        if found is None:
            raise not_found("Branch not protected")
        return found

    def set_protection(self, repo: JSON, branch: str, body: JSON, *, url: str) -> JSON:
        previous = repo["_branch_protection"].get(branch)
        stored = protection_from_put(body, url=url, user=self.user, previous=previous)
        repo["_branch_protection"][branch] = stored
        return stored

    def delete_protection(self, repo: JSON, branch: str) -> None:
        self.protection(repo, branch)
        del repo["_branch_protection"][branch]

    def branch(self, repo: JSON, name: str, *, api: str) -> JSON:
        """Known branches are the default branch and every protected one (tenant files hold no git data)."""
        protection = repo["_branch_protection"].get(name)
        if protection is None and name != repo.get("default_branch"):
            raise not_found("Branch not found")
        return branch_view(repo, name, protection, api=api)

    def rulesets_view(self, repo: JSON, targets: str) -> list[JSON]:
        wanted = {t.strip() for t in targets.split(",") if t.strip()}
        return [public(r) for r in repo["_rulesets"] if not wanted or r.get("target", "branch") in wanted]
