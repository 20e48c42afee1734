"""The one HTTP layer every connector uses: auth, pagination, rate limits, retries, safe errors.

Written once so that vendor connectors only describe *what* to read and write. Vendor differences (which
headers signal a rate limit, how pages link) are small policy objects, not copies of this code.
"""

from __future__ import annotations

import asyncio
import functools
import random
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from mendflow.errors import AuthError, ConnectionProblem, VendorError
from mendflow.telemetry import get_logger

log = get_logger(__name__)

_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="([^"]+)"')


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one reads the CA bundle (~25 ms), too slow per call."""
    return ssl.create_default_context()


def parse_link_header(value: str) -> dict[str, str]:
    """`Link: <url>; rel="next", …` → {"next": url, …} (RFC 8288, as GitHub and Okta send it)."""
    return {rel: url for url, rel in _LINK.findall(value)}


@dataclass(frozen=True)
class RateLimitPolicy:
    """How a vendor signals "slow down" and how long to wait.

    GitHub: 403/429 with `x-ratelimit-remaining: 0` (wait until `x-ratelimit-reset`), or a secondary limit
    (403/429 with `retry-after`, else at least 60 s).
    """

    remaining_header: str = "x-ratelimit-remaining"
    reset_header: str = "x-ratelimit-reset"
    limited_statuses: tuple[int, ...] = (403, 429)
    secondary_min_wait: float = 60.0
    max_wait: float = 900.0
    """Longer waits fail the call (retryable): the activity's retry policy takes over, not a blocked worker."""

    def wait_seconds(self, response: httpx.Response, *, now: float) -> float | None:
        """Seconds to wait before retrying, or None if this response is not a rate-limit signal."""
        if response.status_code not in self.limited_statuses:
            return None
        retry_after = response.headers.get("retry-after")
        if retry_after is not None and retry_after.isdigit():
            return float(retry_after)
        remaining = response.headers.get(self.remaining_header)
        reset = response.headers.get(self.reset_header)
        if remaining == "0" and reset is not None and reset.isdigit():
            return max(0.0, float(reset) - now) + 1.0
        if response.status_code == 429 or "secondary rate limit" in response.text.lower():
            return self.secondary_min_wait
        return None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter for 5xx, timeouts and dropped connections."""

    attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


@dataclass
class VendorHttp:
    """An authenticated, rate-limit-aware async client for one tenant of one vendor."""

    base_url: str
    auth_header: str
    """The full `Authorization` header value; never logged, never put in an error."""
    vendor: str
    extra_headers: dict[str, str] = field(default_factory=dict)
    rate_limits: RateLimitPolicy = field(default_factory=RateLimitPolicy)
    retries: RetryPolicy = field(default_factory=RetryPolicy)
    max_concurrency: int = 8
    timeout: float = 30.0
    sleep: Callable[[float], Any] = asyncio.sleep
    transport: httpx.AsyncBaseTransport | None = None
    """Only for unit tests of this layer (httpx.MockTransport); connectors use real sockets."""
    requests_made: int = 0
    _client: httpx.AsyncClient | None = None
    _gate: asyncio.Semaphore | None = None

    async def __aenter__(self) -> VendorHttp:
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": self.auth_header, "Accept": "application/json", **self.extra_headers},
            timeout=self.timeout,
            follow_redirects=False,
            transport=self.transport,
            verify=_tls_context(),
        )
        self._gate = asyncio.Semaphore(self.max_concurrency)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()

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
        assert self._client is not None and self._gate is not None, "use `async with VendorHttp(...)`"
        shown = path.split("?")[0]
        attempt = 0
        while True:
            try:
                async with self._gate:
                    self.requests_made += 1
                    response = await self._client.request(method, path, json=json, params=params)
            except (httpx.TimeoutException, httpx.TransportError) as err:
                if attempt + 1 >= self.retries.attempts:
                    raise ConnectionProblem(
                        f"{self.vendor} API at {self.base_url} did not answer {method} {shown} "
                        f"({type(err).__name__}); check the base URL and that the service is up"
                    ) from None
                await self.sleep(self.retries.delay(attempt))
                attempt += 1
                continue
            wait = self.rate_limits.wait_seconds(response, now=time.time())
            if wait is not None:
                if wait > self.rate_limits.max_wait or attempt + 1 >= self.retries.attempts + 2:
                    raise VendorError(
                        f"rate limited for {wait:.0f}s; giving up this attempt",
                        status=response.status_code,
                        method=method,
                        path=shown,
                    )
                log.warning("rate limited", vendor=self.vendor, path=shown, wait_s=round(wait, 1))
                await self.sleep(wait)
                attempt += 1
                continue
            if response.status_code >= 500 and attempt + 1 < self.retries.attempts:
                await self.sleep(self.retries.delay(attempt))
                attempt += 1
                continue
            return self._check(response, method, shown, allow_404=allow_404)

    def _check(self, response: httpx.Response, method: str, path: str, *, allow_404: bool) -> httpx.Response:
        status = response.status_code
        if status < 400 or (status == 404 and allow_404):
            return response
        message = _vendor_message(response)
        if status in (401, 403):
            raise AuthError(
                f"{self.vendor} refused the credentials or lacks a permission: {message}",
                status=status,
                method=method,
                path=path,
            )
        raise VendorError(message, status=status, method=method, path=path)

    async def get_json(self, path: str, *, params: dict[str, Any] | None = None) -> Any:
        return (await self.request("GET", path, params=params)).json()

    async def get_optional(self, path: str, *, params: dict[str, Any] | None = None) -> Any | None:
        """GET that treats 404 as "no such object" (e.g. an unprotected branch)."""
        response = await self.request("GET", path, params=params, allow_404=True)
        return None if response.status_code == 404 else response.json()

    async def paginate(self, path: str, *, params: dict[str, Any] | None = None) -> AsyncIterator[Any]:
        """Yield every item of a paginated list, following `Link: rel="next"` until the last page."""
        url: str | None = path
        query: dict[str, Any] | None = params
        while url is not None:
            response = await self.request("GET", url, params=query)
            body = response.json()
            if not isinstance(body, list):
                raise VendorError("expected a JSON list", status=response.status_code, method="GET", path=path)
            for item in body:
                yield item
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


def _vendor_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "error"
    if isinstance(body, dict):
        return str(body.get("message") or body.get("errorSummary") or body.get("error") or body)[:300]
    return str(body)[:300]
