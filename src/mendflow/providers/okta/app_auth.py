"""Okta OAuth 2.0 service-app auth: client id + private key → `private_key_jwt` assertion → scoped access token.

Okta's recipe (developer docs "Implement OAuth for Okta with a service app"): POST the org authorization server's
`/oauth2/v1/token` with `grant_type=client_credentials`, the wanted `scope`s, and a client assertion — a JWT with
`iss` = `sub` = client id, `aud` = the token endpoint's URL, a unique `jti` and a short `exp`, signed with the app's
private key (RS256 for RSA keys, ES256 for P-256 EC keys). The answer's `access_token` is sent as `Bearer` and
lasts `expires_in` seconds (an hour).

Least privilege: each request is sent with a token that holds only the scopes it needs (`permissions.py`):
one token with the read scopes of the scan, and one per `*.manage` scope, minted only when an action writes.
When the app was not granted a read scope, Okta refuses the whole token request (`invalid_scope`); the credential
then asks for each scope alone once, learns which are granted, and refuses requests needing the others locally
with a 403 that names the scope — the scan reports it as a coverage gap instead of failing.

DPoP: Okta's DPoP guide describes it as an app-level opt-in ("Require DPoP header in token requests"), not a
requirement of service apps; mendflow does not send DPoP proofs, and an app that requires them is reported with
that setting named.
"""

from __future__ import annotations

import uuid

import httpx
import jwt

from mendflow.connectors.credentials import Minted, MintedCredential, load_signing_key
from mendflow.connectors.permissions import needed
from mendflow.errors import InputError, MissingPermission
from mendflow.providers.okta.auth_config import OktaServiceAppAuth
from mendflow.providers.okta.permissions import READ_SCOPES

TOKEN_PATH = "/oauth2/v1/token"  # noqa: S105 - a URL path, not a secret
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300

_GRANTED: dict[tuple[str, str], frozenset[str]] = {}
"""(tenant, client id) → the read scopes Okta granted, learned after an `invalid_scope`."""


class OktaServiceCredential(MintedCredential):
    """Scoped access tokens of one Okta service app for one org."""

    def __init__(self, auth: OktaServiceAppAuth, *, tenant: str, base_url: str) -> None:
        super().__init__(tenant=tenant, reference=auth.private_key.ref, base_url=base_url)
        self.auth = auth
        self.token_url = f"{self.base_url}{TOKEN_PATH}"

    def describe(self) -> str:
        return f"tenant {self.tenant} (Okta client {self.auth.client_id}, key {self.reference})"

    def read_scopes(self) -> frozenset[str]:
        """The read scopes to ask for: those configured as granted, else those learned, else all the scan uses."""
        if self.auth.scopes is not None:
            return frozenset(READ_SCOPES) & frozenset(self.auth.scopes)
        return _GRANTED.get((self.tenant, self.auth.client_id), frozenset(READ_SCOPES))

    def scopes_for(self, method: str, path: str) -> frozenset[str]:
        """The scopes of the token this request is sent with; raises a 403 AuthError naming a missing scope."""
        scope = needed("okta", method, path)
        if scope is None or scope in READ_SCOPES:
            reads = self.read_scopes()
            if scope is not None and scope not in reads:
                raise self.missing(scope, method, path)
            return reads
        if self.auth.scopes is not None and scope not in self.auth.scopes:
            raise self.missing(scope, method, path)
        return frozenset({scope})

    def missing(self, scope: str, method: str, path: str) -> MissingPermission:
        return MissingPermission(
            f"Okta client {self.auth.client_id} is not granted it (tenant {self.tenant})",
            needs=scope,
            method=method,
            path=path,
        )

    def slot(self, method: str, path: str) -> tuple[str, ...]:
        scopes = " ".join(sorted(self.scopes_for(method, path)))
        return ("okta_service_app", self.tenant, self.auth.client_id, self.reference, self.base_url, scopes)

    def assertion(self) -> str:
        text = self.auth.private_key.resolve_document()
        try:
            key, algorithm, jwk_kid = load_signing_key(text)
        except (ValueError, TypeError, KeyError):
            raise InputError(f"{self.describe()}: the private key is neither a PEM nor a JWK RSA/EC key") from None
        now = int(self.clock())
        claims = {
            "iss": self.auth.client_id,
            "sub": self.auth.client_id,
            "aud": self.token_url,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": uuid.uuid4().hex,
        }
        kid = self.auth.key_id or jwk_kid
        return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid} if kid else None)

    async def request_token(self, scopes: frozenset[str]) -> httpx.Response:
        form = {
            "grant_type": "client_credentials",
            "scope": " ".join(sorted(scopes)),
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(),
        }
        async with httpx.AsyncClient(timeout=30.0, headers={"Accept": "application/json"}) as client:
            return await self.send(client, "POST", self.token_url, data=form)

    async def mint(self, method: str, path: str) -> Minted:
        scopes = self.scopes_for(method, path)
        response = await self.request_token(scopes)
        if token_error(response) == "invalid_scope" and len(scopes) > 1:
            granted = frozenset(
                [s for s in sorted(scopes) if token_error(await self.request_token(frozenset({s}))) is None]
            )
            _GRANTED[(self.tenant, self.auth.client_id)] = granted
            scopes = self.scopes_for(method, path)  # raises if this request's own scope is the missing one
            response = await self.request_token(scopes)
        return self.accept(response)

    def accept(self, response: httpx.Response) -> Minted:
        error = token_error(response)
        if error == "invalid_client":
            raise self.failure("Okta refused the client assertion (wrong client id or key?)", response)
        if error == "invalid_dpop_proof":
            raise self.failure("the app requires DPoP; clear 'Require DPoP header in token requests'", response)
        if error is not None or response.status_code != 200:
            raise self.failure("Okta did not issue an access token", response)
        body = response.json()
        scope = str(body.get("scope") or "")
        expires = self.clock() + float(body.get("expires_in") or 3600)
        return Minted(
            header=f"{body.get('token_type') or 'Bearer'} {body['access_token']}",
            expires_at=expires,
            granted=frozenset(scope.split()),
        )


def token_error(response: httpx.Response) -> str | None:
    """The OAuth `error` code of a token answer (None for a success)."""
    if response.status_code == 200:
        return None
    try:
        body = response.json()
    except ValueError:
        return "invalid_response"
    return str(body.get("error") or "invalid_response") if isinstance(body, dict) else "invalid_response"
