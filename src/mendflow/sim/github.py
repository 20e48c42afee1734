"""A GitHub REST API simulator (ASGI, Starlette) that serves and mutates one tenant file's `github` section.

It speaks GitHub's wire format — bodies, error shapes, `Link` pagination, rate-limit headers and token auth — so
the connector under test cannot tell it from api.github.com for the operations in `tests/specs/github-subset.json`.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mendflow.sim.github_routes import ROUTES, Call, Handler, RateBudget, Sim, json_response
from mendflow.sim.github_shapes import JSON, ApiError, not_found
from mendflow.sim.github_state import GithubState
from mendflow.tenant import TenantFile

RATE_DOCS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"


class _Gate:
    """Token check and rate limit in front of every route, and the headers GitHub puts on every answer."""

    def __init__(self, app: ASGIApp, *, token: str, budget: RateBudget) -> None:
        self.app = app
        self.token = token.encode()
        self.budget = budget

    def _authorized(self, header: str | None) -> bool:
        scheme, _, value = (header or "").partition(" ")
        presented = value.strip().encode() if scheme.lower() in ("bearer", "token") else b""
        # Constant-time even for the wrong scheme, so timing says nothing about the token.
        return hmac.compare_digest(presented, self.token) and bool(presented)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.budget.snapshot().items():
                    headers[f"x-ratelimit-{name}"] = str(value)
                headers["x-ratelimit-resource"] = "core"
                headers["x-github-api-version-selected"] = "2022-11-28"
                headers["x-github-media-type"] = "github.v3; format=json"
            await send(message)

        if not self._authorized(Headers(scope=scope).get("authorization")):
            refusal: Response | None = json_response(401, ApiError(401, "Bad credentials").body())
        elif scope["path"] != "/rate_limit" and not self.budget.take():
            message = "API rate limit exceeded for user ID 1."
            refusal = json_response(403, {"message": message, "documentation_url": RATE_DOCS})
        else:
            refusal = None
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
        else:
            await self.app(scope, receive, send_with_headers)


async def _read_body(request: Request) -> JSON:
    if request.method not in ("POST", "PATCH", "PUT"):
        return {}
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "Problems parsing JSON")
    return body


def _endpoint(handler: Handler, sim: Sim) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        try:
            return handler(Call(request, await _read_body(request), sim))
        except ApiError as err:
            return json_response(err.status, err.body())

    return endpoint


async def _not_found(request: Request, exc: Exception) -> Response:
    # GitHub answers unknown paths and unsupported methods alike with its JSON 404.
    return json_response(404, not_found().body())


def create_github_app(
    tenant: TenantFile,
    *,
    token: str,
    per_page_default: int = 30,
    rate_limit: int = 5000,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """A fresh simulator for `tenant`; its state (a deep copy) is `app.state.github`."""
    state = GithubState(tenant.section(), clock=clock)
    sim = Sim(state=state, budget=RateBudget(rate_limit, clock), per_page_default=per_page_default)
    routes = [Route(path, _endpoint(handler, sim), methods=[method]) for method, path, handler in ROUTES]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(_Gate, token=token, budget=sim.budget)],
        exception_handlers={404: _not_found, 405: _not_found},
    )
    app.state.github = state
    app.state.rate = sim.budget
    return app


__all__ = ["GithubState", "RateBudget", "create_github_app"]
