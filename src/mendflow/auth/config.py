"""The `security:` section of mendflow.yaml: the API's signing key, the keys workers trust, OIDC.

The API reads `signing_key`; workers read `trusted_keys`. Keeping both in one section lets one file serve a
single-host install, while at scale the API's file has the key and the workers' file only the public half.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mendflow.auth.proof import public_key
from mendflow.secrets import SecretRef

DEFAULT_ALGORITHMS = ("RS256", "ES256", "EdDSA")


class OidcSettings(BaseModel):
    """Bearer JWTs from one OIDC issuer, verified against its JWKS."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str
    """Must equal the token's `iss`."""
    audience: str
    """Must be in the token's `aud` (the client id registered for mendflow)."""
    jwks_url: str
    """Where the issuer publishes its signing keys (`…/.well-known/jwks.json`)."""
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    """Allow-list; `none` and HMAC algorithms are never accepted whatever is configured."""
    identity_claim: str = "preferred_username"
    """Which claim names the person (must be a person of `rbac.people`)."""
    roles: dict[str, str] = Field(default_factory=dict)
    """mendflow person → role (viewer, operator, approver, admin); people not listed get `default_role`."""
    default_role: str = "viewer"
    leeway: int = 30
    """Seconds of clock skew tolerated on `exp`/`nbf`/`iat`."""

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [a for a in value if a.lower() == "none" or a.upper().startswith("HS")]
        if bad:
            raise ValueError(f"algorithms {bad} are not allowed (only asymmetric signatures)")
        return value


class SecuritySettings(BaseModel):
    """Keys and identity providers of the trust boundary (see docs/security.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    signing_key: SecretRef | None = None
    """The API's Ed25519 private key (one line, base64url of the 32-byte seed). `mendflow up` generates one in the
    data directory when unset."""
    signing_key_id: str | None = None
    """Key id to sign with (default: derived from the public key)."""
    trusted_keys: dict[str, str] = Field(default_factory=dict)
    """Workers: key id → base64url Ed25519 public key whose signed requests they accept. Keep the old key here
    during a rotation (docs/security.md)."""
    oidc: OidcSettings | None = None

    @field_validator("trusted_keys")
    @classmethod
    def _keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key_id, text in value.items():
            try:
                public_key(text)
            except ValueError as err:
                raise ValueError(f"trusted key {key_id!r}: {err}") from None
        return value


__all__ = ["DEFAULT_ALGORITHMS", "OidcSettings", "SecuritySettings"]
