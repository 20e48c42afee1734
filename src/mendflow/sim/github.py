"""A GitHub REST API simulator (ASGI, Starlette) that serves and mutates one tenant file's `github` section.

It speaks GitHub's wire format — bodies, error shapes, `Link` pagination, rate-limit headers and token auth — so
the connector under test cannot tell it from api.github.com for the operations in `tests/specs/github-subset.json`.
Faults (latency, 5xx, 403 on chosen endpoints, truncated bodies, a tight rate limit) come from a `FaultPlan`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from mendflow.sim.app_auth import GithubAppAuthority
from mendflow.sim.common import FaultInjector, FaultPlan, Gate, GatePolicy, RateBudget, json_response, read_json_object
from mendflow.sim.deliveries import Deliveries, DeliveryStats, EventsFor, WebhookTarget, github_events
from mendflow.sim.github_routes import ROUTES, Call, Handler, Sim
from mendflow.sim.github_shapes import ApiError, not_found
from mendflow.sim.github_state import GithubState
from mendflow.sim.own_origin import OwnOrigin, PathPrefix
from mendflow.tenant import TenantFile

RATE_DOCS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
SECONDARY_DOCS = f"{RATE_DOCS}#about-secondary-rate-limits"
VENDOR_ORIGIN = "https://api.github.com"
"""The API origin in tenant files; answers carry the simulator's own base instead (`sim.own_origin`)."""
SERVER_MESSAGES = {403: "Resource not accessible by integration", 500: "Server Error", 502: "Server Error",
                   503: "Service Unavailable"}  # fmt: skip


def _limited(reason: str) -> Response:
    if reason == "concurrency":
        body = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                "documentation_url": SECONDARY_DOCS}  # fmt: skip
        return json_response(403, body, {"retry-after": "60"})
    return json_response(403, {"message": "API rate limit exceeded for user ID 1.", "documentation_url": RATE_DOCS})


def _error(status: int) -> Response:
    return json_response(status, ApiError(status, SERVER_MESSAGES.get(status, "Server Error")).body())


def _rate_headers(snapshot: dict[str, int]) -> dict[str, str]:
    return {f"x-ratelimit-{name}": str(value) for name, value in snapshot.items()} | {"x-ratelimit-resource": "core"}


def _endpoint(handler: Handler, sim: Sim) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        try:
            body = await read_json_object(request, lambda: ApiError(400, "Problems parsing JSON"))
            return handler(Call(request, body, sim))
        except ApiError as err:
            return json_response(err.status, err.body())

    return endpoint


async def _not_found(request: Request, exc: Exception) -> Response:
    # GitHub answers unknown paths and unsupported methods alike with its JSON 404.
    return json_response(404, not_found().body())


def _deliveries(target: WebhookTarget | None, events: EventsFor, host: str, sent: DeliveryStats) -> list[Middleware]:
    """With a delivery target, writes answered 2xx send the vendor's webhooks there (`sim.deliveries`)."""
    if target is None:
        return []
    return [Middleware(Deliveries, vendor="github", target=target, events=events, stats=sent, host=host)]


def create_github_app(
    tenant: TenantFile,
    *,
    token: str,
    per_page_default: int = 30,
    rate_limit: int = 5000,
    rate_window: float = 3600.0,
    faults: FaultPlan | None = None,
    clock: Callable[[], float] = time.time,
    app_auth: GithubAppAuthority | None = None,
    webhook: WebhookTarget | None = None,
    api_prefix: str = "",
) -> Starlette:
    """A fresh simulator for `tenant`; its state (a deep copy) is `app.state.github`, and the faults it injected
    are counted in `app.state.fault_stats`. With `app_auth`, a registered GitHub App mints installation tokens
    that are accepted besides `token`, each endpoint checking the installation's permissions. With `webhook`,
    writes deliver GitHub's signed webhooks there (`sim.deliveries`; counted in `app.state.deliveries`). Every
    `https://api.github.com` URL in a body is served on the request's own base URL; with `api_prefix` (GitHub
    Enterprise Server's `/api/v3`) the API answers under that prefix too, and its URLs carry it."""
    plan = faults or FaultPlan()
    budget = RateBudget(plan.rate_limit or rate_limit, clock, window=plan.rate_window or rate_window)
    state = GithubState(tenant.section(), clock=clock)
    sim = Sim(state=state, budget=budget, per_page_default=per_page_default)

    def budget_for(scope: Scope) -> RateBudget | None:
        return None if scope["path"] == "/rate_limit" else budget

    policy = GatePolicy(
        token=token,
        schemes=("bearer", "token"),
        budget_for=budget_for,
        rate_headers=_rate_headers,
        unauthorized=lambda: json_response(401, ApiError(401, "Bad credentials").body()),
        limited=_limited,
        static_headers={"x-github-api-version-selected": "2022-11-28", "x-github-media-type": "github.v3; format=json"},
        max_in_flight=100,
        authorize=app_auth.authorize if app_auth else None,
    )
    routes = [Route(path, _endpoint(handler, sim), methods=[method]) for method, path, handler in ROUTES]
    routes = (app_auth.routes() if app_auth else []) + routes
    stats: Counter[str] = Counter()
    sent = DeliveryStats()
    app = Starlette(
        routes=routes,
        middleware=[
            *([Middleware(PathPrefix, prefix=api_prefix)] if api_prefix else []),
            Middleware(Gate, policy=policy),
            Middleware(OwnOrigin, origins=(VENDOR_ORIGIN,)),
            Middleware(FaultInjector, plan=plan, error=_error, stats=stats),
            *_deliveries(webhook, github_events(state), state.login, sent),
        ],
        exception_handlers={404: _not_found, 405: _not_found},
    )
    app.state.github = state
    app.state.app_auth = app_auth
    app.state.rate = sim.budget
    app.state.fault_plan = plan
    app.state.fault_stats = stats
    app.state.deliveries = sent
    return app


__all__ = ["FaultPlan", "GithubState", "RateBudget", "create_github_app"]
