"""App auth in the simulators: a registered GitHub App and Okta service apps that mint expiring, scoped tokens.

    GithubAppAuthority   `GET /orgs/{org}/installation` and `POST /app/installations/{id}/access_tokens`, both
                         authenticated by the app's RS256 JWT (verified against its public key: `iss`, `exp` at
                         most 10 minutes after `iat`); installation tokens expire after `token_ttl` and carry the
                         installation's permissions, optionally narrowed (more than granted: 422)
    OktaServiceAuthority `POST /oauth2/v1/token` (client credentials with `private_key_jwt`: `iss` = `sub` = client
                         id, `aud` = the token URL, unique `jti`); scopes beyond the app's grant: `invalid_scope`

Both plug into the simulators' `Gate` as `authorize`: an issued token is accepted until it expires, and each
endpoint checks the permission or scope it needs, refusing as the vendor does — GitHub 403 "Resource not
accessible by integration" with `x-accepted-github-permissions`; Okta 403 E0000006 with a `WWW-Authenticate`
`insufficient_scope` challenge. The tables below are the simulator's own (the vendor's truth in this world), kept
apart from the connector's `permissions.py` so that a mistake in one is caught against the other.
"""

from __future__ import annotations

import re
import secrets
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import jwt
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from mendflow.sim.common import json_response
from mendflow.sim.github_shapes import ApiError
from mendflow.sim.okta_shapes import OktaError, forbidden

_ANY = "[^/]+"

GITHUB_PERMISSIONS: tuple[tuple[str, str, str], ...] = (
    ("GET", "/orgs/{o}", "organization_administration=read"),
    ("PATCH", "/orgs/{o}", "organization_administration=write"),
    ("GET", "/orgs/{o}/members", "members=read"),
    ("GET", "/orgs/{o}/members/{u}", "members=read"),
    ("GET", "/orgs/{o}/memberships/{u}", "members=read"),
    ("PUT", "/orgs/{o}/memberships/{u}", "members=write"),
    ("DELETE", "/orgs/{o}/memberships/{u}", "members=write"),
    ("GET", "/orgs/{o}/outside_collaborators", "members=read"),
    ("GET", "/orgs/{o}/hooks", "organization_hooks=read"),
    ("GET", "/orgs/{o}/hooks/{h}", "organization_hooks=read"),
    ("GET", "/orgs/{o}/hooks/{h}/config", "organization_hooks=read"),
    ("PATCH", "/orgs/{o}/hooks/{h}", "organization_hooks=write"),
    ("PATCH", "/orgs/{o}/hooks/{h}/config", "organization_hooks=write"),
    ("DELETE", "/orgs/{o}/hooks/{h}", "organization_hooks=write"),
    ("GET", "/orgs/{o}/repos", "metadata=read"),
    ("GET", "/repos/{o}/{r}", "metadata=read"),
    ("PATCH", "/repos/{o}/{r}", "administration=write"),
    ("GET", "/repos/{o}/{r}/keys", "administration=read"),
    ("GET", "/repos/{o}/{r}/keys/{k}", "administration=read"),
    ("POST", "/repos/{o}/{r}/keys", "administration=write"),
    ("DELETE", "/repos/{o}/{r}/keys/{k}", "administration=write"),
    ("GET", "/repos/{o}/{r}/hooks", "repository_hooks=read"),
    ("GET", "/repos/{o}/{r}/hooks/{h}", "repository_hooks=read"),
    ("GET", "/repos/{o}/{r}/hooks/{h}/config", "repository_hooks=read"),
    ("PATCH", "/repos/{o}/{r}/hooks/{h}", "repository_hooks=write"),
    ("PATCH", "/repos/{o}/{r}/hooks/{h}/config", "repository_hooks=write"),
    ("GET", "/repos/{o}/{r}/collaborators", "metadata=read"),
    ("GET", "/repos/{o}/{r}/branches/{b}", "metadata=read"),
    ("GET", "/repos/{o}/{r}/branches/{b}/protection", "administration=read"),
    ("PUT", "/repos/{o}/{r}/branches/{b}/protection", "administration=write"),
    ("DELETE", "/repos/{o}/{r}/branches/{b}/protection", "administration=write"),
    ("GET", "/repos/{o}/{r}/rulesets", "metadata=read"),
    ("GET", "/repos/{o}/{r}/rulesets/{s}", "metadata=read"),
    ("DELETE", "/repos/{o}/{r}/hooks/{h}", "repository_hooks=write"),
    ("GET", "/repos/{o}/{r}/collaborators/{u}/permission", "metadata=read"),
    ("PUT", "/repos/{o}/{r}/collaborators/{u}", "administration=write"),
    ("DELETE", "/repos/{o}/{r}/collaborators/{u}", "administration=write"),
    ("GET", "/repos/{o}/{r}/invitations", "administration=read"),
    ("GET", "/orgs/{o}/installations", "organization_administration=read"),
)
"""(method, path, `permission=level`) as GitHub's "Permissions required for GitHub Apps" lists them."""

OKTA_SCOPES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/api/v1/users", "okta.users.read"),
    ("GET", "/api/v1/users/{i}", "okta.users.read"),
    ("GET", "/api/v1/users/{i}/factors", "okta.users.read"),
    ("GET", "/api/v1/users/{i}/grants", "okta.users.read"),
    ("DELETE", "/api/v1/users/{i}/grants/{g}", "okta.users.manage"),
    ("POST", "/api/v1/users/{i}/lifecycle/{op}", "okta.users.manage"),
    ("GET", "/api/v1/users/{i}/roles", "okta.roles.read"),
    ("GET", "/api/v1/iam/assignees/users", "okta.roles.read"),
    ("GET", "/api/v1/policies", "okta.policies.read"),
    ("GET", "/api/v1/policies/{p}", "okta.policies.read"),
    ("PUT", "/api/v1/policies/{p}", "okta.policies.manage"),
    ("GET", "/api/v1/policies/{p}/rules", "okta.policies.read"),
    ("GET", "/api/v1/policies/{p}/rules/{r}", "okta.policies.read"),
    ("PUT", "/api/v1/policies/{p}/rules/{r}", "okta.policies.manage"),
    ("GET", "/api/v1/api-tokens", "okta.apiTokens.read"),
    ("GET", "/api/v1/api-tokens/{t}", "okta.apiTokens.read"),
    ("PUT", "/api/v1/api-tokens/{t}", "okta.apiTokens.manage"),
    ("DELETE", "/api/v1/api-tokens/{t}", "okta.apiTokens.manage"),
    ("GET", "/api/v1/apps", "okta.apps.read"),
    ("GET", "/api/v1/apps/{a}/grants", "okta.appGrants.read"),
    ("GET", "/api/v1/apps/{a}/grants/{g}", "okta.appGrants.read"),
    ("DELETE", "/api/v1/apps/{a}/grants/{g}", "okta.appGrants.manage"),
    ("GET", "/api/v1/groups", "okta.groups.read"),
    ("DELETE", "/api/v1/users/{i}/sessions", "okta.users.manage"),
    ("DELETE", "/api/v1/users/{i}/grants", "okta.users.manage"),
    ("GET", "/api/v1/users/{i}/clients", "okta.users.read"),
    ("GET", "/api/v1/users/{i}/clients/{c}/tokens", "okta.users.read"),
    ("DELETE", "/api/v1/users/{i}/clients/{c}/tokens", "okta.users.manage"),
    ("GET", "/api/v1/users/{i}/groups", "okta.users.read"),
    ("PUT", "/api/v1/groups/{g}/users/{i}", "okta.groups.manage"),
    ("DELETE", "/api/v1/groups/{g}/users/{i}", "okta.groups.manage"),
    ("POST", "/api/v1/users/{i}/roles", "okta.roles.manage"),
    ("DELETE", "/api/v1/users/{i}/roles/{r}", "okta.roles.manage"),
    ("GET", "/api/v1/apps/{a}", "okta.apps.read"),
    ("POST", "/api/v1/apps/{a}/lifecycle/{op}", "okta.apps.manage"),
    ("GET", "/api/v1/logs", "okta.logs.read"),
)
"""(method, path, scope) from the `oauth2` security requirement of each operation in Okta's Management API."""


def _compile(table: tuple[tuple[str, str, str], ...]) -> list[tuple[str, re.Pattern[str], str]]:
    return [(m, re.compile(re.sub(r"\{[^}]+\}", _ANY, p)), need) for m, p, need in table]


def _lookup(table: list[tuple[str, re.Pattern[str], str]], method: str, path: str) -> str | None:
    for want, pattern, need in table:
        if want == method and pattern.fullmatch(path):
            return need
    return None


@dataclass
class Issued:
    """A token the simulator minted."""

    granted: frozenset[str]
    expires_at: float
    repositories: frozenset[str] | None = None
    """GitHub: the repository names the token was narrowed to (lower case); None: every repository."""


def _bearer(header: str | None) -> str:
    scheme, _, value = (header or "").partition(" ")
    return value.strip() if scheme.lower() in ("bearer", "token") else ""


@dataclass
class GithubAppAuthority:
    """One registered GitHub App, installed on the simulated organization."""

    app_id: str
    public_key: str
    """PEM public key registered with the app."""
    permissions: dict[str, str]
    """What the installation was granted, e.g. `{"members": "read", "organization_hooks": "write"}`."""
    installation_id: int = 4242
    token_ttl: float = 3600.0
    clock: Callable[[], float] = time.time
    issued: dict[str, Issued] = field(default_factory=dict)
    minted: int = 0
    _table: list[tuple[str, re.Pattern[str], str]] = field(default_factory=lambda: _compile(GITHUB_PERMISSIONS))

    def routes(self) -> list[Route]:
        return [
            Route("/orgs/{org}/installation", self._installation, methods=["GET"]),
            Route("/app/installations/{installation_id}/access_tokens", self._access_token, methods=["POST"]),
        ]

    def _verify_jwt(self, request: Request) -> None:
        token = _bearer(request.headers.get("authorization"))
        try:
            claims = jwt.decode(
                token, self.public_key, algorithms=["RS256"], options={"require": ["iat", "exp", "iss"]}, leeway=60
            )
        except jwt.PyJWTError:
            raise ApiError(401, "A JSON web token could not be decoded") from None
        if str(claims["iss"]) != self.app_id:
            raise ApiError(401, "A JSON web token could not be decoded")
        if int(claims["exp"]) - int(claims["iat"]) > 660:
            raise ApiError(401, "'Expiration time' claim ('exp') is too far in the future")

    async def _installation(self, request: Request) -> Response:
        try:
            self._verify_jwt(request)
        except ApiError as err:
            return json_response(err.status, err.body())
        return json_response(200, self._installation_view(request.path_params["org"]))

    def _installation_view(self, org: str) -> dict[str, Any]:
        """GitHub's `installation` object for the app on `org` (every field its schema requires)."""
        oid = 20_000_000 + zlib.crc32(org.casefold().encode()) % 10_000_000
        api, stamp = f"https://api.github.com/users/{org}", "2026-01-05T09:00:00Z"
        account = {
            "login": org, "id": oid, "node_id": f"O_sim{oid}", "gravatar_id": "", "url": api,
            "avatar_url": f"https://avatars.githubusercontent.com/u/{oid}?v=4", "html_url": f"https://github.com/{org}",
            "followers_url": f"{api}/followers", "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}", "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions", "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos", "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events", "type": "Organization", "site_admin": False,
        }  # fmt: skip
        return {
            "id": self.installation_id, "app_id": int(self.app_id), "app_slug": "mendflow", "target_id": oid,
            "target_type": "Organization", "single_file_name": None, "repository_selection": "all",
            "access_tokens_url": f"https://api.github.com/app/installations/{self.installation_id}/access_tokens",
            "html_url": f"https://github.com/organizations/{org}/settings/installations/{self.installation_id}",
            "repositories_url": "https://api.github.com/installation/repositories", "events": [],
            "account": account, "permissions": dict(self.permissions), "created_at": stamp, "updated_at": stamp,
            "suspended_by": None, "suspended_at": None,
        }  # fmt: skip

    async def _access_token(self, request: Request) -> Response:
        try:
            self._verify_jwt(request)
            if request.path_params["installation_id"] != str(self.installation_id):
                raise ApiError(404, "Not Found")
            body = await request.json() if (await request.body()).strip() else {}
            granted = self._narrowed(body.get("permissions"))
        except ApiError as err:
            return json_response(err.status, err.body())
        token = "ghs_" + secrets.token_hex(18)
        expires = self.clock() + self.token_ttl
        names = body.get("repositories")
        only = None if names is None else frozenset(str(n).casefold() for n in names)
        self.issued[token] = Issued(frozenset(f"{k}={v}" for k, v in granted.items()), expires, only)
        self.minted += 1
        stamp = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        answer: dict[str, Any] = {
            "token": token,
            "expires_at": stamp,
            "permissions": granted,
            "repository_selection": "selected" if body.get("repositories") else "all",
        }
        return json_response(201, answer)

    def _narrowed(self, asked: Any) -> dict[str, str]:
        if asked is None:
            return dict(self.permissions)
        for name, level in dict(asked).items():
            held = self.permissions.get(name)
            if held is None or (held == "read" and level == "write"):
                raise ApiError(422, f"The permissions requested are not granted to this installation. ({name})")
        return dict(asked)

    def authorize(self, scope: Scope, header: str | None) -> Response | None:
        """Gate hook: let the JWT routes through; accept live installation tokens with the needed permission."""
        path, method = scope["path"], scope["method"]
        if path.startswith("/app/") or (path.startswith("/orgs/") and path.endswith("/installation")):
            return None
        issued = self.issued.get(_bearer(header))
        if issued is None or issued.expires_at <= self.clock():
            return json_response(401, ApiError(401, "Bad credentials").body())
        parts = path.split("/")
        outside = len(parts) > 3 and parts[1] == "repos" and parts[3].casefold() not in (issued.repositories or ())
        if issued.repositories is not None and outside:  # GitHub hides repositories outside the token
            return json_response(404, ApiError(404, "Not Found").body())
        need = _lookup(self._table, method, path)
        if need is None or need in issued.granted or need.replace("=read", "=write") in issued.granted:
            return None
        err = ApiError(403, "Resource not accessible by integration")
        return json_response(403, err.body(), {"x-accepted-github-permissions": need})


@dataclass
class OktaServiceApp:
    """An API Services app registered in the simulated org."""

    client_id: str
    public_key: Any
    """PEM text or a cryptography public key object."""
    scopes: frozenset[str]
    """Scopes granted to the app."""


@dataclass
class OktaServiceAuthority:
    """The org authorization server's token endpoint, and scope checks on every Management API call."""

    apps: dict[str, OktaServiceApp]
    org_url: str = ""
    """The org's base URL as the client sees it (the assertion's `aud` is `{org_url}/oauth2/v1/token`); empty: any
    URL ending in `/oauth2/v1/token` is accepted (the loopback port is not known when the app is built)."""
    token_ttl: float = 3600.0
    clock: Callable[[], float] = time.time
    issued: dict[str, Issued] = field(default_factory=dict)
    seen_jti: set[str] = field(default_factory=set)
    minted: int = 0
    _table: list[tuple[str, re.Pattern[str], str]] = field(default_factory=lambda: _compile(OKTA_SCOPES))

    def routes(self) -> list[Route]:
        return [Route("/oauth2/v1/token", self._token, methods=["POST"])]

    async def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "The authorization grant type is not supported.")
        app = self._client(form)
        if isinstance(app, Response):
            return app
        wanted = frozenset(form.get("scope", "").split())
        if not wanted:
            return _oauth_error(400, "invalid_scope", "The authorization server resource does not have any scopes.")
        if not wanted <= app.scopes:
            return _oauth_error(400, "invalid_scope", "One or more scopes are not configured for the authorization "
                                "server resource.")  # fmt: skip
        token = secrets.token_urlsafe(32)
        self.issued[token] = Issued(wanted, self.clock() + self.token_ttl)
        self.minted += 1
        return json_response(200, {"token_type": "Bearer", "expires_in": int(self.token_ttl), "access_token": token,
                                   "scope": " ".join(sorted(wanted))})  # fmt: skip

    def _client(self, form: dict[str, str]) -> OktaServiceApp | Response:
        refused = _oauth_error(401, "invalid_client", "The client_assertion signature is invalid.")
        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return _oauth_error(401, "invalid_client", "Client authentication failed.")
        assertion = form.get("client_assertion", "")
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
            app = self.apps.get(str(unverified.get("iss")))
            if app is None:
                return _oauth_error(401, "invalid_client", "The client_id is invalid.")
            required: Any = {"require": ["iss", "sub", "aud", "exp", "jti"], "verify_aud": False}
            claims = jwt.decode(assertion, app.public_key, algorithms=["RS256", "ES256"], options=required)
        except jwt.PyJWTError:
            return refused
        audience = str(claims["aud"])
        aud_ok = (
            audience == f"{self.org_url}/oauth2/v1/token" if self.org_url else audience.endswith("/oauth2/v1/token")
        )
        if claims["sub"] != app.client_id or not aud_ok or claims["jti"] in self.seen_jti:
            return refused
        self.seen_jti.add(str(claims["jti"]))
        return app

    def authorize(self, scope: Scope, header: str | None) -> Response | None:
        """Gate hook: accept live access tokens that hold the endpoint's scope."""
        if scope["path"] == "/oauth2/v1/token":
            return None
        issued = self.issued.get(_bearer(header))
        if issued is None or issued.expires_at <= self.clock():
            error = OktaError(401, "E0000011", "Invalid token provided")
            return json_response(401, error.body())
        need = _lookup(self._table, scope["method"], scope["path"])
        if need is None or need in issued.granted:
            return None
        challenge = (f'Bearer authorization_uri="{self.org_url}/oauth2/v1/authorize", realm="IdpMyAccountAPI", '
                     f'scope="{need}", error="insufficient_scope", '
                     'error_description="The access token provided does not contain the required scopes."')  # fmt: skip
        return json_response(403, forbidden().body(), {"www-authenticate": challenge})


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response(status, {"error": error, "error_description": description})
