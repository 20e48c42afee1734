"""Who is calling the API: a personal token or an OIDC JWT becomes a `Principal` (person, role, method).

The person must be one of the RBAC config's people: their groups are looked up there (server side), never taken
from the request. Repeated failures from one client are slowed down (`FailureThrottle`).
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from mendflow.auth.oidc import OidcVerifier, TokenRejected
from mendflow.auth.tokens import PREFIX, Role, TokenStore
from mendflow.errors import Unauthenticated
from mendflow.models import AuthMethod
from mendflow.rbac import RbacConfig


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a person of the RBAC config, their role at the API and how they proved it."""

    person: str
    role: Role
    auth: AuthMethod
    credential: str = ""
    """Token id (`tok_…`) or the JWT's `sub`: which credential was used, for the audit trail."""


class Authenticator:
    """`Authorization: Bearer …` → Principal, or `Unauthenticated` saying why (without quoting the credential)."""

    def __init__(
        self,
        *,
        rbac: RbacConfig,
        tokens: TokenStore | None,
        oidc: OidcVerifier | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rbac = rbac
        self.tokens = tokens
        self.oidc = oidc
        self.clock = clock

    async def authenticate(self, header: str | None) -> Principal:
        scheme, _, credential = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthenticated("missing credential: send `Authorization: Bearer <token>`")
        credential = credential.strip()
        if credential.startswith(PREFIX):
            principal = self._token(credential)
        elif self.oidc is not None:
            principal = await self._jwt(credential)
        else:
            raise Unauthenticated("unknown token")
        if principal.person not in self.rbac.people:
            raise Unauthenticated(f"{principal.person[:80]} is not a person of this mendflow's RBAC config", status=403)
        return principal

    def _token(self, token: str) -> Principal:
        info = self.tokens.lookup(token) if self.tokens is not None else None
        if info is None:
            raise Unauthenticated("unknown token")
        state = info.state(self.clock())
        if state != "active":
            raise Unauthenticated(f"token {info.token_id} is {state}")
        return Principal(person=info.person, role=info.role, auth=AuthMethod.token, credential=info.token_id)

    async def _jwt(self, token: str) -> Principal:
        assert self.oidc is not None
        try:
            claims = await self.oidc.verify(token)
        except TokenRejected as err:
            raise Unauthenticated(f"OIDC token refused: {err}") from None
        settings = self.oidc.settings
        person = claims.get(settings.identity_claim)
        if not isinstance(person, str) or not person:
            raise Unauthenticated(f"OIDC token has no {settings.identity_claim!r} claim", status=403)
        role = Role(settings.roles.get(person, settings.default_role))
        return Principal(person=person, role=role, auth=AuthMethod.oidc, credential=str(claims.get("sub", ""))[:200])


class FailureThrottle:
    """At most `limit` authentication failures per client in `window` seconds; beyond that, refuse at once (429)."""

    def __init__(
        self,
        *,
        limit: int = 5,
        window: float = 60.0,
        clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clients = clients
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str) -> deque[float]:
        now = self.clock()
        failures = self._failures.get(client)
        if failures is None:
            return deque()
        while failures and now - failures[0] > self.window:
            failures.popleft()
        return failures

    def retry_after(self, client: str) -> float:
        """Seconds to wait before this client may try again (0 when it may try now)."""
        failures = self._recent(client)
        if len(failures) < self.limit:
            return 0.0
        return max(self.window - (self.clock() - failures[0]), 1.0)

    def failed(self, client: str) -> None:
        failures = self._recent(client)
        failures.append(self.clock())
        self._failures[client] = failures
        self._failures.move_to_end(client)
        while len(self._failures) > self.clients:
            self._failures.popitem(last=False)


__all__ = ["Authenticator", "FailureThrottle", "Principal"]
