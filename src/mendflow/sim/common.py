"""What every vendor simulator shares: JSON answers, the auth + rate-limit gate, and seeded fault injection.

A simulator is a Starlette app of vendor-specific routes wrapped in two middlewares from here:

    Gate           token check, concurrency limit, rate-limit buckets and the headers the vendor sends with them
    FaultInjector  latency, 5xx answers, 403 on chosen endpoints and truncated bodies, as a `FaultPlan` says

and `rewrite_body`, the one way a middleware edits an answer's body (truncation here, `own_origin.OwnOrigin`'s
served URLs).

Vendor differences (header names, error bodies, how requests map to rate-limit buckets) are passed in as small
callables, so each simulator describes only its vendor.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON = dict[str, Any]
JSON_TYPE = "application/json; charset=utf-8"


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    if body is None:
        return Response(status_code=status, headers=headers)
    return Response(json.dumps(body), status_code=status, headers=headers, media_type=JSON_TYPE)


def int_param(raw: str | None, default: int) -> int:
    """A query parameter as int; junk means the default, as vendors treat it."""
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return default


class SimError(Exception):
    """An error answer in the vendor's shape; each simulator subclasses it with its own `body()`."""

    status: int

    def body(self) -> JSON:
        raise NotImplementedError


async def read_json_object(request: Request, bad_json: Callable[[], SimError]) -> JSON:
    """The request body as a JSON object (`{}` when empty); anything else raises the vendor's parse error."""
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
        raise bad_json()
    return body


class RateBudget:
    """A fixed-window request budget: `limit` requests per `window` seconds (GitHub: per hour; Okta: per
    minute and endpoint)."""

    def __init__(self, limit: int, clock: Callable[[], float], *, window: float = 3600.0) -> None:
        self.limit = limit
        self.clock = clock
        self.window = window
        self.used = 0
        self.reset = self._next_reset()

    def _next_reset(self) -> int:
        # Whole seconds, as vendors announce it; never earlier than one full window from now.
        return int(self.clock() + self.window + 0.999)

    def _roll(self) -> None:
        if self.clock() >= self.reset:
            self.used = 0
            self.reset = self._next_reset()

    def take(self) -> bool:
        self._roll()
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    def snapshot(self) -> dict[str, int]:
        self._roll()
        return {"limit": self.limit, "remaining": self.limit - self.used, "reset": self.reset, "used": self.used}


def token_matches(header: str | None, token: bytes, schemes: tuple[str, ...], *, glued: bool = False) -> bool:
    """Does `Authorization` carry `token` under one of `schemes` (lower-case)? Constant time, even for the wrong
    scheme, so timing says nothing about the token. `glued` also takes the scheme with no space before the token
    (`SSWS00abc…`), which is what the official Okta SDK 3.x sends."""
    scheme, _, value = (header or "").partition(" ")
    presented = value.strip().encode() if scheme.lower() in schemes else b""
    if glued and not value:
        found = next((s for s in schemes if scheme.lower().startswith(s) and len(scheme) > len(s)), None)
        presented = scheme[len(found) :].encode() if found else presented
    return hmac.compare_digest(presented, token) and bool(presented)


@dataclass
class GatePolicy:
    """The vendor-specific parts of the gate."""

    token: str
    schemes: tuple[str, ...]
    """Accepted `Authorization` schemes, lower-case (GitHub: bearer, token; Okta: ssws, bearer)."""
    budget_for: Callable[[Scope], RateBudget | None]
    """The rate-limit bucket a request counts against; None: not rate limited."""
    rate_headers: Callable[[dict[str, int]], dict[str, str]]
    unauthorized: Callable[[], Response]
    limited: Callable[[str], Response]
    """Refusal for `"budget"` (the bucket is empty) or `"concurrency"` (too many requests in flight)."""
    static_headers: dict[str, str] = field(default_factory=dict)
    max_in_flight: int | None = None
    """Concurrent requests beyond this are refused like a rate limit (Okta: 75 per org)."""
    authorize: Callable[[Scope, str | None], Response | None] | None = None
    """Other credentials than `token` (app-minted tokens, `sim/app_auth.py`): the refusal, or None to let the
    request through; None here: only `token` is accepted."""
    glued_scheme: bool = False
    """Accept the scheme glued to the token, without the space (see `token_matches`)."""


class Gate:
    """Token check, concurrency limit and rate limit in front of every route, and the vendor's headers on every
    answer (including refusals and injected faults)."""

    def __init__(self, app: ASGIApp, *, policy: GatePolicy) -> None:
        self.app = app
        self.policy = policy
        self.token = policy.token.encode()
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policy
        budget = policy.budget_for(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if budget is not None:
                    for name, value in policy.rate_headers(budget.snapshot()).items():
                        headers[name] = value
                for name, value in policy.static_headers.items():
                    headers[name] = value
            await send(message)

        refusal: Response | None = None
        header = Headers(scope=scope).get("authorization")
        if not token_matches(header, self.token, policy.schemes, glued=policy.glued_scheme):
            refusal = policy.unauthorized() if policy.authorize is None else policy.authorize(scope, header)
        if refusal is not None:
            pass
        elif policy.max_in_flight is not None and self.in_flight >= policy.max_in_flight:
            refusal = policy.limited("concurrency")
        elif budget is not None and not budget.take():
            refusal = policy.limited("budget")
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            self.in_flight -= 1


@dataclass(frozen=True)
class FaultPlan:
    """Faults a simulator injects, chosen per run. Deterministic: every decision is drawn from `seed`, the
    request (method, path, query) and how often that request was seen, so a rerun injects the same faults."""

    seed: int = 0
    error_rate: float = 0.0
    """Share of requests answered 500/502/503 in the vendor's error shape."""
    latency: float = 0.0
    """Mean added latency in seconds (drawn uniformly from 0.5x to 1.5x)."""
    forbidden: tuple[str, ...] = ()
    """Path patterns (fnmatch, e.g. `/api/v1/users/*/factors`, optionally prefixed `GET `) answered 403."""
    truncate_rate: float = 0.0
    """Share of successful answers whose body is cut in half (valid HTTP framing, invalid JSON)."""
    rate_limit: int | None = None
    """Requests per rate-limit window (per bucket); None keeps the simulator's default."""
    rate_window: float | None = None
    """Seconds per rate-limit window; None keeps the vendor's (GitHub: 3600, Okta: 60)."""

    @property
    def active(self) -> bool:
        return bool(self.error_rate or self.latency or self.forbidden or self.truncate_rate)

    def forbids(self, method: str, path: str) -> bool:
        for pattern in self.forbidden:
            verb, _, rest = pattern.partition(" ")
            if rest and verb.upper() == method and fnmatch.fnmatchcase(path, rest):
                return True
            if not rest and fnmatch.fnmatchcase(path, pattern):
                return True
        return False


def _draw(seed: int, salt: str, key: str, n: int) -> float:
    digest = hashlib.blake2b(f"{seed}\x1f{salt}\x1f{key}\x1f{n}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class FaultInjector:
    """Injects the faults of a `FaultPlan`; `stats` counts what was injected (for tests and benchmarks)."""

    def __init__(
        self, app: ASGIApp, *, plan: FaultPlan, error: Callable[[int], Response], stats: Counter[str] | None = None
    ) -> None:
        self.app = app
        self.plan = plan
        self.error = error
        """Status → the vendor's error answer (403 for forbidden endpoints, 5xx for server errors)."""
        self.seen: Counter[str] = Counter()
        self.stats: Counter[str] = Counter() if stats is None else stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        plan = self.plan
        if scope["type"] != "http" or not plan.active:
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        key = f"{method} {path}?{scope.get('query_string', b'').decode()}"
        n = self.seen[key]
        self.seen[key] += 1
        if plan.latency:
            await asyncio.sleep(plan.latency * (0.5 + _draw(plan.seed, "latency", key, n)))
        if plan.forbids(method, path):
            self.stats["forbidden"] += 1
            await self.error(403)(scope, receive, send)
            return
        if plan.error_rate and _draw(plan.seed, "error", key, n) < plan.error_rate:
            self.stats["server_error"] += 1
            status = (500, 502, 503)[int(_draw(plan.seed, "status", key, n) * 3)]
            await self.error(status)(scope, receive, send)
            return
        if plan.truncate_rate and _draw(plan.seed, "truncate", key, n) < plan.truncate_rate:
            await self._truncated(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _truncated(self, scope: Scope, receive: Receive, send: Send) -> None:
        def cut(start: Message, body: bytes) -> bytes:
            if start.get("status", 200) < 300 and len(body) > 1:
                self.stats["truncated"] += 1
                return body[: len(body) // 2]
            return body

        await rewrite_body(self.app, scope, receive, send, cut)


def _every_answer(start: Message) -> bool:
    return True


async def rewrite_body(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    edit: Callable[[Message, bytes], bytes],
    *,
    wanted: Callable[[Message], bool] = _every_answer,
) -> None:
    """Run `app`, holding back the body of an answer whose start `wanted` accepts and sending `edit(start, body)`
    instead, with its `content-length` set to match; other answers stream through untouched. The one body
    rewriter of the simulators' middlewares (served origins, truncation faults)."""
    start: Message = {}
    chunks: list[bytes] = []
    held = False

    async def holding(message: Message) -> None:
        nonlocal start, held
        if message["type"] == "http.response.start":
            start, held = message, wanted(message)
            if not held:
                await send(message)
            return
        if not held or message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = edit(start, b"".join(chunks))
        headers = MutableHeaders(raw=list(start.get("headers", [])))
        headers["content-length"] = str(len(body))
        await send({**start, "headers": headers.raw})
        await send({"type": "http.response.body", "body": body})

    await app(scope, receive, holding)
