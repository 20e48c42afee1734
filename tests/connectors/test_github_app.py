"""GitHub App auth end to end against the simulator: JWT → installation token, refresh, narrowing, errors, gaps."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Scope

from mendflow.config import TenantConnection
from mendflow.connectors.credentials import forget_minted_tokens
from mendflow.connectors.registry import get_action, open_session
from mendflow.errors import AuthError, ConnectionProblem
from mendflow.models import Resource
from mendflow.providers.github.app_auth import app_jwt
from mendflow.providers.github.auth_config import GithubAppAuth
from mendflow.runtime.loopback import serve_in_thread
from mendflow.secrets import SecretRef
from mendflow.sim.app_auth import GithubAppAuthority
from mendflow.sim.common import FaultPlan
from mendflow.sim.github import create_github_app
from mendflow.tenant import TenantFile
from tests.connectors.keys import rsa_pair

APP_ID = "31337"
FULL = {
    "organization_administration": "write",
    "members": "read",
    "organization_hooks": "write",
    "metadata": "read",
    "administration": "write",
    "repository_hooks": "write",
}


PRIVATE, PUBLIC = rsa_pair()


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    forget_minted_tokens()
    yield
    forget_minted_tokens()


@contextmanager
def app_org(
    tenant: TenantFile, tmp_path: Path, *, authority: GithubAppAuthority | None = None, key: str = PRIVATE, **auth: Any
) -> Iterator[tuple[TenantConnection, GithubAppAuthority]]:
    """The demo org served with a registered app, and a connection that authenticates as that app."""
    authority = authority or GithubAppAuthority(app_id=APP_ID, public_key=PUBLIC, permissions=dict(FULL))
    key_file = tmp_path / "app-key.pem"
    key_file.write_text(key)
    app = create_github_app(tenant, token="unused-static-token-0000", app_auth=authority)
    with serve_in_thread(app) as server:
        connection = TenantConnection(
            key="github:acme",
            provider="github",
            tenant="acme",
            base_url=server.base_url,
            auth=GithubAppAuth(kind="github_app", app_id=APP_ID, private_key=SecretRef(ref=f"file:{key_file}"), **auth),
        )
        yield connection, authority


async def _scan(connection: TenantConnection) -> tuple[list[Resource], Any]:
    async with open_session(connection) as session:
        return [r async for r in session.collector.collect()], session.collector.gaps


async def test_scan_runs_on_an_installation_token(github_tenant: TenantFile, tmp_path: Path) -> None:
    """A whole scan authenticates with one minted installation token; nothing is left unread."""
    with app_org(github_tenant, tmp_path) as (connection, authority):
        resources, gaps = await _scan(connection)
        again, _ = await _scan(connection)
    assert gaps == []
    assert {r.type for r in resources} >= {"github.org", "github.repo", "github.repo_hook"}
    assert len(again) == len(resources)
    assert authority.minted == 1, "the second session reuses the cached token"


class ExpiringMidScan(GithubAppAuthority):
    """Expires every issued token once, after the tenth request, as an hour passing would."""

    seen: int = 0

    def authorize(self, scope: Scope, header: str | None) -> Any:
        self.seen += 1
        if self.seen == 10:
            for issued in self.issued.values():
                issued.expires_at = 0.0
        return super().authorize(scope, header)


async def test_token_expiring_mid_scan_is_refreshed_without_a_failed_request(
    github_tenant: TenantFile, tmp_path: Path
) -> None:
    """The vendor's 401 on an expired installation token mints a new one and repeats the request."""
    authority = ExpiringMidScan(app_id=APP_ID, public_key=PUBLIC, permissions=dict(FULL))
    with app_org(github_tenant, tmp_path, authority=authority) as (connection, _):
        resources, gaps = await _scan(connection)
        forget_minted_tokens()
        reference, _ = await _scan(connection)
    assert gaps == []
    assert len(resources) == len(reference)
    assert authority.minted == 3


async def test_token_near_expiry_is_replaced_before_it_is_used(github_tenant: TenantFile, tmp_path: Path) -> None:
    """A token with less than the refresh margin left is not sent; a new one is minted first."""
    authority = GithubAppAuthority(app_id=APP_ID, public_key=PUBLIC, permissions=dict(FULL), token_ttl=120.0)
    with app_org(github_tenant, tmp_path, authority=authority) as (connection, _):
        async with open_session(connection) as session:
            await session.http.get_json("/orgs/acme")
            await session.http.get_json("/orgs/acme")
    assert authority.minted == 2


async def test_narrowed_token_holds_only_the_asked_permissions(github_tenant: TenantFile, tmp_path: Path) -> None:
    """`permissions` narrows the token: a write it was not given is refused, naming the permission."""
    narrow = {"organization_administration": "read", "members": "read", "metadata": "read"}
    with app_org(github_tenant, tmp_path, permissions=narrow) as (connection, authority):
        async with open_session(connection) as session:
            org = await session.http.get_json("/orgs/acme")
            with pytest.raises(AuthError) as refused:
                await get_action("github.org.update_settings").send(
                    session.http, "/orgs/acme", org, {"members_can_create_public_repositories": False}
                )
    assert "organization_administration:write" in str(refused.value)
    assert set(next(iter(authority.issued.values())).granted) == {f"{k}={v}" for k, v in narrow.items()}


async def test_missing_read_permission_is_a_named_gap(github_tenant: TenantFile, tmp_path: Path) -> None:
    """An installation without `organization_hooks` still scans; the gap names the permission it lacks."""
    partial = {k: v for k, v in FULL.items() if k != "organization_hooks"}
    authority = GithubAppAuthority(app_id=APP_ID, public_key=PUBLIC, permissions=partial)
    with app_org(github_tenant, tmp_path, authority=authority) as (connection, _):
        resources, gaps = await _scan(connection)
    assert [(g.endpoint, g.reason, g.needs) for g in gaps] == [
        ("/orgs/acme/hooks", "HTTP 403, needs organization_hooks:read", "organization_hooks:read")
    ]
    assert not any(r.type == "github.org_hook" for r in resources)


async def test_wrong_key_is_one_clear_error_without_the_key(
    github_tenant: TenantFile, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A key the app does not know: one AuthError naming tenant and reference; no key, JWT or token anywhere."""
    other, _ = rsa_pair()
    caplog.set_level(logging.DEBUG)
    with app_org(github_tenant, tmp_path, key=other) as (connection, authority), pytest.raises(AuthError) as refused:
        await _scan(connection)
    text = str(refused.value)
    assert "github:acme" in text and f"file:{tmp_path / 'app-key.pem'}" in text and APP_ID in text
    body = other.splitlines()[5]
    for leaked in (body, "BEGIN PRIVATE KEY", "eyJ"):
        assert leaked not in text and leaked not in caplog.text
    assert authority.minted == 0


async def test_installation_token_never_reaches_logs_or_errors(
    github_tenant: TenantFile, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Planted: the minted token and the private key appear in no log line and no error of a failing request."""
    caplog.set_level(logging.DEBUG)
    with app_org(github_tenant, tmp_path, permissions={"metadata": "read"}) as (connection, authority):
        async with open_session(connection) as session:
            with pytest.raises(AuthError) as refused:
                await session.http.get_json("/orgs/acme/hooks")
    token = next(iter(authority.issued))
    for secret in (token, PRIVATE.splitlines()[3]):
        assert secret not in str(refused.value) and secret not in caplog.text


def test_app_jwt_has_the_claims_github_checks() -> None:
    """iss is the app id, iat is 60 s back for drift, exp within GitHub's 10 minutes."""
    import jwt

    claims = jwt.decode(app_jwt(APP_ID, PRIVATE, now=1_000_000), PUBLIC, algorithms=["RS256"], options={
        "verify_exp": False, "verify_iat": False})  # fmt: skip
    assert claims == {"iss": APP_ID, "iat": 999_940, "exp": 1_000_540}


async def test_token_service_outage_is_retryable_not_a_refusal(github_tenant: TenantFile, tmp_path: Path) -> None:
    """5xx from the token endpoint: a ConnectionProblem naming the credential (the activity retries), no AuthError."""
    key_file = tmp_path / "app-key.pem"
    key_file.write_text(PRIVATE)
    authority = GithubAppAuthority(app_id=APP_ID, public_key=PUBLIC, permissions=dict(FULL))
    app = create_github_app(github_tenant, token="unused-static-token-0000", app_auth=authority,
                            faults=FaultPlan(error_rate=1.0))  # fmt: skip
    with serve_in_thread(app) as server:
        auth = GithubAppAuth(kind="github_app", app_id=APP_ID, private_key=SecretRef(ref=f"file:{key_file}"),
                             installation_id=authority.installation_id)  # fmt: skip
        connection = TenantConnection(key="github:acme", provider="github", tenant="acme", base_url=server.base_url,
                                      auth=auth)  # fmt: skip
        async with open_session(connection) as session:
            with pytest.raises(ConnectionProblem) as down:
                await session.http.get_json("/orgs/acme")
    assert not isinstance(down.value, AuthError)
    assert "github:acme" in str(down.value) and "HTTP 5" in str(down.value)


async def test_token_narrowed_to_repositories_sees_only_those(github_tenant: TenantFile, tmp_path: Path) -> None:
    """`repositories` narrows the token: the named repository reads, another is hidden (404) as GitHub does."""
    with app_org(github_tenant, tmp_path, repositories=("web",)) as (connection, authority):
        async with open_session(connection) as session:
            assert (await session.http.get_json("/repos/acme/web"))["name"] == "web"
            assert await session.http.get_optional("/repos/acme/api") is None
    assert next(iter(authority.issued.values())).repositories == frozenset({"web"})
