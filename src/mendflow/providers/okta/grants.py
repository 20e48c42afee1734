"""Okta OAuth 2.0 scope-consent grants of the org's OAuth apps, as resources (`okta.oauth_grant`).

An OAuth client (an `OPENID_CONNECT` app: web, SPA, native or API service app) holds the Okta API scopes it was
granted (`okta.users.manage`, …); `GET /api/v1/apps/{appId}/grants` lists them (`scopeId`, `status`, `source`
ADMIN or END_USER, `clientId`, `created`). Apps of other sign-on modes (SAML, SWA, bookmarks) cannot hold grants,
so they are not asked: one request per OAuth app. A 403 on one app's grants is a coverage gap of that listing.

A grant's id is `/api/v1/apps/{appId}/grants/{grantId}` (`GET` of it returns the grant); `related.app` carries the
app the grant belongs to (`id`, `label`, `signOnMode`, `status`), so a rule can leave inactive apps alone.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mendflow.connectors.coverage import Coverage
from mendflow.connectors.http import VendorHttp
from mendflow.models import Resource

RESOURCE_TYPE = "okta.oauth_grant"
OAUTH_MODES = frozenset({"OPENID_CONNECT"})
"""Sign-on modes of OAuth 2.0 clients, the only apps that hold scope grants."""
TEMPLATE = "/api/v1/apps/{id}/grants"
APP_FACTS = ("id", "label", "signOnMode", "status")


def app_summary(app: dict[str, Any]) -> dict[str, Any]:
    """What a grant carries of its app (`related.app`)."""
    return {k: app.get(k) for k in APP_FACTS}


def grant_resource(app: dict[str, Any], grant: dict[str, Any]) -> Resource:
    return Resource(
        type=RESOURCE_TYPE,
        id=f"/api/v1/apps/{app['id']}/grants/{grant['id']}",
        data=grant,
        related={"app": app_summary(app)},
    )


async def collect_grants(http: VendorHttp, coverage: Coverage, apps: list[dict[str, Any]]) -> list[Resource]:
    """The grants of every OAuth app in `apps`, read concurrently (the HTTP layer bounds the requests)."""
    oauth = [app for app in apps if app.get("signOnMode") in OAUTH_MODES]
    listed = await asyncio.gather(
        *(coverage.read_list(http, f"/api/v1/apps/{app['id']}/grants", template=TEMPLATE) for app in oauth)
    )
    return [grant_resource(app, grant) for app, grants in zip(oauth, listed, strict=True) for grant in grants or []]


async def fetch_grant(http: VendorHttp, resource_id: str) -> Resource | None:
    """Re-read one grant and its app; None when either is gone (a revoked grant answers 404)."""
    app_path = resource_id.rsplit("/grants/", 1)[0]
    app, grant = await asyncio.gather(http.get_optional(app_path), http.get_optional(resource_id))
    if app is None or grant is None:
        return None
    return grant_resource(app, grant)
