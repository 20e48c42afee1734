"""GitHub App installations of an organization, as resources (`github.app_installation`).

`GET /orgs/{org}/installations` lists every app installed on the org or on some of its repositories, with what
each may do: `repository_selection` (`all` or `selected`), `permissions` (name → `read`/`write`/`admin`) and the
`events` it receives. The listing is one small paginated collection (GitHub wraps it in `{"total_count",
"installations"}`); it needs an org owner (`admin:read`) or an app with `organization_administration:read`, so
a 403 is a coverage gap, not a failure.

A resource's id is `/app/installations/{id}`: the only path that GETs one installation (as the app itself,
which mendflow is not), so `fetch` re-reads it from the org's listing.
"""

from __future__ import annotations

from typing import Any

from mendflow.connectors.coverage import Coverage
from mendflow.connectors.http import VendorHttp
from mendflow.models import Resource

RESOURCE_TYPE = "github.app_installation"
LISTED = "installations"
"""The key of the list in GitHub's answer."""
PAGE = {"per_page": 100}


def org_account(login: str, org_id: int) -> dict[str, Any]:
    """The `account` of an installation on an organization: GitHub's simple-user object of the org (used to build
    installations for test cases and generated tenants, which must be what GitHub serves)."""
    api = f"https://api.github.com/users/{login}"
    return {
        "login": login, "id": org_id, "node_id": f"O_sim{org_id}", "gravatar_id": "",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{org_id}?v=4", "url": api,
        "html_url": f"https://github.com/{login}", "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}", "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs", "repos_url": f"{api}/repos", "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events", "type": "Organization", "site_admin": False,
    }  # fmt: skip


def installation_id(installation: dict[str, Any]) -> str:
    """The canonical id of one installation object."""
    return f"/app/installations/{installation['id']}"


async def collect_installations(http: VendorHttp, coverage: Coverage, org: str) -> list[Resource] | None:
    """Every installation on the org; None when the listing may not be read (a coverage gap)."""
    listed = await coverage.read_list(http, f"/orgs/{org}/installations", params=PAGE, items=LISTED)
    return None if listed is None else [Resource(type=RESOURCE_TYPE, id=installation_id(i), data=i) for i in listed]


async def fetch_installation(http: VendorHttp, org: str, resource_id: str) -> Resource | None:
    """Re-read one installation from the org's listing; None when it is no longer installed."""
    async for installation in http.paginate(f"/orgs/{org}/installations", params=PAGE, items=LISTED):
        if installation_id(installation) == resource_id:
            return Resource(type=RESOURCE_TYPE, id=resource_id, data=installation)
    return None
