"""Okta service-app auth end to end against the simulator: private_key_jwt → scoped tokens, least privilege, gaps."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from mendflow.config import TenantConnection
from mendflow.connectors.credentials import forget_minted_tokens
from mendflow.connectors.registry import get_action, open_session
from mendflow.errors import AuthError
from mendflow.models import Resource
from mendflow.providers.okta.app_auth import _GRANTED
from mendflow.providers.okta.auth_config import OktaServiceAppAuth
from mendflow.providers.okta.permissions import READ_SCOPES as OKTA_READ_SCOPES
from mendflow.runtime.loopback import serve_in_thread
from mendflow.secrets import SecretRef
from mendflow.sim.app_auth import Issued, OktaServiceApp, OktaServiceAuthority
from mendflow.sim.okta import create_okta_app
from mendflow.tenant import TenantFile
from tests.connectors.keys import as_jwk, rsa_pair

CLIENT = "0oaMENDFLOWSVC000001"
PRIVATE, PUBLIC = rsa_pair()
ALL = frozenset(OKTA_READ_SCOPES) | {"okta.users.manage"}


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    forget_minted_tokens()
    _GRANTED.clear()
    yield
    forget_minted_tokens()
    _GRANTED.clear()


@contextmanager
def service_org(
    tenant: TenantFile,
    tmp_path: Path,
    *,
    granted: frozenset[str] = ALL,
    key: str = PRIVATE,
    client_id: str = CLIENT,
    **auth: Any,
) -> Iterator[tuple[TenantConnection, OktaServiceAuthority]]:
    """The demo org with a registered service app, and a connection that authenticates as it."""
    authority = OktaServiceAuthority(apps={CLIENT: OktaServiceApp(CLIENT, PUBLIC, granted)})
    key_file = tmp_path / "okta-key"
    key_file.write_text(key)
    app = create_okta_app(tenant, token="unused-static-token-0000", service_apps=authority)
    with serve_in_thread(app) as server:
        authority.org_url = server.base_url  # the assertion's aud must be exactly this org's token URL
        connection = TenantConnection(
            key=f"okta:{tenant.tenant}",
            provider="okta",
            tenant=tenant.tenant,
            base_url=server.base_url,
            auth=OktaServiceAppAuth(
                kind="okta_service_app", client_id=client_id, private_key=SecretRef(ref=f"file:{key_file}"), **auth
            ),
        )
        yield connection, authority


async def _scan(connection: TenantConnection) -> tuple[list[Resource], Any]:
    async with open_session(connection) as session:
        return [r async for r in session.collector.collect()], session.collector.gaps


@pytest.mark.parametrize("form", ["pem", "jwk"])
async def test_scan_runs_on_a_read_only_token(okta_tenant: TenantFile, tmp_path: Path, form: str) -> None:
    """PEM or JWK key: one token holding exactly the read scopes reads the whole org."""
    key = PRIVATE if form == "pem" else as_jwk(PRIVATE, kid="k1")
    with service_org(okta_tenant, tmp_path, key=key) as (connection, authority):
        resources, gaps = await _scan(connection)
    assert gaps == []
    assert {r.type for r in resources} >= {"okta.user", "okta.policy", "okta.api_token"}
    assert [issued.granted for issued in authority.issued.values()] == [frozenset(OKTA_READ_SCOPES)]


async def test_a_write_gets_its_own_manage_token(okta_tenant: TenantFile, tmp_path: Path) -> None:
    """Suspending a user mints a token with only okta.users.manage; reads keep the read-only token."""
    active = next(u for u in okta_tenant.section()["users"] if u["status"] == "ACTIVE")
    user = f"/api/v1/users/{active['id']}"
    with service_org(okta_tenant, tmp_path) as (connection, authority):
        async with open_session(connection) as session:
            action = get_action("okta.user.set_status")
            await action.send(session.http, user, await action.read(session.http, user), {"status": "SUSPENDED"})
            after = await session.http.get_json(user)
    assert after["status"] == "SUSPENDED"
    assert sorted(sorted(i.granted) for i in authority.issued.values()) == [
        sorted(OKTA_READ_SCOPES),
        ["okta.users.manage"],
    ]


async def test_missing_scope_is_learned_and_becomes_a_named_gap(okta_tenant: TenantFile, tmp_path: Path) -> None:
    """Without okta.roles.read Okta refuses the read token; the scan asks per scope, then reports the gap."""
    granted = ALL - {"okta.roles.read"}
    with service_org(okta_tenant, tmp_path, granted=granted) as (connection, _):
        resources, gaps = await _scan(connection)
    assert gaps and {g.needs for g in gaps} == {"okta.roles.read"}
    assert any(r.type == "okta.user" for r in resources)


async def test_declared_scopes_are_trusted_without_probing(okta_tenant: TenantFile, tmp_path: Path) -> None:
    """`scopes` lists what was granted: nothing else is asked for, and the rest are gaps at once."""
    declared = tuple(sorted(ALL - {"okta.apiTokens.read"}))
    with service_org(okta_tenant, tmp_path, scopes=declared) as (connection, authority):
        _, gaps = await _scan(connection)
    assert {g.endpoint: g.needs for g in gaps} == {"/api/v1/api-tokens": "okta.apiTokens.read"}
    assert authority.minted == 1


async def test_wrong_client_is_one_clear_error_without_the_key(
    okta_tenant: TenantFile, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An unknown client id: one AuthError naming tenant, client and key reference; no key or assertion leaks."""
    caplog.set_level(logging.DEBUG)
    with service_org(okta_tenant, tmp_path, client_id="0oaWRONG") as (connection, _), pytest.raises(AuthError) as err:
        await _scan(connection)
    text = str(err.value)
    assert f"okta:{okta_tenant.tenant}" in text and "0oaWRONG" in text and f"file:{tmp_path / 'okta-key'}" in text
    for leaked in (PRIVATE.splitlines()[4], "eyJ"):
        assert leaked not in text and leaked not in caplog.text


async def test_wrong_key_is_refused_as_invalid_client(okta_tenant: TenantFile, tmp_path: Path) -> None:
    """A key whose public half is not registered: Okta's invalid_client, reported as such."""
    other, _ = rsa_pair()
    with service_org(okta_tenant, tmp_path, key=other) as (connection, _), pytest.raises(AuthError) as err:
        await _scan(connection)
    assert "refused the client assertion" in str(err.value)


async def test_insufficient_scope_is_answered_as_okta_does(okta_tenant: TenantFile, tmp_path: Path) -> None:
    """Simulator: a token without the endpoint's scope gets 403 E0000006 and an insufficient_scope challenge."""
    with service_org(okta_tenant, tmp_path) as (connection, authority):
        async with httpx.AsyncClient(base_url=connection.base_url) as client:
            authority.issued["planted-token"] = Issued(frozenset({"okta.users.read"}), expires_at=4e9)
            answer = await client.get("/api/v1/groups", headers={"Authorization": "Bearer planted-token"})
    assert answer.status_code == 403
    assert answer.json()["errorCode"] == "E0000006"
    assert 'scope="okta.groups.read"' in answer.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]


async def test_expired_access_token_is_replaced_mid_scan(okta_tenant: TenantFile, tmp_path: Path) -> None:
    """Okta's 401 on an expired token mints a new one; the scan finishes with nothing missed."""
    with service_org(okta_tenant, tmp_path) as (connection, authority):
        async with open_session(connection) as session:
            await session.http.get_json("/api/v1/groups")
            for issued in authority.issued.values():
                issued.expires_at = 0.0
            items = [r async for r in session.collector.collect()]
            gaps = session.collector.gaps
    assert items and gaps == []
    assert authority.minted == 2


async def test_assertion_for_another_org_is_refused(okta_tenant: TenantFile, tmp_path: Path) -> None:
    """An assertion whose aud is another org's token URL is invalid_client, as Okta checks the audience."""
    with service_org(okta_tenant, tmp_path) as (connection, authority):
        authority.org_url = "https://other.okta.com"
        with pytest.raises(AuthError) as err:
            await _scan(connection)
    assert "refused the client assertion" in str(err.value) and authority.minted == 0
