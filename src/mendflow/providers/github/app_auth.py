"""GitHub App auth: app id + private key → RS256 JWT → installation access token, narrowed and cached.

GitHub's recipe (docs "Generating a JSON Web Token (JWT) for a GitHub App", "Authenticating as a GitHub App
installation"): the JWT carries `iss` = app id, `iat` 60 s in the past (clock drift) and `exp` at most 10 minutes
ahead, signed RS256. With it, `GET /orgs/{org}/installation` finds the installation and
`POST /app/installations/{id}/access_tokens` (optionally with `permissions` and `repositories`) returns a token
that expires after an hour (`expires_at`). The token is sent as `Bearer`; the JWT is never used for anything else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import jwt

from mendflow.connectors.credentials import Minted, MintedCredential, load_signing_key
from mendflow.errors import InputError
from mendflow.providers.github.auth_config import GithubAppAuth

JWT_LIFETIME = 540
"""Seconds; GitHub refuses JWTs that expire more than 10 minutes after they were issued."""
API_VERSION = "2022-11-28"


def app_jwt(app_id: str, private_key: str, *, now: float) -> str:
    """The app's JWT, signed RS256 with its PEM private key (`iat` backdated 60 s for clock drift)."""
    key, algorithm, _ = load_signing_key(private_key)
    if algorithm != "RS256":
        raise ValueError("GitHub App keys are RSA")
    claims = {"iat": int(now) - 60, "exp": int(now) + JWT_LIFETIME, "iss": app_id}
    return jwt.encode(claims, key, algorithm="RS256")


class GithubAppCredential(MintedCredential):
    """Installation tokens of one GitHub App on one organization."""

    def __init__(self, auth: GithubAppAuth, *, tenant: str, org: str, base_url: str) -> None:
        super().__init__(tenant=tenant, reference=auth.private_key.ref, base_url=base_url)
        self.auth = auth
        self.org = org

    def slot(self, method: str, path: str) -> tuple[str, ...]:
        return ("github_app", self.tenant, self.auth.app_id, self.reference, self.base_url)

    def _signed(self) -> str:
        key = self.auth.private_key.resolve_document()
        try:
            return app_jwt(self.auth.app_id, key, now=self.clock())
        except (ValueError, TypeError, jwt.PyJWTError):
            raise InputError(f"{self.describe()}: the GitHub App private key is not a PEM RSA private key") from None

    def _request_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.auth.permissions is not None:
            body["permissions"] = dict(self.auth.permissions)
        if self.auth.repositories is not None:
            body["repositories"] = list(self.auth.repositories)
        return body

    async def mint(self, method: str, path: str) -> Minted:
        headers = {
            "Authorization": f"Bearer {self._signed()}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        async with httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30.0) as client:
            installation = self.auth.installation_id or await self._installation(client)
            url = f"/app/installations/{installation}/access_tokens"
            response = await self.send(client, "POST", url, json=self._request_body())
        if response.status_code == 401:
            raise self.failure(f"GitHub refused the JWT of app {self.auth.app_id} (wrong app id or key?)", response)
        if response.status_code == 404:
            raise self.failure(f"GitHub App {self.auth.app_id} has no installation {installation}", response)
        if response.status_code == 422:
            raise self.failure("GitHub refused the requested permissions or repositories", response)
        if response.status_code != 201:
            raise self.failure("GitHub did not issue an installation token", response)
        body = response.json()
        expires = datetime.fromisoformat(str(body["expires_at"]).replace("Z", "+00:00")).timestamp()
        granted = frozenset(f"{name}:{level}" for name, level in (body.get("permissions") or {}).items())
        return Minted(header=f"Bearer {body['token']}", expires_at=expires, granted=granted)

    async def _installation(self, client: httpx.AsyncClient) -> int:
        response = await self.send(client, "GET", f"/orgs/{self.org}/installation")
        if response.status_code == 401:
            raise self.failure(f"GitHub refused the JWT of app {self.auth.app_id} (wrong app id or key?)", response)
        if response.status_code != 200:
            raise self.failure(f"GitHub App {self.auth.app_id} is not installed on {self.org}", response)
        return int(response.json()["id"])
