"""OIDC bearer JWTs at the API, against a JWKS served on loopback from a local key pair."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from mendflow.api.assemble import build_api
from mendflow.audit import AuditLog
from mendflow.auth.config import OidcSettings, SecuritySettings
from mendflow.auth.oidc import OidcVerifier
from mendflow.auth.signing import DecisionSigner
from mendflow.errors import Refused, TokenRejected, Unauthenticated
from mendflow.rbac import Person, RbacConfig
from mendflow.runtime.client import TemporalSettings
from mendflow.settings import Settings
from mendflow.store import Database, database_url
from tests.integrations.conftest import serve_here

ISSUER = "https://idp.example.test"
AUDIENCE = "mendflow"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Idp:
    api: httpx.AsyncClient
    audit: AuditLog


def token(key: Any = KEY, alg: str = "RS256", kid: str = "k1", **claims: Any) -> str:
    body = {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 300, "preferred_username": "alice", **claims}
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


def unsigned(**claims: Any) -> str:
    """`alg: none`: a header and claims, no signature."""
    body = {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 300, "preferred_username": "alice", **claims}
    return jwt.encode(body, None, algorithm="none")


@pytest.fixture
async def idp(tmp_path: Path) -> AsyncIterator[Idp]:
    jwk = json.loads(RSAAlgorithm.to_jwk(KEY.public_key())) | {"kid": "k1", "alg": "RS256", "use": "sig"}

    async def jwks(_: Any) -> JSONResponse:
        return JSONResponse({"keys": [jwk]})

    async with serve_here(Starlette(routes=[Route("/jwks", jwks)])) as issuer:
        oidc = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=f"{issuer.base_url}/jwks",
                            roles={"alice": "approver"})  # fmt: skip
        settings = Settings(
            rbac=RbacConfig(people={"alice": Person(groups=("secops-oncall",))}),
            security=SecuritySettings(oidc=oidc),
        )
        app = build_api(
            settings, TemporalSettings(address="127.0.0.1:9"), data_dir=tmp_path, signer=DecisionSigner.generate()
        )
        async with serve_here(app) as server, httpx.AsyncClient(base_url=server.base_url) as api:
            yield Idp(api, AuditLog(Database.open(database_url(tmp_path))))


async def whoami(idp: Idp, bearer: str) -> httpx.Response:
    return await idp.api.get("/v1/whoami", headers={"Authorization": f"Bearer {bearer}"})


async def test_a_valid_jwt_is_the_person_with_their_configured_role(idp: Idp) -> None:
    """Issuer, audience, expiry and signature check out: alice, approver, groups from the server's RBAC."""
    answer = await whoami(idp, token(groups=["admins"]))
    assert answer.status_code == 200
    assert answer.json() == {"person": "alice", "role": "approver", "auth": "oidc", "groups": ["secops-oncall"]}


@pytest.mark.parametrize(
    ("bearer", "why"),
    [
        (lambda: token(iss="https://evil.example"), "another issuer"),
        (lambda: token(aud="someone-else"), "another audience"),
        (lambda: token(exp=int(time.time()) - 600), "expired"),
        (lambda: unsigned(), "algorithm 'none' is not allowed"),
        (lambda: token(key="a-shared-secret-of-32-bytes-long!", alg="HS256"), "algorithm 'HS256' is not allowed"),
        (lambda: token(key=OTHER), "signature"),
        (lambda: token(kid="unknown"), "does not publish"),
    ],
    ids=["wrong-issuer", "wrong-audience", "expired", "alg-none", "hs256", "wrong-key", "unknown-kid"],
)
async def test_bad_jwts_are_refused_and_audited(idp: Idp, bearer: Any, why: str) -> None:
    """Each bad token gets 401 naming the problem, and an audit line; nothing else is reachable."""
    answer = await whoami(idp, bearer())
    assert answer.status_code == 401 and why in answer.json()["error"], answer.json()
    refused = [r for r in idp.audit.records() if r["kind"] == "auth" and r["outcome"] == "refused"]
    assert refused and why in refused[-1]["reason"]


def test_a_rejected_jwt_is_an_unauthenticated_refusal_of_the_one_hierarchy() -> None:
    """The verifier's refusal is `errors.TokenRejected`: an Unauthenticated (HTTP 401, CLI exit 3) without the token."""
    verifier = OidcVerifier(OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url="http://127.0.0.1:9/jwks"))
    bad = unsigned()
    with pytest.raises(Unauthenticated) as caught:
        verifier.verify_sync(bad)
    assert isinstance(caught.value, TokenRejected) and isinstance(caught.value, Refused)
    assert caught.value.status == 401
    assert "'none' is not allowed" in str(caught.value)
    assert bad not in str(caught.value)
