"""The Okta simulator's endpoints: one small handler per Management API operation, and the route table.

Handlers translate between HTTP (path, query, body) and `OktaState`; Okta's shapes live in `okta_shapes`.
Pagination is Okta's: `limit` (capped per endpoint) and an opaque `after` cursor in `Link: <…>; rel="next"`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from mendflow.sim.common import JSON, int_param, json_response
from mendflow.sim.okta_apps import complete_app
from mendflow.sim.okta_shapes import matcher, public
from mendflow.sim.okta_state import OktaState

PAGE_LIMITS: dict[str, tuple[int, int]] = {
    # collection: (default limit, maximum limit)
    "users": (200, 200),
    "groups": (10000, 10000),
    "apps": (20, 200),
    "policies": (20, 200),
    "rules": (20, 200),
    "api-tokens": (20, 200),
    "assignees": (100, 100),
    "grants": (20, 200),
    "logs": (100, 1000),
    "tokens": (20, 200),
}


@dataclass
class Call:
    """One request, reduced to what the handlers need."""

    request: Request
    body: JSON
    state: OktaState

    def p(self, name: str) -> str:
        return str(self.request.path_params[name])

    @property
    def query(self) -> QueryParams:
        return self.request.query_params

    def window(self, items: list[JSON], collection: str) -> tuple[list[JSON], str | None]:
        """One page of `items` starting after the `after` cursor, and the next page's URL (None on the last)."""
        default, maximum = PAGE_LIMITS[collection]
        limit = int_param(self.query.get("limit"), default)
        limit = default if limit <= 0 else min(limit, maximum)
        start = 0
        after = self.query.get("after")
        if after:
            start = next((i + 1 for i, item in enumerate(items) if item.get("id") == after), len(items))
        chunk = items[start : start + limit]
        more = start + limit < len(items) and bool(chunk)
        url = str(self.request.url.include_query_params(after=chunk[-1]["id"], limit=limit)) if more else None
        return chunk, url

    def page(self, items: list[JSON], collection: str, view: Callable[[JSON], JSON] = public) -> Response:
        """A JSON list page with Okta's `Link` header (`self`, and `next` while there is more); each item is
        served as `view` shows it."""
        chunk, next_url = self.window(items, collection)
        links = [f'<{self.request.url}>; rel="self"']
        if next_url is not None:
            links.append(f'<{next_url}>; rel="next"')
        return json_response(200, [view(item) for item in chunk], {"link": ", ".join(links)})


Handler = Callable[[Call], Response]


# ---- users --------------------------------------------------------------------------------------------------
def list_users(c: Call) -> Response:
    predicate = matcher(c.query.get("filter") or c.query.get("search"))
    q = c.query.get("q")
    users = c.state.users_view(predicate, include_deprovisioned=False)
    if q:
        users = [u for u in users if _starts(u, q)]
    return c.page(users, "users")


def _starts(user: JSON, q: str) -> bool:
    profile = user.get("profile") or {}
    return any(str(profile.get(k) or "").lower().startswith(q.lower()) for k in ("login", "email", "firstName",
                                                                              "lastName"))  # fmt: skip


def get_user(c: Call) -> Response:
    user = c.state.user(c.p("id"))
    return json_response(200, public(user), {"etag": f'W/"{user.get("lastUpdated", "")}"'})


def _lifecycle(operation: str) -> Handler:
    def handler(c: Call) -> Response:
        c.state.lifecycle(c.p("id"), operation)
        if operation == "activate":
            if c.query.get("sendEmail", "true").lower() == "false":
                token = f"sim{c.p('id')}"
                return json_response(200, {"activationToken": token,
                                           "activationUrl": f"{c.request.base_url}welcome/{token}"})  # fmt: skip
            return json_response(200, {})
        return json_response(200, None)

    return handler


def list_roles(c: Call) -> Response:
    return json_response(200, [public(r) for r in c.state.roles(c.p("userId"))])


def list_factors(c: Call) -> Response:
    return json_response(200, [public(f) for f in c.state.factors(c.p("userId"))])


def list_role_assignees(c: Call) -> Response:
    base = str(c.request.base_url).rstrip("/")
    chunk, next_url = c.window(c.state.role_assignees(), "assignees")
    value = [
        {"id": u["id"], "orn": f"orn:okta:directory:sim:users:{u['id']}",
         "_links": {"self": {"href": f"{base}/api/v1/users/{u['id']}"},
                    "roles": {"href": f"{base}/api/v1/users/{u['id']}/roles"}}}
        for u in chunk
    ]  # fmt: skip
    links: dict[str, Any] = {"next": {"href": next_url}} if next_url else {}
    return json_response(200, {"value": value, "_links": links})


def list_user_grants(c: Call) -> Response:
    return c.page(c.state.user_grants(c.p("userId")), "grants")


def revoke_user_grant(c: Call) -> Response:
    c.state.revoke_user_grant(c.p("userId"), c.p("grantId"))
    return json_response(204, None)


# ---- policies -----------------------------------------------------------------------------------------------
def list_policies(c: Call) -> Response:
    return c.page(c.state.policies_of(c.query.get("type"), c.query.get("status")), "policies")


def get_policy(c: Call) -> Response:
    return json_response(200, public(c.state.policy(c.p("policyId"))))


def replace_policy(c: Call) -> Response:
    return json_response(200, public(c.state.replace_policy(c.p("policyId"), c.body)))


def list_rules(c: Call) -> Response:
    return c.page(c.state.policy(c.p("policyId"))["_rules"], "rules")


def get_rule(c: Call) -> Response:
    return json_response(200, public(c.state.rule(c.p("policyId"), c.p("ruleId"))))


def replace_rule(c: Call) -> Response:
    return json_response(200, public(c.state.replace_rule(c.p("policyId"), c.p("ruleId"), c.body)))


# ---- API tokens, apps, groups -----------------------------------------------------------------------------
def list_api_tokens(c: Call) -> Response:
    return c.page(c.state.api_tokens, "api-tokens")


def get_api_token(c: Call) -> Response:
    return json_response(200, public(c.state.api_token(c.p("apiTokenId"))))


def upsert_api_token(c: Call) -> Response:
    return json_response(200, public(c.state.upsert_api_token(c.p("apiTokenId"), c.body)))


def revoke_api_token(c: Call) -> Response:
    c.state.revoke_api_token(c.p("apiTokenId"))
    return json_response(204, None)


def list_apps(c: Call) -> Response:
    predicate = matcher(c.query.get("filter"))
    apps = c.state.apps if predicate is None else [a for a in c.state.apps if predicate(a)]
    return c.page(apps, "apps", _app_view)


def get_app(c: Call) -> Response:
    return json_response(200, _app_view(c.state.app(c.p("appId"))))


def _app_view(app: JSON) -> JSON:
    """Apps are served vendor-complete for their sign-on mode (`sim.okta_apps`), whatever the tenant file omits."""
    return complete_app(public(app))


def list_app_grants(c: Call) -> Response:
    return json_response(200, [public(g) for g in c.state.app_grants(c.p("appId"))])


def get_app_grant(c: Call) -> Response:
    return json_response(200, public(c.state.app_grant(c.p("appId"), c.p("grantId"))))


def revoke_app_grant(c: Call) -> Response:
    c.state.revoke_app_grant(c.p("appId"), c.p("grantId"))
    return json_response(204, None)


def list_groups(c: Call) -> Response:
    predicate = matcher(c.query.get("filter") or c.query.get("search"))
    groups = c.state.groups if predicate is None else [g for g in c.state.groups if predicate(g)]
    return c.page(groups, "groups")


def get_group(c: Call) -> Response:
    return json_response(200, public(c.state.group(c.p("groupId"))))


# ---- what response workflows do -----------------------------------------------------------------------------
def _no_content(c: Call) -> Response:
    return json_response(204, None)


def clear_sessions(c: Call) -> Response:
    c.state.clear_sessions(c.p("userId"), oauth_tokens=c.query.get("oauthTokens", "false").lower() == "true")
    return _no_content(c)


def revoke_user_grants(c: Call) -> Response:
    c.state.revoke_all_grants(c.p("userId"))
    return _no_content(c)


def list_user_clients(c: Call) -> Response:
    base = str(c.request.base_url).rstrip("/")
    uid = c.p("userId")
    clients = [
        {**client, "_links": {"self": {"href": f"{base}/api/v1/apps/{client['client_id']}"},
                              "tokens": {"href": f"{base}/api/v1/users/{uid}/clients/{client['client_id']}/tokens"}}}
        for client in c.state.clients(uid)
    ]  # fmt: skip
    return json_response(200, clients)


def list_client_tokens(c: Call) -> Response:
    return c.page(c.state.tokens(c.p("userId"), c.p("clientId")), "tokens")


def revoke_client_tokens(c: Call) -> Response:
    c.state.revoke_tokens(c.p("userId"), c.p("clientId"))
    return _no_content(c)


def list_user_groups(c: Call) -> Response:
    return json_response(200, [public(g) for g in c.state.groups_of(c.p("id"))])


def _membership(member: bool) -> Handler:
    def handler(c: Call) -> Response:
        c.state.set_member(c.p("groupId"), c.p("userId"), member=member)
        return _no_content(c)

    return handler


def assign_role(c: Call) -> Response:
    return json_response(201, public(c.state.assign_role(c.p("userId"), c.body)))


def unassign_role(c: Call) -> Response:
    c.state.unassign_role(c.p("userId"), c.p("roleAssignmentId"))
    return _no_content(c)


def _app_lifecycle(operation: str) -> Handler:
    def handler(c: Call) -> Response:
        c.state.app_lifecycle(c.p("appId"), operation)
        return json_response(200, None)

    return handler


def list_logs(c: Call) -> Response:
    """System Log: `since`/`until` bounds, a `filter` (`eventType eq "…"`, `target.id eq "…"`, `actor.id eq "…"`
    with and/or), ascending unless `sortOrder=DESCENDING`; paged with `after` like every Okta list."""
    q = c.query
    found = c.state.events(q.get("since"), q.get("until"), _log_filter(q.get("filter")),
                           descending=q.get("sortOrder") == "DESCENDING")  # fmt: skip
    return c.page(found, "logs")


def _log_filter(expression: str | None) -> Any:
    """`target.id eq "x"` means: any of the event's targets has id x (targets are a list)."""
    if expression is None:
        return None
    flat = matcher(expression.replace("target.id", "targetIds"))

    def predicate(event: JSON) -> bool:
        ids = [str(t.get("id")) for t in event.get("target") or []] or [""]
        return any(flat({**event, "targetIds": target_id}) for target_id in ids)

    return predicate


_USER, _POLICY = "/api/v1/users/{id}", "/api/v1/policies/{policyId}"
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/api/v1/users", list_users),
    ("GET", _USER, get_user),
    *[("POST", f"{_USER}/lifecycle/{op}", _lifecycle(op)) for op in ("suspend", "unsuspend", "activate", "deactivate")],
    ("GET", "/api/v1/users/{userId}/roles", list_roles),
    ("GET", "/api/v1/users/{userId}/factors", list_factors),
    ("GET", "/api/v1/users/{userId}/grants", list_user_grants),
    ("DELETE", "/api/v1/users/{userId}/grants/{grantId}", revoke_user_grant),
    ("GET", "/api/v1/iam/assignees/users", list_role_assignees),
    ("GET", "/api/v1/policies", list_policies),
    ("GET", _POLICY, get_policy),
    ("PUT", _POLICY, replace_policy),
    ("GET", f"{_POLICY}/rules", list_rules),
    ("GET", f"{_POLICY}/rules/{{ruleId}}", get_rule),
    ("PUT", f"{_POLICY}/rules/{{ruleId}}", replace_rule),
    ("GET", "/api/v1/api-tokens", list_api_tokens),
    ("GET", "/api/v1/api-tokens/{apiTokenId}", get_api_token),
    ("PUT", "/api/v1/api-tokens/{apiTokenId}", upsert_api_token),
    ("DELETE", "/api/v1/api-tokens/{apiTokenId}", revoke_api_token),
    ("GET", "/api/v1/apps", list_apps),
    ("GET", "/api/v1/apps/{appId}", get_app),
    ("GET", "/api/v1/apps/{appId}/grants", list_app_grants),
    ("GET", "/api/v1/apps/{appId}/grants/{grantId}", get_app_grant),
    ("DELETE", "/api/v1/apps/{appId}/grants/{grantId}", revoke_app_grant),
    ("GET", "/api/v1/groups", list_groups),
    ("GET", "/api/v1/groups/{groupId}", get_group),
    ("DELETE", "/api/v1/users/{userId}/sessions", clear_sessions),
    ("DELETE", "/api/v1/users/{userId}/grants", revoke_user_grants),
    ("GET", "/api/v1/users/{userId}/clients", list_user_clients),
    ("GET", "/api/v1/users/{userId}/clients/{clientId}/tokens", list_client_tokens),
    ("DELETE", "/api/v1/users/{userId}/clients/{clientId}/tokens", revoke_client_tokens),
    ("GET", f"{_USER}/groups", list_user_groups),
    ("PUT", "/api/v1/groups/{groupId}/users/{userId}", _membership(True)),
    ("DELETE", "/api/v1/groups/{groupId}/users/{userId}", _membership(False)),
    ("POST", "/api/v1/users/{userId}/roles", assign_role),
    ("DELETE", "/api/v1/users/{userId}/roles/{roleAssignmentId}", unassign_role),
    *[("POST", f"/api/v1/apps/{{appId}}/lifecycle/{op}", _app_lifecycle(op)) for op in ("activate", "deactivate")],
    ("GET", "/api/v1/logs", list_logs),
]
