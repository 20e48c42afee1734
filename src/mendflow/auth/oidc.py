"""OIDC bearer JWTs: signature by a key of the issuer's JWKS, then issuer, audience, expiry, algorithm.

PyJWT does the JOSE work (a maintained library; we never parse JWTs ourselves). The algorithm allow-list is
ours: `none` and HMAC are refused whatever the token's header or the config says, so a token cannot pick its
own verification.
"""

from __future__ import annotations

import asyncio
from typing import Any

import jwt

from mendflow.auth.config import OidcSettings
from mendflow.errors import TokenRejected

_NEVER = {"none", "HS256", "HS384", "HS512"}


class OidcVerifier:
    """Verifies bearer JWTs of one issuer; the JWKS is fetched on first use and cached (refetched for new kids)."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self.algorithms = [a for a in settings.algorithms if a not in _NEVER]
        self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300, timeout=5)

    def verify_sync(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("not a JWT") from None
        alg = str(header.get("alg", ""))
        if alg not in self.algorithms:
            raise TokenRejected(f"algorithm {alg[:20]!r} is not allowed (allowed: {', '.join(self.algorithms)})")
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError:
            raise TokenRejected("the issuer's JWKS cannot be fetched") from None
        except jwt.PyJWTError:
            raise TokenRejected("signed by a key the issuer does not publish") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=self.algorithms,
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("the token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("the token is from another issuer") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("the signature does not verify") from None
        except jwt.PyJWTError as err:
            raise TokenRejected(f"invalid token ({type(err).__name__})") from None
        return claims

    async def verify(self, token: str) -> dict[str, Any]:
        """The verified claims (JWKS fetches block, so this runs in a thread)."""
        return await asyncio.to_thread(self.verify_sync, token)


__all__ = ["OidcVerifier", "TokenRejected"]
