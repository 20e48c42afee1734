"""`doctor` against the simulators: needed vs granted per capability, missing and excess, credential age, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from structlog.testing import capture_logs

from mendflow.config import TenantConnection
from mendflow.connectors.credentials import forget_minted_tokens
from mendflow.credential_age import AGE_DAYS
from mendflow.doctor import Status, TenantCheck, check_tenant, log_checkup, render
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.playbooks.model import Playbook
from mendflow.providers.github.auth_config import GithubAppAuth
from mendflow.providers.okta.app_auth import _GRANTED
from mendflow.providers.okta.auth_config import OktaServiceAppAuth
from mendflow.providers.okta.permissions import READ_SCOPES as OKTA_READ_SCOPES
from mendflow.runtime.loopback import serve_in_thread
from mendflow.secrets import SecretRef
from mendflow.sim.app_auth import GithubAppAuthority, OktaServiceApp, OktaServiceAuthority
from mendflow.sim.common import FaultPlan
from mendflow.sim.github import create_github_app
from mendflow.sim.okta import create_okta_app
from mendflow.tenant import TenantFile
from tests.connectors.conftest import serve
from tests.connectors.keys import rsa_pair

PRIVATE, PUBLIC = rsa_pair()
GITHUB_FULL = {
    "organization_administration": "write",
    "members": "read",
    "organization_hooks": "write",
    "metadata": "read",
    "administration": "write",
    "repository_hooks": "write",
}
OKTA_MANAGE = {"okta.users.manage", "okta.policies.manage", "okta.apiTokens.manage", "okta.appGrants.manage"}
PLAYBOOKS = load_playbooks([bundled_playbook_dir()]).playbooks


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    forget_minted_tokens()
    _GRANTED.clear()
    yield
    forget_minted_tokens()
    _GRANTED.clear()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "key.pem"
    path.write_text(PRIVATE)
    return path


def _statuses(check: TenantCheck) -> dict[str, Status]:
    return {row.needed or row.granted or "": row.status for row in check.rows}


async def _github(tenant: TenantFile, key: Path, permissions: dict[str, str], **auth: object) -> TenantCheck:
    authority = GithubAppAuthority(app_id="7", public_key=PUBLIC, permissions=permissions)
    with serve_in_thread(create_github_app(tenant, token="unused-static-0000", app_auth=authority)) as server:
        connection = TenantConnection(
            key="github:acme", provider="github", tenant="acme", base_url=server.base_url,
            auth=GithubAppAuth(kind="github_app", app_id="7", private_key=SecretRef(ref=f"file:{key}"), **auth),
        )  # fmt: skip
        return await check_tenant(connection, PLAYBOOKS)


async def _okta(tenant: TenantFile, key: Path, granted: set[str], playbooks: list[Playbook] = PLAYBOOKS) -> TenantCheck:
    authority = OktaServiceAuthority(apps={"0oaDOC": OktaServiceApp("0oaDOC", PUBLIC, frozenset(granted))})
    with serve_in_thread(create_okta_app(tenant, token="unused-static-0000", service_apps=authority)) as server:
        auth = OktaServiceAppAuth(kind="okta_service_app", client_id="0oaDOC", private_key=SecretRef(ref=f"file:{key}"))
        connection = TenantConnection(
            key=f"okta:{tenant.tenant}", provider="okta", tenant=tenant.tenant, base_url=server.base_url, auth=auth
        )
        return await check_tenant(connection, playbooks)


async def test_github_app_with_exactly_what_is_needed_is_ok(github_tenant: TenantFile, key_file: Path) -> None:
    """Every scan read and every enabled action's write is granted: all rows ok, nothing excess."""
    check = await _github(github_tenant, key_file, dict(GITHUB_FULL))
    assert check.ok, render_one(check)
    assert set(_statuses(check).values()) == {Status.ok}
    hooks = next(r for r in check.rows if r.needed == "organization_hooks:write")
    assert hooks.used_by == ("github.org_hook.host_not_allowed", "github.org_hook.insecure_ssl")


async def test_github_missing_and_excess_permissions_are_named(github_tenant: TenantFile, key_file: Path) -> None:
    """No organization_hooks: its read and write are missing; an unused contents:write is excess."""
    granted = {k: v for k, v in GITHUB_FULL.items() if k != "organization_hooks"} | {"contents": "write"}
    check = await _github(github_tenant, key_file, granted)
    statuses = _statuses(check)
    assert not check.ok
    assert statuses["organization_hooks:read"] is Status.missing
    assert statuses["organization_hooks:write"] is Status.missing
    assert statuses["contents:write"] is Status.excess
    assert statuses["members:read"] is Status.ok


async def test_github_write_granted_where_only_read_is_needed_says_so(
    github_tenant: TenantFile, key_file: Path
) -> None:
    """`members:write` covers the needed `members:read` (ok), and is itself excess, labelled as more than needed."""
    check = await _github(github_tenant, key_file, dict(GITHUB_FULL) | {"members": "write"})
    statuses = _statuses(check)
    assert statuses["members:read"] is Status.ok and statuses["members:write"] is Status.excess
    extra = next(r for r in check.rows if r.granted == "members:write" and r.needed is None)
    assert extra.capability == "write granted, only read needed"


async def test_okta_scopes_needed_granted_and_excess(okta_tenant: TenantFile, key_file: Path) -> None:
    """Without the API-token playbook, okta.apiTokens.manage is excess; without policies.manage, it is missing."""
    playbooks = [p for p in PLAYBOOKS if p.respond is None or p.respond.action != "okta.api_token.revoke"]
    granted = set(OKTA_READ_SCOPES) | OKTA_MANAGE - {"okta.policies.manage"}
    check = await _okta(okta_tenant, key_file, granted, playbooks)
    statuses = _statuses(check)
    assert statuses["okta.apiTokens.manage"] is Status.excess
    assert statuses["okta.policies.manage"] is Status.missing
    assert statuses["okta.users.read"] is Status.ok
    assert not check.ok


async def test_okta_service_app_with_every_needed_scope_is_ok(okta_tenant: TenantFile, key_file: Path) -> None:
    """All read scopes and the four manage scopes the shipped playbooks use: ok."""
    check = await _okta(okta_tenant, key_file, set(OKTA_READ_SCOPES) | OKTA_MANAGE)
    assert check.ok and set(_statuses(check).values()) == {Status.ok}


async def test_wrong_key_is_not_authenticated_and_named(github_tenant: TenantFile, tmp_path: Path) -> None:
    """A key the app does not know: not authenticated, the problem names tenant and reference, not the key."""
    other, _ = rsa_pair()
    wrong = tmp_path / "wrong.pem"
    wrong.write_text(other)
    check = await _github(github_tenant, wrong, dict(GITHUB_FULL))
    assert check.reachable and not check.authenticated and not check.ok
    assert check.problem is not None and "github:acme" in check.problem and f"file:{wrong}" in check.problem
    assert other.splitlines()[2] not in check.problem


async def test_old_long_lived_token_is_due_for_rotation(
    github_tenant: TenantFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PAT made 200 days ago: reads tried (ok), writes unverified, due for rotation, warned and published."""
    made = (datetime.now(UTC) - timedelta(days=200)).date()
    with serve(github_tenant, token_created=made, rotation_days=90) as served, capture_logs() as logs:
        monkeypatch.setenv("MENDFLOW_TEST_UNUSED", served.token)
        check = await check_tenant(served.connection, PLAYBOOKS)
    statuses = _statuses(check)
    assert {p for p, st in statuses.items() if st is Status.unverified} == {p for p in statuses if p.endswith(":write")}
    assert statuses["members:read"] is Status.ok
    assert check.credential_age is not None and check.credential_age.due and check.credential_age.age_days == 200
    assert AGE_DAYS["github:acme"] == 200.0
    warned = [e for e in logs if e["event"] == "credential due for rotation"]
    assert [(e["tenant"], e["age_days"], e["reference"]) for e in warned] == [
        ("github:acme", 200, "env:MENDFLOW_TEST_UNUSED")
    ]
    assert served.token not in repr(logs)


def render_one(check: TenantCheck) -> str:
    from mendflow.doctor import DoctorReport

    return render(DoctorReport(tenants=(check,)))


@pytest.mark.slow  # a `mendflow` process starts (~3 s idle, more on a loaded machine)
def test_cli_doctor_reports_json_and_fails_on_a_missing_permission(
    github_tenant: TenantFile, key_file: Path, tmp_path: Path
) -> None:
    """`mendflow doctor --format json` lists the rows; a missing read permission exits 1."""
    granted = {k: v for k, v in GITHUB_FULL.items() if k != "members"}
    authority = GithubAppAuthority(app_id="7", public_key=PUBLIC, permissions=granted)
    with serve_in_thread(create_github_app(github_tenant, token="unused-static-0000", app_auth=authority)) as server:
        tenants = tmp_path / "tenants.yaml"
        auth = {"kind": "github_app", "app_id": "7", "private_key": {"ref": f"file:{key_file}"}}
        entry = {
            "key": "github:acme",
            "provider": "github",
            "tenant": "acme",
            "base_url": server.base_url,
            "auth": auth,
        }
        tenants.write_text(yaml.safe_dump({"tenants": [entry]}))
        done = subprocess.run(
            [str(Path(sys.executable).parent / "mendflow"), "doctor", "--tenants", str(tenants), "--format", "json"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    rows = json.loads(done.stdout)["tenants"][0]["rows"]
    assert {r["needed"]: r["status"] for r in rows}["members:read"] == "missing"
    assert PRIVATE.splitlines()[2] not in done.stdout + done.stderr


async def test_worker_checkup_logs_missing_and_excess(github_tenant: TenantFile, key_file: Path) -> None:
    """What a worker logs at start: one warning per tenant naming what is missing and what is excess."""
    granted = {k: v for k, v in GITHUB_FULL.items() if k != "members"} | {"contents": "read"}
    authority = GithubAppAuthority(app_id="7", public_key=PUBLIC, permissions=granted)
    with serve_in_thread(create_github_app(github_tenant, token="unused-static-0000", app_auth=authority)) as server:
        auth = GithubAppAuth(kind="github_app", app_id="7", private_key=SecretRef(ref=f"file:{key_file}"))
        connection = TenantConnection(
            key="github:acme", provider="github", tenant="acme", base_url=server.base_url, auth=auth
        )
        with capture_logs() as logs:
            await log_checkup([connection], PLAYBOOKS)
    [line] = [e for e in logs if e["event"] == "doctor"]
    assert line["log_level"] == "warning" and line["tenant"] == "github:acme"
    assert line["missing"] == ["members:read"] and line["excess"] == ["contents:read"]


async def test_long_lived_token_reads_are_tried_and_a_refused_one_is_missing(
    github_tenant: TenantFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PAT the org refuses its webhooks: organization_hooks:read is missing; the other reads answered."""
    with serve(github_tenant, FaultPlan(forbidden=("/orgs/*/hooks",))) as served:
        monkeypatch.setenv("MENDFLOW_TEST_UNUSED", served.token)
        check = await check_tenant(served.connection, PLAYBOOKS)
    statuses = _statuses(check)
    assert statuses["organization_hooks:read"] is Status.missing
    assert statuses["repository_hooks:read"] is Status.ok and statuses["administration:read"] is Status.ok
    assert not check.ok


async def test_one_connection_serves_a_tenants_probe_and_its_reads(
    github_tenant: TenantFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long-lived token's check (the probe, then a read per permission) goes through one session: every request
    the simulator sees arrives on one client connection, not a new client for the reads."""
    with serve(github_tenant) as served:
        monkeypatch.setenv("MENDFLOW_TEST_UNUSED", served.token)
        inner = served.app.middleware_stack or served.app.build_middleware_stack()
        clients: list[tuple[str, int]] = []

        async def seen(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                clients.append(tuple(scope["client"]))
            await inner(scope, receive, send)

        served.app.middleware_stack = seen  # type: ignore[assignment]
        check = await check_tenant(served.connection, PLAYBOOKS)
    assert check.authenticated and _statuses(check)["members:read"] is Status.ok
    assert len(clients) > 2 and len(set(clients)) == 1, clients
