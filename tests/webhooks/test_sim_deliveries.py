"""Simulators deliver the vendor's webhooks for their writes, signed or authorized as the vendor does, and the
API accepts them: Okta event hooks for user lifecycle changes, GitHub `meta` when a hook is deleted (and nothing
when one is created, as GitHub)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from mendflow.api.app import create_api_app
from mendflow.api.webhooks import MemoryDeliveryLog, WebhookReceiver
from mendflow.audit import AuditLog
from mendflow.providers.github.webhooks import github_targets
from mendflow.providers.okta.webhooks import okta_targets
from mendflow.runtime.loopback import LoopbackServer, serve_in_thread
from mendflow.secrets import SecretRef
from mendflow.sim.deliveries import WebhookTarget, github_events, okta_events
from mendflow.sim.github import create_github_app
from mendflow.sim.github_state import GithubState
from mendflow.sim.okta import create_okta_app
from mendflow.tenant import load_tenant_file
from mendflow.webhooks import WebhookSettings, WebhookTenant
from tests.connectors.conftest import GITHUB_DEMO, OKTA_DEMO

Asked = list[tuple[str, list[str], str]]


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LoopbackServer, Asked, str]]:
    """The API with webhooks for `github:acme` and `okta:acme`, one secret each (returned: the shared one)."""
    secret = "whsec-" + secrets.token_hex(10)
    monkeypatch.setenv("T_SIM_HOOK", secret)
    ref = SecretRef(ref="env:T_SIM_HOOK")
    config = WebhookSettings(
        tenants=(
            WebhookTenant(tenant="github:acme", provider="github", secret=ref),
            WebhookTenant(tenant="okta:acme", provider="okta", secret=ref),
        )
    )
    asked: Asked = []

    async def rescan(tenant: str, targets: list[str], source: str) -> None:
        asked.append((tenant, targets, source))

    audit = AuditLog(tmp_path / "audit.jsonl")
    receiver = WebhookReceiver(config, audit=audit, deliveries=MemoryDeliveryLog(), rescan=rescan)
    with serve_in_thread(create_api_app(audit=audit, webhooks=receiver)) as server:
        yield server, asked, secret


def _wait(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "no delivery within 10 s"
        time.sleep(0.02)


def test_okta_sim_delivers_an_event_hook_for_a_lifecycle_change(api: tuple[LoopbackServer, Asked, str]) -> None:
    """Suspending a user → `user.lifecycle.suspend` with the shared secret → a rescan of that user."""
    server, asked, secret = api
    token = secrets.token_urlsafe(16)
    target = WebhookTarget(f"{server.base_url}/webhooks/okta", secret)
    sim = create_okta_app(load_tenant_file(OKTA_DEMO), token=token, webhook=target)
    with serve_in_thread(sim) as okta:
        user = "00u00000000000002sim"
        answer = httpx.post(
            f"{okta.base_url}/api/v1/users/{user}/lifecycle/suspend", headers={"Authorization": f"SSWS {token}"}
        )
        assert answer.status_code == 200
        _wait(lambda: bool(asked))
    assert asked[0][:2] == ("okta:acme", [f"/api/v1/users/{user}"])
    assert sim.state.deliveries.sent["user.lifecycle.suspend"] == 1


def test_github_sim_sends_meta_when_a_hook_is_deleted_and_nothing_when_one_is_created(
    api: tuple[LoopbackServer, Asked, str],
) -> None:
    """As GitHub: creating a repository hook sends no event; deleting it sends a signed `meta` → the repo's hooks."""
    server, asked, secret = api
    token = secrets.token_urlsafe(16)
    target = WebhookTarget(f"{server.base_url}/webhooks/github", secret)
    sim = create_github_app(load_tenant_file(GITHUB_DEMO), token=token, webhook=target)
    auth = {"Authorization": f"Bearer {token}"}
    with serve_in_thread(sim) as github:
        created = httpx.post(
            f"{github.base_url}/repos/acme/docs/hooks",
            json={"name": "web", "config": {"url": "https://example.com/h", "content_type": "json"}},
            headers=auth,
        )
        assert created.status_code == 201
        time.sleep(0.3)
        assert asked == []
        assert (
            httpx.delete(f"{github.base_url}/repos/acme/docs/hooks/{created.json()['id']}", headers=auth).status_code
            == 204
        )
        _wait(lambda: bool(asked))
    assert asked[0][:2] == ("github:acme", ["/repos/acme/docs/hooks"])
    assert dict(sim.state.deliveries.sent) == {"meta": 1} and not sim.state.deliveries.failed


@pytest.mark.parametrize(
    ("method", "path", "body", "targets"),
    [
        ("PATCH", "/repos/acme/web", {"description": "x"}, [["/repos/acme/web"]]),
        (
            "PATCH",
            "/repos/acme/web",
            {"security_and_analysis": {"secret_scanning": {"status": "disabled"}}},
            [["/repos/acme/web"], ["/repos/acme/web"]],
        ),
        ("DELETE", "/repos/acme/web/branches/main/protection", {}, [["/repos/acme/web"]]),
        ("POST", "/repos/acme/web/keys", {"key": "ssh-ed25519 AAAA"}, [["/repos/acme/web/keys"]]),
        ("PUT", "/repos/acme/web/collaborators/eve", {}, [["/repos/acme/web/collaborators"]]),
        ("PUT", "/orgs/acme/memberships/eve", {"role": "admin"}, [["/orgs/acme/memberships/eve"]]),
        ("DELETE", "/orgs/acme/hooks/301", {}, [["/orgs/acme/hooks"]]),
        ("PATCH", "/repos/acme/web/hooks/21/config", {"insecure_ssl": "1"}, []),
        ("PATCH", "/orgs/acme", {"default_repository_permission": "admin"}, []),
    ],
)
def test_every_github_delivery_the_simulator_sends_maps_to_what_it_changed(
    method: str, path: str, body: dict[str, object], targets: list[list[str]]
) -> None:
    """The simulator's events and the API's mapping agree: each delivery names the resource the write changed."""
    state = GithubState(load_tenant_file(GITHUB_DEMO).section())
    deliveries = github_events(state)(method, path, body)
    assert [github_targets(d.event, d.payload) for d in deliveries] == targets


@pytest.mark.parametrize(
    ("method", "path", "targets"),
    [
        ("POST", "/api/v1/users/00u1/lifecycle/suspend", ["/api/v1/users/00u1"]),
        ("PUT", "/api/v1/policies/00p1", ["/api/v1/policies/00p1"]),
        ("PUT", "/api/v1/policies/00p1/rules/0pr1", ["/api/v1/policies/00p1/rules"]),
        ("DELETE", "/api/v1/api-tokens/00T1", ["/api/v1/api-tokens/00T1"]),
        ("DELETE", "/api/v1/users/00u1/grants/g1", []),
    ],
)
def test_every_okta_event_the_simulator_sends_maps_to_what_it_changed(
    method: str, path: str, targets: list[str]
) -> None:
    """The same for Okta's event hooks."""
    found = [t for d in okta_events("acme.okta.com")(method, path, {}) for t in okta_targets(d.payload)]
    assert found == targets
