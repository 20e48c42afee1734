"""Personal API tokens: `mfp_` + 256 random bits, shown once; only their sha256 is stored.

A token belongs to a person of the RBAC config and carries a role (viewer < operator < approver < admin) and an
expiry. The role says which API verbs it may call; RBAC still decides which campaigns the person may act on.
`TokenStore` is the interface; `StoredTokens` keeps them in the shared database (`mendflow.store`).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError

from mendflow.errors import InputError
from mendflow.redaction import register_secret
from mendflow.store import Database
from mendflow.store.schema import api_tokens

PREFIX = "mfp_"


class Role(StrEnum):
    """What a token may do at the API; each role includes the ones before it."""

    viewer = "viewer"
    """status."""
    operator = "operator"
    """+ pause, resume, abort, rollback, suppress (RBAC still applies)."""
    approver = "approver"
    """+ approve, reject."""
    admin = "admin"
    """+ everything, including token management through the API in the future."""

    def allows(self, needed: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(needed)


class TokenInfo(BaseModel):
    """A token as listed: never the token itself."""

    model_config = ConfigDict(frozen=True)

    token_id: str
    person: str
    role: Role
    name: str
    created_at: float
    expires_at: float
    revoked_at: float | None = None

    def state(self, now: float) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class TokenStore(Protocol):
    def create(self, *, person: str, role: Role, name: str, ttl_seconds: float) -> tuple[str, TokenInfo]: ...
    def lookup(self, token: str) -> TokenInfo | None: ...
    def list(self) -> list[TokenInfo]: ...
    def revoke(self, token_id: str) -> TokenInfo: ...


class StoredTokens:
    """`TokenStore` on the `api_tokens` table."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    def create(self, *, person: str, role: Role, name: str, ttl_seconds: float) -> tuple[str, TokenInfo]:
        """A new token (returned once, in clear) and its listing."""
        if ttl_seconds <= 0:
            raise InputError("a token's expiry must be in the future")
        token = PREFIX + secrets.token_urlsafe(32)
        register_secret(token)
        now = self.clock()
        info = TokenInfo(
            token_id="tok_" + secrets.token_hex(6),
            person=person,
            role=role,
            name=name,
            created_at=now,
            expires_at=now + ttl_seconds,
        )
        with self.db.write() as conn:
            try:
                conn.execute(sa.insert(api_tokens).values(digest=digest(token), **info.model_dump()))
            except IntegrityError:  # pragma: no cover - 48 random bits of id colliding
                raise InputError("token id collision; run the command again") from None
        return token, info

    def lookup(self, token: str) -> TokenInfo | None:
        """The token's listing if it exists (whatever its state); the caller checks expiry and revocation."""
        if not token.startswith(PREFIX) or len(token) > 200:
            return None
        with self.db.read() as conn:
            row = conn.execute(sa.select(api_tokens).where(api_tokens.c.digest == digest(token))).mappings().first()
        return _info(row) if row else None

    def list(self) -> list[TokenInfo]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(api_tokens).order_by(api_tokens.c.created_at)).mappings().all()
        return [_info(r) for r in rows]

    def revoke(self, token_id: str) -> TokenInfo:
        with self.db.write() as conn:
            done = conn.execute(
                sa.update(api_tokens)
                .where(api_tokens.c.token_id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
            row = conn.execute(sa.select(api_tokens).where(api_tokens.c.token_id == token_id)).mappings().first()
        if row is None:
            raise InputError(f"no token {token_id!r} (see `mendflow tokens list`)")
        if done.rowcount == 0:
            raise InputError(f"token {token_id} was already revoked")
        return _info(row)


def _info(row: sa.RowMapping) -> TokenInfo:
    return TokenInfo.model_validate({k: v for k, v in row.items() if k != "digest"})


__all__ = ["PREFIX", "Role", "StoredTokens", "TokenInfo", "TokenStore", "digest"]
