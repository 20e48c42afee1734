"""What a connector sends as `Authorization`: a fixed token, or a short-lived one minted on demand.

    StaticCredential   a long-lived token (GitHub PAT, Okta SSWS): the same header for ever
    MintedCredential   base of the app modes (GitHub App, Okta service app): `mint()` asks the vendor for a token;
                       it is cached process-wide (sessions come and go per activity) until `REFRESH_MARGIN`
                       before it expires, and minted again at once when the vendor answers 401 to it

The shared HTTP layer asks `authorization(method, path)` before every request, so a token that expires in the
middle of a scan is replaced without a failed request. Token values never reach a log or an error: errors name
the tenant and the credential's reference (`describe`), never what it resolved to.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from mendflow.errors import AuthError, ConnectionProblem
from mendflow.redaction import register_secret

REFRESH_MARGIN = 300.0
"""Mint a new token this many seconds before the old one expires (GitHub and Okta tokens last an hour)."""


class Credential(Protocol):
    """What the HTTP layer needs from any auth mode."""

    def describe(self) -> str:
        """A safe name for errors: tenant and secret reference, never a value."""
        ...

    async def authorization(self, method: str, path: str) -> str:
        """The `Authorization` header value for this request."""
        ...

    def refused(self, header: str) -> bool:
        """The vendor answered 401 to `header`: forget it; True when a retry with a new token can help."""
        ...


@dataclass(frozen=True)
class StaticCredential:
    """A long-lived token sent as `scheme token`."""

    header: str
    name: str

    def describe(self) -> str:
        return self.name

    async def authorization(self, method: str, path: str) -> str:
        return self.header

    def refused(self, header: str) -> bool:
        return False


@dataclass(frozen=True)
class Minted:
    """One short-lived token and when it stops working."""

    header: str
    expires_at: float
    """UTC epoch seconds."""
    granted: frozenset[str] = frozenset()
    """What the vendor says the token may do (GitHub `permissions`, Okta `scope`)."""


_CACHE: dict[tuple[str, ...], Minted] = {}
"""Process-wide: every session of a worker reuses the token until shortly before it expires."""


def forget_minted_tokens() -> None:
    """Drop every cached token (tests; a worker never needs to)."""
    _CACHE.clear()


class MintedCredential:
    """Caching, refresh and locking for the app modes; subclasses say how to mint and which cache slot to use."""

    clock = staticmethod(time.time)

    def __init__(self, *, tenant: str, reference: str, base_url: str) -> None:
        self.tenant = tenant
        self.reference = reference
        self.base_url = base_url.rstrip("/")
        self._lock = asyncio.Lock()
        self.minted_count = 0

    def describe(self) -> str:
        return f"tenant {self.tenant} (credential {self.reference})"

    def slot(self, method: str, path: str) -> tuple[str, ...]:
        """The cache key of the token this request needs (Okta: one per scope set)."""
        return (self.tenant, self.reference)

    async def mint(self, method: str, path: str) -> Minted:  # pragma: no cover - abstract
        raise NotImplementedError

    async def current(self, method: str, path: str) -> Minted:
        key = self.slot(method, path)
        found = _CACHE.get(key)
        if found is not None and found.expires_at - REFRESH_MARGIN > self.clock():
            return found
        async with self._lock:
            found = _CACHE.get(key)
            if found is None or found.expires_at - REFRESH_MARGIN <= self.clock():
                found = await self.mint(method, path)
                register_secret(found.header.partition(" ")[2])
                _CACHE[key] = found
                self.minted_count += 1
            return found

    async def authorization(self, method: str, path: str) -> str:
        return (await self.current(method, path)).header

    def refused(self, header: str) -> bool:
        stale = [key for key, minted in _CACHE.items() if minted.header == header]
        for key in stale:
            del _CACHE[key]
        return bool(stale)

    def failure(self, what: str, response: httpx.Response | None = None, *, status: int = 401) -> AuthError:
        """One clear error naming the tenant and the credential reference; the vendor's words, never a value."""
        said = ""
        if response is not None:
            status = response.status_code
            try:
                body = response.json()
            except ValueError:
                body = {}
            if isinstance(body, dict):
                words = body.get("error_description") or body.get("message") or body.get("error")
                said = f": the vendor said {str(words)[:200]!r}" if words else ""
        return AuthError(f"{self.describe()}: {what}{said}", status=status, method="POST", path="(token)")

    def unavailable(self, what: str) -> ConnectionProblem:
        """The token endpoint could not answer (transport failure, 5xx): retryable, unlike a refused credential."""
        return ConnectionProblem(f"{self.describe()}: {what}; the scan or action is retried")

    async def send(self, client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request to the vendor's token service; no answer or a 5xx is a ConnectionProblem naming the
        credential (retried by the activity), never an AuthError (which stops retrying)."""
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as err:
            raise self.unavailable(f"could not reach {url} to get a token ({type(err).__name__})") from None
        if response.status_code >= 500:
            raise self.unavailable(f"{url} answered HTTP {response.status_code} when asked for a token")
        return response


@functools.lru_cache(maxsize=32)
def load_signing_key(text: str) -> tuple[Any, str, str | None]:
    """A PEM or JWK private key → (key, JWS algorithm, the JWK's `kid`). Cached: parsing an RSA key checks it
    (~0.1 s), and every mint signs with the same key."""
    if text.lstrip().startswith("{"):
        jwk = json.loads(text)
        if jwk.get("kty") == "RSA":
            return RSAAlgorithm.from_jwk(jwk), "RS256", jwk.get("kid")
        if jwk.get("kty") == "EC":
            return ECAlgorithm.from_jwk(jwk), "ES256", jwk.get("kid")
        raise ValueError("unsupported JWK key type")
    key = load_pem_private_key(text.encode(), password=None)
    if isinstance(key, rsa.RSAPrivateKey):
        return key, "RS256", None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key, "ES256", None
    raise ValueError("unsupported PEM key type")
