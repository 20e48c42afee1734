"""The one HTTP layer every connector uses: auth, pagination, rate limits, pacing, retries, budgets, safe errors.

Written once so that vendor connectors only describe *what* to read and write. Vendor differences (which
headers signal a rate limit, how they group endpoints into buckets, how many requests may be in flight) are small
policy objects (`GITHUB_LIMITS`, `OKTA_LIMITS`), not copies of this code.

What a request goes through, in order:
1. the request budget of the scan (exceeding it raises `RequestBudgetExceeded`, naming the budget);
2. proactive pacing: when the bucket's remaining requests run low relative to the time left before its reset,
   wait a little (or until the reset) instead of running into the limit;
3. the concurrency gate (per tenant; capped at the vendor's documented ceiling);
4. the answer: rate-limit signals wait as the vendor says; 5xx, timeouts, dropped connections and truncated or
   invalid JSON bodies are retried with exponential backoff and full jitter; other 4xx are raised at once.

Several processes calling one tenant share its windows through `sharing_windows(...)` (the seam: a
`SharedWindows` that the worker backs with the database): before each request, one is taken from the shared
window, and answers report the vendor's figures back, so all workers together stay within the vendor's limit.

Long waits (a vendor's rate-limit window can be 15 minutes) call back whoever runs the request, once per
`wait_tick` of waiting: a Temporal activity heartbeats from `heartbeat_while_waiting`, so a wait longer than its
heartbeat timeout does not kill the attempt, while this module stays free of Temporal. `WORST_REQUEST_SECONDS`
is the longest one request can take here; activity timeouts are sized from it.
"""

from __future__ import annotations

import asyncio
import functools
import random
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from mendflow.connectors.credentials import Credential, StaticCredential
from mendflow.connectors.transport import TRANSPORT_ERRORS, Exchange, vendor_transport
from mendflow.errors import (
    AuthError,
    ConnectionProblem,
    InputError,
    MendflowError,
    MissingPermission,
    RateLimited,
    VendorError,
)
from mendflow.telemetry import get_logger
from mendflow.telemetry.vendor_calls import observe_vendor_call

if TYPE_CHECKING:
    from mendflow.config import TenantConnection

log = get_logger(__name__)

_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="([^"]+)"')


class RequestBudgetExceeded(MendflowError):
    """A scan used up the requests it was allowed; retrying cannot help (raise the budget instead)."""


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one reads the CA bundle (~25 ms), too slow per call."""
    return ssl.create_default_context()


def parse_link_header(value: str) -> dict[str, str]:
    """`Link: <url>; rel="next", …` → {"next": url, …} (RFC 8288, as GitHub and Okta send it)."""
    return {rel: url for url, rel in _LINK.findall(value)}


def one_bucket(path: str) -> str:
    """GitHub counts every REST call against one `core` limit."""
    return "core"


_OKTA_COLLECTIONS = frozenset(
    {"users", "groups", "apps", "policies", "rules", "api-tokens", "roles", "factors", "grants", "assignees"}
)


def okta_bucket(path: str) -> str:
    """Okta limits each endpoint separately: `/api/v1/users/00u1/factors` counts as `/api/v1/users/{id}/factors`."""
    parts = path.split("?")[0].strip("/").split("/")
    out = []
    for i, part in enumerate(parts):
        after_collection = i > 2 and parts[i - 1] in _OKTA_COLLECTIONS and part != "lifecycle"
        out.append("{id}" if after_collection and part not in _OKTA_COLLECTIONS else part)
    return "/" + "/".join(out)


@dataclass
class RateState:
    """What the vendor last said about one bucket, minus the requests we have sent since."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None
    """UTC epoch seconds when the bucket refills."""


@dataclass(frozen=True)
class RateLimitPolicy:
    """How a vendor signals "slow down", how long to wait, and when to slow down before being told to.

    GitHub (the defaults): 403/429 with `x-ratelimit-remaining: 0` (wait until `x-ratelimit-reset`), or a
    secondary limit (403/429 with `retry-after`, else at least 60 s). Okta (`OKTA_LIMITS`): 429 with
    `X-Rate-Limit-Reset`, per endpoint bucket, no `Retry-After`.
    """

    limit_header: str = "x-ratelimit-limit"
    remaining_header: str = "x-ratelimit-remaining"
    reset_header: str = "x-ratelimit-reset"
    limited_statuses: tuple[int, ...] = (403, 429)
    reset_on_any_limit: bool = False
    """Okta: every 429 (bucket or concurrency) waits for the reset; GitHub only when remaining is 0."""
    secondary_min_wait: float = 60.0
    reset_margin: float = 0.25
    """Reset times are whole seconds and clocks differ: wait this much past the announced reset."""
    max_wait: float = 900.0
    """Longer waits fail the call (retryable): the activity's retry policy takes over, not a blocked worker."""
    max_limited_retries: int = 8
    pace_below: float = 0.1
    """Start pacing when fewer than this share of the bucket's requests remain before its reset."""
    bucket: Callable[[str], str] = one_bucket
    concurrency_cap: int = 100
    """The vendor's ceiling for simultaneous requests (GitHub: 100 per token; Okta: 75 per org)."""

    def wait_seconds(self, response: httpx.Response, *, now: float) -> float | None:
        """Seconds to wait before retrying, or None if this response is not a rate-limit signal."""
        if response.status_code not in self.limited_statuses:
            return None
        retry_after = response.headers.get("retry-after")
        if retry_after is not None and retry_after.isdigit():
            return float(retry_after)
        remaining = response.headers.get(self.remaining_header)
        reset = response.headers.get(self.reset_header)
        if reset is not None and reset.isdigit() and (remaining == "0" or self.reset_on_any_limit):
            return max(0.0, float(reset) - now) + self.reset_margin
        if response.status_code == 429 or "secondary rate limit" in response.text.lower():
            return self.secondary_min_wait
        return None

    def observe(self, state: RateState, response: httpx.Response) -> None:
        """Fold a response's rate-limit headers into the bucket's state (newest window wins)."""
        remaining, reset = response.headers.get(self.remaining_header), response.headers.get(self.reset_header)
        if remaining is None or reset is None or not remaining.isdigit() or not reset.isdigit():
            return
        limit = response.headers.get(self.limit_header)
        new_reset, new_remaining = float(reset), int(remaining)
        if state.reset is None or new_reset > state.reset:
            state.reset, state.remaining = new_reset, new_remaining
        elif new_reset == state.reset:
            # Answers arrive out of order under concurrency: the lowest count is the freshest.
            state.remaining = new_remaining if state.remaining is None else min(state.remaining, new_remaining)
        if limit is not None and limit.isdigit():
            state.limit = int(limit)

    def window(self, response: httpx.Response) -> tuple[int, int, float] | None:
        """(limit, remaining, reset) as the answer reports its bucket's window, or None if it says nothing."""
        values = [response.headers.get(h) for h in (self.limit_header, self.remaining_header, self.reset_header)]
        if not all(v is not None and v.isdigit() for v in values):
            return None
        limit, remaining, reset = (int(v) for v in values if v is not None)
        return limit, remaining, float(reset)

    def pace_seconds(self, state: RateState, *, now: float) -> float:
        """How long to hold the next request so the bucket lasts until its reset (0: send now)."""
        if state.remaining is None or state.reset is None:
            return 0.0
        window = state.reset - now
        if window <= 0:
            return 0.0
        if state.remaining <= 0:
            return min(window + self.reset_margin, self.max_wait)
        if state.limit and state.remaining < state.limit * self.pace_below:
            return min(window / state.remaining, self.max_wait)
        return 0.0


def worst_case_seconds(limits: RateLimitPolicy, retries: RetryPolicy, timeout: float) -> float:
    """The longest one request can take in this layer: every rate-limit wait it accepts, at its longest, plus every
    retry of a timed-out attempt with its longest backoff."""
    return limits.max_limited_retries * limits.max_wait + retries.attempts * (timeout + retries.max_delay)


GITHUB_LIMITS = RateLimitPolicy()
OKTA_LIMITS = RateLimitPolicy(
    limit_header="x-rate-limit-limit",
    remaining_header="x-rate-limit-remaining",
    reset_header="x-rate-limit-reset",
    limited_statuses=(429,),
    reset_on_any_limit=True,
    bucket=okta_bucket,
    concurrency_cap=75,
)


_on_wait: ContextVar[Callable[[float], None] | None] = ContextVar("mendflow_http_on_wait", default=None)


@contextmanager
def heartbeat_while_waiting(beat: Callable[[float], None]) -> Iterator[None]:
    """While the block runs, every wait of this layer calls `beat(seconds_left)` at least once per `wait_tick`.

    A context variable, so it reaches every request made by the task (and the tasks it starts) without being
    passed through connectors and sessions.
    """
    token = _on_wait.set(beat)
    try:
        yield
    finally:
        _on_wait.reset(token)


class SharedWindows(Protocol):
    """A tenant's vendor windows shared with other processes (the worker's is in the database)."""

    async def take(self, bucket: str) -> float:
        """Take one request of the bucket's window: 0 when taken, else the seconds to wait before asking again."""
        ...

    async def report(self, bucket: str, *, limit: int, remaining: int, reset: float) -> None:
        """What an answer said about the bucket's window."""
        ...

    async def unmetered(self, bucket: str) -> None:
        """An answer said nothing about the bucket's window (no rate-limit headers): nothing to wait for."""
        ...

    async def unanswered(self, bucket: str) -> None:
        """A request got no answer at all (connection refused, timeout): it reported nothing, so the next one may
        ask at once rather than wait out a lost probe."""
        ...


_shared: ContextVar[SharedWindows | None] = ContextVar("mendflow_http_shared_windows", default=None)


@contextmanager
def sharing_windows(windows: SharedWindows | None) -> Iterator[None]:
    """While the block runs, every request of this layer takes from and reports to `windows` (None: this
    process's own view only). A context variable, like `heartbeat_while_waiting`: set once around an activity."""
    token = _shared.set(windows)
    try:
        yield
    finally:
        _shared.reset(token)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter for 5xx, timeouts, dropped connections and broken JSON bodies."""

    attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


WORST_REQUEST_SECONDS = max(worst_case_seconds(p, RetryPolicy(), 30.0) for p in (GITHUB_LIMITS, OKTA_LIMITS))
"""Default policies (8 rate-limit waits of up to 900 s, 6 attempts of 30 s): 7,410 s for one request."""


@dataclass
class VendorHttp:
    """An authenticated, rate-limit-aware async client for one tenant of one vendor."""

    base_url: str
    auth_header: str
    """The full `Authorization` header value; never logged, never put in an error. Ignored with `credential`."""
    vendor: str
    credential: Credential | None = None
    """Asked for the `Authorization` header before every request (app modes mint and refresh short-lived tokens);
    None: `auth_header` is sent as is."""
    extra_headers: dict[str, str] = field(default_factory=dict)
    rate_limits: RateLimitPolicy = field(default_factory=RateLimitPolicy)
    retries: RetryPolicy = field(default_factory=RetryPolicy)
    max_concurrency: int = 8
    """Requests in flight at once for this tenant; at most `rate_limits.concurrency_cap`."""
    request_budget: int | None = None
    """Most requests this client may send (retries included); None = unlimited."""
    timeout: float = 30.0
    sleep: Callable[[float], Any] = asyncio.sleep
    clock: Callable[[], float] = time.time
    wait_tick: float = 1.0
    """During a long wait, the waiter (see `heartbeat_while_waiting`) is called back at least this often."""
    transport: httpx.AsyncBaseTransport | None = None
    """Only for unit tests of this layer (httpx.MockTransport); connectors use real sockets."""
    requests_made: int = 0
    paced_seconds: float = 0.0
    """Total time spent pacing proactively (not counting waits the vendor asked for)."""
    limited_seconds: float = 0.0
    """Total time requests spent waiting because the vendor answered "rate limited" (summed over requests)."""
    rate_waited_seconds: float = 0.0
    """Time during which at least one request waited on a rate limit (pacing, shared windows or the vendor's
    answer), as a person watching the scan sees it: concurrent waits overlap and count once."""
    _waits_until: float = 0.0
    _exchange: Exchange | None = None
    _gate: asyncio.Semaphore | None = None
    _rates: dict[str, RateState] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cap = self.rate_limits.concurrency_cap
        if not 1 <= self.max_concurrency <= cap:
            raise InputError(
                f"{self.vendor}: max_concurrency {self.max_concurrency} is outside 1..{cap} "
                f"({self.vendor} allows at most {cap} simultaneous requests)"
            )
        if self.request_budget is not None and self.request_budget < 1:
            raise InputError(f"{self.vendor}: request_budget must be at least 1, not {self.request_budget}")

    async def __aenter__(self) -> VendorHttp:
        self._exchange = Exchange(
            base_url=self.base_url,
            headers={"Accept": "application/json", **self.extra_headers}
            | ({} if self.credential else {"Authorization": self.auth_header}),
            timeout=self.timeout,
            transport=self.transport
            or vendor_transport(self.base_url, _tls_context(), max_connections=self.max_concurrency),
        )
        self._gate = asyncio.Semaphore(self.max_concurrency)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._exchange is not None:
            await self._exchange.transport.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        allow_404: bool = False,
    ) -> httpx.Response:
        """Send one request, retrying what is worth retrying; raise a mendflow error for the rest."""
        response, _ = await self._send(method, path, json=json, params=params, allow_404=allow_404, parse=False)
        return response

    def _count_rate_wait(self, seconds: float) -> None:
        """Add the part of the wait [now, now + seconds] not already covered by an earlier (concurrent) one."""
        start = self.clock()
        end = start + seconds
        if end > self._waits_until:
            self.rate_waited_seconds += end - max(start, self._waits_until)
            self._waits_until = end

    async def _pace(self, bucket: str) -> None:
        state = self._rates.setdefault(bucket, RateState())
        wait = self.rate_limits.pace_seconds(state, now=self.clock())
        if wait > 0:
            self.paced_seconds += wait
            self._count_rate_wait(wait)
            await self._wait(wait)
            if state.reset is not None and self.clock() >= state.reset:
                state.remaining = None  # the window rolled over; the next answer says how much is left
        if state.remaining is not None:
            state.remaining -= 1  # count requests in flight before their answers arrive

    async def _take_shared(self, shared: SharedWindows | None, bucket: str) -> None:
        """Wait until the window shared with the other workers grants this request (heartbeating meanwhile)."""
        if shared is None:
            return
        while (wait := await shared.take(bucket)) > 0:
            self.paced_seconds += wait
            self._count_rate_wait(min(wait, self.rate_limits.max_wait))
            await self._wait(min(wait, self.rate_limits.max_wait))

    async def _report_shared(self, shared: SharedWindows, bucket: str, response: httpx.Response) -> None:
        window = self.rate_limits.window(response)
        if window is None:
            await shared.unmetered(bucket)
            return
        limit, remaining, reset = window
        await shared.report(bucket, limit=limit, remaining=remaining, reset=reset)

    async def _wait(self, seconds: float) -> None:
        """Sleep `seconds`; with a waiter registered, in slices of `wait_tick`, calling it before each slice."""
        beat = _on_wait.get()
        if beat is None:
            await self.sleep(seconds)
            return
        left = seconds
        while left > 0:
            beat(left)
            step = min(left, self.wait_tick)
            await self.sleep(step)
            left -= step
        beat(0.0)

    async def _answer(self, method: str, path: str, *, json: Any, params: dict[str, Any] | None) -> httpx.Response:
        """One HTTP exchange; with a waiter registered, it is called back every `wait_tick` while the vendor is
        slow to answer (up to `timeout`), so waiting for an answer counts as waiting too."""
        assert self._exchange is not None
        beat = _on_wait.get()
        authorization = None
        if self.credential is not None:
            authorization = await self.credential.authorization(method, httpx.URL(path).path)
        call = self._exchange.send(method, path, json=json, params=params, authorization=authorization)
        if beat is None:
            return await call
        exchange = asyncio.ensure_future(call)
        try:
            while True:
                done, _ = await asyncio.wait({exchange}, timeout=self.wait_tick)
                if done:
                    return exchange.result()
                beat(0.0)
        finally:
            exchange.cancel()  # a no-op once it is done; stops the request if our caller was cancelled

    def _spend(self, method: str, shown: str) -> None:
        if self.request_budget is not None and self.requests_made >= self.request_budget:
            raise RequestBudgetExceeded(
                f"{self.vendor} request budget of {self.request_budget} requests for {self.base_url} is used up "
                f"(at {method} {shown}); raise the tenant's request_budget or scan less"
            )
        self.requests_made += 1

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        allow_404: bool = False,
        parse: bool = True,
    ) -> tuple[httpx.Response, Any]:
        assert self._exchange is not None and self._gate is not None, "use `async with VendorHttp(...)`"
        shown = path.split("?")[0]
        if "://" in shown:
            shown = httpx.URL(shown).path
        bucket = self.rate_limits.bucket(shown)
        shared = _shared.get()
        with observe_vendor_call(self.vendor, method, shown) as call:
            attempt = 0
            limited = 0
            reauthorized = False
            while True:
                self._spend(method, shown)
                await self._pace(bucket)
                await self._take_shared(shared, bucket)
                try:
                    async with self._gate:
                        response = await self._answer(method, path, json=json, params=params)
                except TRANSPORT_ERRORS as err:
                    call.unanswered()
                    if shared is not None:
                        await shared.unanswered(bucket)
                    if attempt + 1 >= self.retries.attempts:
                        raise ConnectionProblem(
                            f"{self.vendor} API at {self.base_url} did not answer {method} {shown} "
                            f"({type(err).__name__}); check the base URL and that the service is up"
                        ) from None
                    await self._wait(self.retries.delay(attempt))
                    attempt += 1
                    continue
                call.answered(response.status_code)
                if response.status_code == 401 and self.credential is not None and not reauthorized:
                    # A minted token expired or was revoked under us: mint a new one and ask again, once.
                    reauthorized = True
                    if self.credential.refused(response.request.headers.get("authorization", "")):
                        continue
                self.rate_limits.observe(self._rates[bucket], response)
                if shared is not None:
                    await self._report_shared(shared, bucket, response)
                wait = self.rate_limits.wait_seconds(response, now=self.clock())
                if wait is not None:
                    if wait > self.rate_limits.max_wait or limited >= self.rate_limits.max_limited_retries:
                        raise RateLimited(
                            f"rate limited for {wait:.0f}s; giving up this attempt",
                            status=response.status_code,
                            method=method,
                            path=shown,
                        )
                    log.warning("rate limited", vendor=self.vendor, path=shown, wait_s=round(wait, 1))
                    call.rate_limited(wait)
                    self.limited_seconds += wait
                    self._count_rate_wait(wait)
                    await self._wait(wait)
                    self._rates[bucket].remaining = None  # we waited for the reset; the next answer says what is left
                    limited += 1
                    continue
                if response.status_code >= 500 and attempt + 1 < self.retries.attempts:
                    await self._wait(self.retries.delay(attempt))
                    attempt += 1
                    continue
                checked = self._check(response, method, shown, allow_404=allow_404)
                if not parse or checked.status_code in (204, 404) or not checked.content:
                    return checked, None
                try:
                    return checked, checked.json()
                except ValueError:
                    # A body cut off in transit (or garbled by a proxy) is transient: ask again.
                    if attempt + 1 >= self.retries.attempts:
                        raise VendorError(
                            "answer is not valid JSON (truncated?) after retries",
                            status=checked.status_code,
                            method=method,
                            path=shown,
                        ) from None
                    await self.sleep(self.retries.delay(attempt))
                    attempt += 1

    def _check(self, response: httpx.Response, method: str, path: str, *, allow_404: bool) -> httpx.Response:
        status = response.status_code
        if status < 400 or (status == 404 and allow_404):
            return response
        message = _vendor_message(response)
        needs = _needed_permission(response, self.vendor, method, path) if status == 403 else None
        if needs is not None:
            raise MissingPermission(f"{self.vendor} refused: {message}", needs=needs, method=method, path=path)
        if status in (401, 403):
            raise AuthError(
                f"{self.vendor} refused the credentials or lacks a permission: {message}",
                status=status,
                method=method,
                path=path,
            )
        raise VendorError(message, status=status, method=method, path=path)

    async def get_json(self, path: str, *, params: dict[str, Any] | None = None) -> Any:
        return (await self._send("GET", path, params=params))[1]

    async def get_optional(self, path: str, *, params: dict[str, Any] | None = None) -> Any | None:
        """GET that treats 404 as "no such object" (e.g. an unprotected branch)."""
        response, body = await self._send("GET", path, params=params, allow_404=True)
        return None if response.status_code == 404 else body

    async def pages(
        self, path: str, *, params: dict[str, Any] | None = None, items: str | None = None
    ) -> AsyncIterator[list[Any]]:
        """Yield each page of a paginated list, following `Link: rel="next"` until the last page. `items` names the
        key holding the list when the vendor wraps it in an object (GitHub's `{"total_count", "installations"}`)."""
        url: str | None = path
        query: dict[str, Any] | None = params
        while url is not None:
            response, body = await self._send("GET", url, params=query)
            if items is not None and isinstance(body, dict):
                body = body.get(items)
            if not isinstance(body, list):
                raise VendorError("expected a JSON list", status=response.status_code, method="GET", path=path)
            yield body
            url = parse_link_header(response.headers.get("link", "")).get("next")
            query = None  # the next link carries the query string
            if url is not None and not url.startswith(self.base_url.rstrip("/") + "/"):
                # Never send our credentials to a host the vendor's Link header points elsewhere to.
                raise VendorError(
                    "pagination link leaves the API base URL; refusing to follow it",
                    status=response.status_code,
                    method="GET",
                    path=path,
                )

    async def paginate(
        self, path: str, *, params: dict[str, Any] | None = None, items: str | None = None
    ) -> AsyncIterator[Any]:
        """Yield every item of a paginated list, page after page (`items`: see `pages`)."""
        async for page in self.pages(path, params=params, items=items):
            for item in page:
                yield item


_SCOPE = re.compile(r'scope="([^"]+)"')


def _needed_permission(response: httpx.Response, vendor: str, method: str, path: str) -> str | None:
    """What a 403 says is missing: GitHub's `x-accepted-github-permissions` (first alternative), Okta's
    `WWW-Authenticate` scope. Only what the vendor states: a 403 to an Okta SSWS token is about its admin's roles,
    not a scope, so the permission table is not consulted here."""
    accepted = str(response.headers.get("x-accepted-github-permissions", ""))
    if accepted:
        return accepted.split(";")[0].split(",")[0].strip().replace("=", ":")
    challenge = _SCOPE.search(response.headers.get("www-authenticate", ""))
    if challenge:
        return str(challenge.group(1))
    return None


def _vendor_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "error"
    if isinstance(body, dict):
        return str(body.get("message") or body.get("errorSummary") or body.get("error") or body)[:300]
    return str(body)[:300]


def tenant_http(
    connection: TenantConnection,
    credential: Credential,
    *,
    vendor: str,
    rate_limits: RateLimitPolicy,
    max_concurrency: int | None = None,
    default_concurrency: int = 8,
    extra_headers: dict[str, str] | None = None,
) -> VendorHttp:
    """A provider's client for one configured tenant: a long-lived token is sent as is, an app credential is asked
    before every request; the tenant's caps apply (every provider's `http` builds it here, with its own limits)."""
    return VendorHttp(
        base_url=connection.base_url,
        auth_header=credential.header if isinstance(credential, StaticCredential) else "",
        credential=None if isinstance(credential, StaticCredential) else credential,
        vendor=vendor,
        extra_headers=extra_headers or {},
        rate_limits=rate_limits,
        max_concurrency=max_concurrency or connection.max_concurrency or default_concurrency,
        request_budget=connection.request_budget,
    )
