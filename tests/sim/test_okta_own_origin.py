"""Okta `_links` hrefs are served on the simulator's own base URL, as an org answers with its own host, so a
client that follows them (httpx here, as any HAL client would) stays on the simulator."""

from __future__ import annotations

from pathlib import Path

import httpx

from mendflow.runtime.loopback import serve_in_thread
from mendflow.sim.okta import create_okta_app
from mendflow.sim.own_origin import link_origins
from mendflow.tenant import load_tenant_file

DEMO = Path(__file__).resolve().parents[2] / "src" / "mendflow" / "data" / "demo-okta.json"
TOKEN = "00oktaownorigin0123456789abcdefghijklm"
ORG = "https://acme.okta.com"


def test_links_point_at_the_simulator_and_following_them_reads_the_same_objects() -> None:
    """Users' `self`, policies' `rules` and apps' `accessPolicy` hrefs carry the simulator's base; GETting them
    answers the object (or collection) they name; the tenant file keeps the org's own URLs."""
    tenant = load_tenant_file(DEMO)
    assert link_origins(tenant.section()) == (ORG,)
    with (
        serve_in_thread(create_okta_app(tenant, token=TOKEN)) as server,
        httpx.Client(base_url=server.base_url, headers={"Authorization": f"SSWS {TOKEN}"}, timeout=10) as okta,
    ):
        users = okta.get("/api/v1/users").json()
        body = okta.get("/api/v1/policies", params={"type": "OKTA_SIGN_ON"}).text
        assert ORG not in body and ORG not in okta.get("/api/v1/apps").text
        followed = okta.get(users[0]["_links"]["self"]["href"])
        policy = okta.get("/api/v1/policies", params={"type": "OKTA_SIGN_ON"}).json()[0]
        rules = okta.get(policy["_links"]["rules"]["href"])
    for user in users:
        assert user["_links"]["self"]["href"] == f"{server.base_url}/api/v1/users/{user['id']}"
    assert followed.status_code == 200 and followed.json()["id"] == users[0]["id"]
    assert rules.status_code == 200 and rules.json() and all(r["id"] for r in rules.json())
    assert tenant.section()["users"][0]["_links"]["self"]["href"].startswith(f"{ORG}/api/v1/users/")


def test_link_origins_reads_nested_and_listed_hrefs_and_ignores_other_urls() -> None:
    """Origins come from `_links` only (a list of links too), http(s) only; other URL-valued fields do not count."""
    section = {
        "apps": [{"settings": {"url": "https://elsewhere.example/x"},
                  "_links": {"logo": [{"href": "https://acme.okta.com/logo.png"}], "bad": {"href": "mailto:x@y"}}}],
        "users": [{"_links": {"self": {"href": "http://acme.oktapreview.com:8443/api/v1/users/1"}}}],
    }  # fmt: skip
    assert link_origins(section) == ("http://acme.oktapreview.com:8443", "https://acme.okta.com")
