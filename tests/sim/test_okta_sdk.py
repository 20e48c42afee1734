"""The official Okta SDK (`okta` on PyPI), given only the simulator's base URL, reads what mendflow reads and makes
the writes mendflow's actions make. Apps of every sign-on mode must deserialise into the SDK's typed models (an
OIDC or basic-auth app without `settings`/`credentials` is refused), and the SDK's `SSWS` header must be taken.

The SDK insists on an `https` org URL unless OKTA_TESTING_TESTINGDISABLEHTTPSCHECK is set; the loopback simulator
speaks plain HTTP, so the tests set it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from okta.client import Client
from okta.models import ApiTokenUpdate, AssignRoleToUserRequest
from starlette.applications import Starlette

from mendflow.runtime.loopback import serve_in_thread
from mendflow.sim.generate import okta_id, okta_tenant
from mendflow.sim.okta import create_okta_app
from mendflow.tenant import TenantFile, load_tenant_file, parse_tenant

DEMO = Path(__file__).resolve().parents[2] / "src" / "mendflow" / "data" / "demo-okta.json"
TOKEN = "00oktasdkcontract0123456789abcdefghij"
ALICE, BOB, DAVE, FRANK = (okta_id("00u", n) for n in (1, 2, 4, 6))
ENGINEERING = okta_id("00g", 2)
PASSWORD, SIGN_ON = okta_id("00p", 1), okta_id("00p", 2)
TOKEN_ID, SALESFORCE, LEGACY_HR = okta_id("00T", 1), okta_id("0oa", 3), okta_id("0oa", 4)


def _ok(result: tuple[Any, ...]) -> Any:
    """The SDK answers (value, response, error) or (response, error); an error fails the test with its text."""
    error = result[-1]
    assert error is None, str(error)
    return result[0]


def _role_types(roles: list[Any]) -> list[str]:
    """Role assignments come as a oneOf wrapper (standard or custom role) in the SDK."""
    return [role.actual_instance.type.value for role in roles]


async def _serve(tenant: TenantFile, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Client, Starlette]]:
    monkeypatch.setenv("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")
    app = create_okta_app(tenant, token=TOKEN)
    with serve_in_thread(app) as server:
        yield Client({"orgUrl": server.base_url, "token": TOKEN, "rateLimit": {"maxRetries": 0}}), app


@pytest.fixture
async def demo(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Client, Starlette]]:
    async for served in _serve(load_tenant_file(DEMO), monkeypatch):
        yield served


async def test_reads_mendflow_makes(demo: tuple[Client, Starlette]) -> None:
    """Users, roles, factors, policies and rules, apps (typed by sign-on mode), app grants, groups and API tokens
    read through the SDK's typed models."""
    okta, _ = demo
    users = _ok(await okta.list_users())
    assert [u.profile.login for u in users][:2] == ["alice@acme.example", "bob@acme.example"]
    assert _ok(await okta.get_user(ALICE)).status.value == "ACTIVE"
    assert _role_types(_ok(await okta.list_assigned_roles_for_user(ALICE))) == ["SUPER_ADMIN"]
    assert _ok(await okta.list_factors(ALICE))
    assert [p.id for p in _ok(await okta.list_policies(type="PASSWORD"))] == [PASSWORD]
    assert _ok(await okta.get_policy(SIGN_ON)).type.value == "OKTA_SIGN_ON"
    assert _ok(await okta.list_policy_rules(SIGN_ON))
    apps = _ok(await okta.list_applications())
    assert [type(a).__name__ for a in apps] == [
        "OpenIdConnectApplication", "OpenIdConnectApplication", "SamlApplication", "BasicAuthApplication",
    ]  # fmt: skip
    assert apps[0].settings.oauth_client.grant_types and apps[3].settings.app.url.startswith("https://")
    assert type(_ok(await okta.get_application(LEGACY_HR))).__name__ == "BasicAuthApplication"
    assert [g.scope_id for g in _ok(await okta.list_scope_consent_grants(SALESFORCE))] == ["okta.users.read"]
    assert [g.profile.actual_instance.name for g in _ok(await okta.list_groups())] == [
        "Everyone",
        "Engineering",
        "Okta Admins",
    ]
    assert _ok(await okta.list_user_groups(DAVE)) == []  # the demo org lists no memberships; the writes add one
    assert [t.name for t in _ok(await okta.list_api_tokens())] == ["ci-sync", "scim-provisioning", "legacy-report"]
    assert _ok(await okta.get_api_token(TOKEN_ID)).user_id


async def test_every_generated_sign_on_mode_deserialises(monkeypatch: pytest.MonkeyPatch) -> None:
    """A generated org's apps — SAML, OIDC, basic auth, bookmark, SWA, SPS, WS-Fed, auto-login, SAML 1.1 — all
    become the SDK's typed app models."""
    tenant = parse_tenant(okta_tenant(users=20), source="generated")
    async for okta, _ in _serve(tenant, monkeypatch):
        apps = _ok(await okta.list_applications(limit=200))
        assert len(apps) == 50
        assert {type(a).__name__ for a in apps} >= {
            "SamlApplication", "OpenIdConnectApplication", "BasicAuthApplication", "BookmarkApplication",
            "BrowserPluginApplication", "SecurePasswordStoreApplication", "WsFederationApplication",
            "AutoLoginApplication", "Saml11Application",
        }  # fmt: skip


async def test_writes_mendflow_actions_make(demo: tuple[Client, Starlette]) -> None:
    """User lifecycle, sessions and grants, group membership, role assignment, policy and rule replacement, API
    token revocation and app deactivation made through the SDK land in the simulator's state."""
    okta, _ = demo
    _ok(await okta.suspend_user(BOB))
    assert _ok(await okta.get_user(BOB)).status.value == "SUSPENDED"
    _ok(await okta.unsuspend_user(FRANK))
    assert _ok(await okta.get_user(FRANK)).status.value == "ACTIVE"
    _ok(await okta.revoke_user_sessions(BOB))
    _ok(await okta.revoke_user_grants(BOB))
    _ok(await okta.assign_user_to_group(ENGINEERING, BOB))
    assert ENGINEERING in [g.id for g in _ok(await okta.list_user_groups(BOB))]
    _ok(await okta.unassign_user_from_group(ENGINEERING, BOB))
    assert ENGINEERING not in [g.id for g in _ok(await okta.list_user_groups(BOB))]
    role = _ok(await okta.assign_role_to_user(BOB, AssignRoleToUserRequest.from_dict({"type": "READ_ONLY_ADMIN"})))
    assert "READ_ONLY_ADMIN" in _role_types(_ok(await okta.list_assigned_roles_for_user(BOB)))
    _ok(await okta.unassign_role_from_user(BOB, role.actual_instance.id))
    assert _ok(await okta.list_assigned_roles_for_user(BOB)) == []

    policy = _ok(await okta.get_policy(PASSWORD))
    policy.name = "Password (tightened)"
    assert _ok(await okta.replace_policy(PASSWORD, policy)).name == "Password (tightened)"
    rule = _ok(await okta.list_policy_rules(SIGN_ON))[0]
    rule.name = "Session rule (renamed)"
    assert _ok(await okta.replace_policy_rule(SIGN_ON, rule.id, rule)).name == "Session rule (renamed)"

    network = {"connection": "ZONE", "include": ["nzo1simcorporate0000"]}
    update = ApiTokenUpdate.from_dict(
        {"name": "ci-sync", "clientName": "Okta API", "userId": ALICE, "network": network}
    )
    _ok(await okta.upsert_api_token(TOKEN_ID, update))
    _ok(await okta.revoke_api_token(TOKEN_ID))
    assert TOKEN_ID not in [t.id for t in _ok(await okta.list_api_tokens())]
    _ok(await okta.deactivate_application(SALESFORCE))
    assert _ok(await okta.get_application(SALESFORCE)).status.value == "INACTIVE"
