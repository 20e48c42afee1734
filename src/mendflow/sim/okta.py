"""An Okta Management API simulator (ASGI, Starlette) that serves and mutates one tenant file's `okta` section.

It speaks Okta's wire format — bodies, error objects (`errorCode`, `errorSummary`, `errorLink`, `errorId`,
`errorCauses`), cursor pagination, `X-Rate-Limit-*` headers per endpoint bucket with 429s, the 75-request
concurrency limit, and `SSWS`/`Bearer` auth — for the operations in `tests/specs/okta-subset.normalized.json`.
Faults come from a `FaultPlan`, exactly as for the GitHub simulator.
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
from starlette.routing import Match, Route
from starlette.types import Scope

from mendflow.sim.app_auth import OktaServiceAuthority
from mendflow.sim.common import FaultInjector, FaultPlan, Gate, GatePolicy, RateBudget, json_response, read_json_object
from mendflow.sim.deliveries import Deliveries, DeliveryStats, EventsFor, WebhookTarget, okta_events
from mendflow.sim.okta_routes import ROUTES, Call, Handler
from mendflow.sim.okta_shapes import OktaError, bad_json, forbidden, not_allowed, rate_limited, server_error
from mendflow.sim.okta_state import OktaState
from mendflow.sim.own_origin import OwnOrigin, link_origins
from mendflow.tenant import TenantFile

DEFAULT_BUCKET = "/api/v1/*"


def _answer(error: OktaError) -> Response:
    return json_response(error.status, error.body())


def _error(status: int) -> Response:
    return _answer(forbidden() if status == 403 else server_error(status))


def _rate_headers(snapshot: dict[str, int]) -> dict[str, str]:
    return {
        "x-rate-limit-limit": str(snapshot["limit"]),
        "x-rate-limit-remaining": str(snapshot["remaining"]),
        "x-rate-limit-reset": str(snapshot["reset"]),
    }


def _endpoint(handler: Handler, state: OktaState) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        try:
            body = await read_json_object(request, bad_json)
            return handler(Call(request, body, state))
        except OktaError as err:
            return _answer(err)

    return endpoint


async def _unknown(request: Request, exc: Exception) -> Response:
    if getattr(exc, "status_code", 404) == 405:
        return _answer(not_allowed())
    return _answer(OktaError(404, "E0000007", f"Not found: Resource not found: {request.url.path} (Path)"))


def _deliveries(target: WebhookTarget | None, events: EventsFor, host: str, sent: DeliveryStats) -> list[Middleware]:
    """With a delivery target, writes answered 2xx send the vendor's webhooks there (`sim.deliveries`)."""
    if target is None:
        return []
    return [Middleware(Deliveries, vendor="okta", target=target, events=events, stats=sent, host=host)]


def create_okta_app(
    tenant: TenantFile,
    *,
    token: str,
    rate_limit: int = 1200,
    rate_window: float = 60.0,
    max_in_flight: int = 75,
    faults: FaultPlan | None = None,
    clock: Callable[[], float] = time.time,
    service_apps: OktaServiceAuthority | None = None,
    webhook: WebhookTarget | None = None,
) -> Starlette:
    """A fresh simulator for `tenant`; its state (a deep copy) is `app.state.okta`, and the faults it injected are
    counted in `app.state.fault_stats`. Each endpoint (route template) is its own rate-limit bucket of
    `rate_limit` requests per `rate_window` seconds, as Okta limits per endpoint. With `service_apps`, the org
    authorization server's token endpoint mints scoped access tokens accepted besides `token`. With `webhook`,
    writes deliver Okta event hooks there (`sim.deliveries`; counted in `app.state.deliveries`). The org origin of
    the tenant file's `_links` hrefs is served as the request's own base URL (`sim.own_origin`), as an org would."""
    plan = faults or FaultPlan()
    state = OktaState(tenant.section(), clock=clock)
    routes = [Route(path, _endpoint(handler, state), methods=[method]) for method, path, handler in ROUTES]
    routes = (service_apps.routes() if service_apps else []) + routes
    limit, window = plan.rate_limit or rate_limit, plan.rate_window or rate_window
    buckets: dict[str, RateBudget] = {}

    def budget_for(scope: Scope) -> RateBudget:
        template = DEFAULT_BUCKET
        for route in routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                template = route.path
                break
        budget = buckets.get(template)
        if budget is None:
            budget = buckets[template] = RateBudget(limit, clock, window=window)
        return budget

    policy = GatePolicy(
        token=token,
        schemes=("ssws", "bearer"),
        glued_scheme=True,
        budget_for=budget_for,
        rate_headers=_rate_headers,
        unauthorized=lambda: _answer(OktaError(401, "E0000011", "Invalid token provided")),
        limited=lambda reason: _answer(rate_limited()),
        static_headers={"x-okta-request-id": "sim"},
        max_in_flight=max_in_flight,
        authorize=service_apps.authorize if service_apps else None,
    )
    stats: Counter[str] = Counter()
    sent = DeliveryStats()
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(Gate, policy=policy),
            Middleware(OwnOrigin, origins=link_origins(tenant.section())),
            Middleware(FaultInjector, plan=plan, error=_error, stats=stats),
            *_deliveries(webhook, okta_events(tenant.tenant), tenant.tenant, sent),
        ],
        exception_handlers={404: _unknown, 405: _unknown},
    )
    app.state.okta = state
    app.state.service_apps = service_apps
    app.state.rate_buckets = buckets
    app.state.fault_plan = plan
    app.state.fault_stats = stats
    app.state.deliveries = sent
    return app


__all__ = ["FaultPlan", "OktaState", "create_okta_app"]
