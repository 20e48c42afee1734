"""Okta connector: read an org's posture through the Management API, vendor-shaped.

`OktaCollector.collect()` yields `Resource`s as they arrive: users stream page by page (`limit` + `after` cursor),
each page's factors read concurrently, so a 20,000-user org never sits in memory. Role assignments are read only
for the users `GET /api/v1/iam/assignees/users` names (everyone else has none), falling back to every user when
that list may not be read. `fetch(ref)` re-reads one resource the same way, for verification after a change.

Given a `Demand` (the loaded rules), `collect` reads a user's factors (and, without the assignee list, its roles)
only when some rule could still flag the user with them (`rules/demand.py`): with the shipped playbooks, factors
of role holders only. A sub-collection skipped this way is absent from `related` (null means it could not be read)
and is not a coverage gap: no loaded rule's outcome depends on it.

| type | id | `related` |
|---|---|---|
| `okta.user` | `/api/v1/users/{id}` | `roles` (role assignments), `factors` (null: not readable; absent: not needed) |
| `okta.group` | `/api/v1/groups/{id}` | — |
| `okta.policy` | `/api/v1/policies/{id}` | — |
| `okta.policy_rule` | `/api/v1/policies/{pid}/rules/{id}` | `policy` (`id`, `type`, `name`) |
| `okta.api_token` | `/api/v1/api-tokens/{id}` | `owner_roles` (role types of the token's user) |
| `okta.app` | `/api/v1/apps/{id}` | — |
| `okta.oauth_grant` | `/api/v1/apps/{appId}/grants/{id}` | `app` (`id`, `label`, `signOnMode`, `status`) |

OAuth apps' scope grants are read only when a loaded rule applies to `okta.oauth_grant` (`grants.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from mendflow.config import TenantConnection
from mendflow.connectors.coverage import CoveredCollector, is_gap
from mendflow.connectors.credentials import Credential
from mendflow.connectors.http import OKTA_LIMITS, VendorHttp, tenant_http
from mendflow.errors import ActionError, VendorError
from mendflow.models import Resource, ResourceRef
from mendflow.providers.okta.grants import RESOURCE_TYPE as GRANT
from mendflow.providers.okta.grants import collect_grants, fetch_grant
from mendflow.rules.demand import Demand

POLICY_TYPES = ("OKTA_SIGN_ON", "PASSWORD", "MFA_ENROLL", "ACCESS_POLICY")
MAX_LIMIT = {"users": 200, "groups": 10000, "apps": 200, "policies": 200, "rules": 200, "assignees": 100}
"""Okta's largest page sizes: every list is read with them, so a scan makes the fewest requests possible."""
USER_ROLES, USER_FACTORS = "/api/v1/users/{id}/roles", "/api/v1/users/{id}/factors"
ROLES, FACTORS, OWNER_ROLES = ("related", "roles"), ("related", "factors"), ("related", "owner_roles")


def okta_http(
    connection: TenantConnection, credential: Credential, *, max_concurrency: int | None = None
) -> VendorHttp:
    """The shared HTTP layer, configured for Okta's auth schemes, rate-limit headers and concurrency ceiling."""
    return tenant_http(connection, credential, vendor="Okta", rate_limits=OKTA_LIMITS, max_concurrency=max_concurrency)


def _policy_summary(policy: dict[str, Any]) -> dict[str, Any]:
    return {k: policy.get(k) for k in ("id", "type", "name")}


class OktaCollector(CoveredCollector):
    """Reads one Okta org."""

    async def _list(self, path: str, *, template: str | None = None, **params: Any) -> list[Any] | None:
        return await self.coverage.read_list(self.http, path, template=template, params=params or None)

    async def _assignees(self) -> set[str] | None:
        """Ids of users holding an admin role (None when the list may not be read)."""
        path = "/api/v1/iam/assignees/users"
        self.coverage.expected += 1
        ids: set[str] = set()
        url: str | None = path
        params: dict[str, Any] | None = {"limit": MAX_LIMIT["assignees"]}
        try:
            while url is not None:
                body = await self.http.get_json(url, params=params)
                ids.update(str(item["id"]) for item in body.get("value", []))
                url = ((body.get("_links") or {}).get("next") or {}).get("href")
                params = None
        except VendorError as err:
            if not is_gap(err):
                raise
            self.coverage.missed(path, err)
            return None
        self.coverage.read += 1
        return ids

    async def _roles(self, user_id: str) -> list[Any] | None:
        return await self._list(f"/api/v1/users/{user_id}/roles", template=USER_ROLES)

    async def _factors(self, user_id: str) -> list[Any] | None:
        return await self._list(f"/api/v1/users/{user_id}/factors", template=USER_FACTORS)

    async def collect(self, demand: Demand | None = None) -> AsyncIterator[Resource]:
        """Yield every resource of the org: policies and rules, API tokens, apps, groups, then users; with a
        `demand`, per-user sub-collections only where a loaded rule could use them (None: read everything)."""
        assignees = await self._assignees()
        admin_ids = sorted(assignees or ())
        admin_roles = dict(zip(admin_ids, await asyncio.gather(*(self._roles(u) for u in admin_ids)), strict=True))

        for kind in POLICY_TYPES:
            for policy in await self._list("/api/v1/policies", type=kind, limit=MAX_LIMIT["policies"]) or []:
                pid = policy["id"]
                yield Resource(type="okta.policy", id=f"/api/v1/policies/{pid}", data=policy)
                rules = await self._list(
                    f"/api/v1/policies/{pid}/rules", template="/api/v1/policies/{id}/rules", limit=MAX_LIMIT["rules"]
                )
                for rule in rules or []:
                    yield Resource(
                        type="okta.policy_rule",
                        id=f"/api/v1/policies/{pid}/rules/{rule['id']}",
                        data=rule,
                        related={"policy": _policy_summary(policy)},
                    )

        for token in await self._list("/api/v1/api-tokens") or []:
            owner = token.get("userId")
            roles: list[Any] | None = None
            if assignees is not None:
                roles = admin_roles.get(owner, []) if owner in assignees else []
            elif owner and (demand is None or demand.needs("okta.api_token", [OWNER_ROLES], data=token)):
                roles = await self._roles(owner)
            elif owner:
                yield Resource(type="okta.api_token", id=f"/api/v1/api-tokens/{token['id']}", data=token)
                continue
            yield Resource(
                type="okta.api_token",
                id=f"/api/v1/api-tokens/{token['id']}",
                data=token,
                related={"owner_roles": None if roles is None else sorted({r.get("type") for r in roles})},
            )

        apps = await self._list("/api/v1/apps", limit=MAX_LIMIT["apps"]) or []
        for app in apps:
            yield Resource(type="okta.app", id=f"/api/v1/apps/{app['id']}", data=app)
        if demand is None or demand.wants(GRANT):
            for grant in await collect_grants(self.http, self.coverage, apps):
                yield grant
        for group in await self._list("/api/v1/groups", limit=MAX_LIMIT["groups"]) or []:
            yield Resource(type="okta.group", id=f"/api/v1/groups/{group['id']}", data=group)

        async for page in self._user_pages():
            if assignees is None:
                facts = await asyncio.gather(*(self._user_roles_read(u, demand) for u in page))
            else:
                facts = [{"roles": admin_roles.get(u["id"], []) if u["id"] in assignees else []} for u in page]
            wanted = [
                "roles" in known and (demand is None or demand.needs("okta.user", [FACTORS], data=u, related=known))
                for u, known in zip(page, facts, strict=True)
            ]
            factors = await asyncio.gather(*(self._factors(u["id"]) for u, w in zip(page, wanted, strict=True) if w))
            read = iter(factors)
            for user, known, want in zip(page, facts, wanted, strict=True):
                yield Resource(
                    type="okta.user",
                    id=f"/api/v1/users/{user['id']}",
                    data=user,
                    related={**known, "factors": next(read)} if want else known,
                )

    async def _user_roles_read(self, user: dict[str, Any], demand: Demand | None) -> dict[str, Any]:
        """A user's roles read one by one (no assignee list): only if a rule could use them or the factors."""
        if demand is not None and not demand.needs("okta.user", [ROLES, FACTORS], data=user):
            return {}
        return {"roles": await self._roles(user["id"])}

    def _user_pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        return self.coverage.read_pages(self.http, "/api/v1/users", params={"limit": MAX_LIMIT["users"]})

    async def fetch(self, ref: ResourceRef, demand: Demand | None = None) -> Resource | None:
        """Re-read one resource exactly as `collect` builds it; None when it is gone. With a `demand`, a user's or
        a token's sub-collections only when a loaded rule could use them, as `collect` does."""
        parts = ref.id.strip("/").split("/")
        if ref.type == "okta.user":
            user = await self.http.get_optional(ref.id)
            if user is None:
                return None
            if demand is not None and not demand.needs(ref.type, [ROLES, FACTORS], data=user):
                return Resource(type=ref.type, id=ref.id, data=user)
            roles, factors = await asyncio.gather(self._roles(user["id"]), self._factors(user["id"]))
            return Resource(type=ref.type, id=ref.id, data=user, related={"roles": roles, "factors": factors})
        if ref.type == "okta.policy_rule":
            policy_path = "/" + "/".join(parts[:4])
            policy, rule = await asyncio.gather(self.http.get_optional(policy_path), self.http.get_optional(ref.id))
            if policy is None or rule is None:
                return None
            return Resource(type=ref.type, id=ref.id, data=rule, related={"policy": _policy_summary(policy)})
        if ref.type == "okta.api_token":
            token = await self.http.get_optional(ref.id)
            if token is None:
                return None
            if demand is not None and not demand.needs(ref.type, [OWNER_ROLES], data=token):
                return Resource(type=ref.type, id=ref.id, data=token)
            owner_roles = await self._roles(token["userId"]) if token.get("userId") else []
            types = None if owner_roles is None else sorted({r.get("type") for r in owner_roles})
            return Resource(type=ref.type, id=ref.id, data=token, related={"owner_roles": types})
        if ref.type in ("okta.policy", "okta.app", "okta.group"):
            data = await self.http.get_optional(ref.id)
            return None if data is None else Resource(type=ref.type, id=ref.id, data=data)
        if ref.type == GRANT:
            return await fetch_grant(self.http, ref.id)
        raise ActionError(f"re-reading resources of type {ref.type} is not supported yet")
