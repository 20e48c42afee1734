"""The vendor objects of a tenant file section, by the resource id the connector gives each (for companions).

A value-shape companion changes one field of one resource in the tenant a case is run on, so it needs the object
behind a resource id inside a provider's section of a mendflow.tenant/v1 document (each provider finds its own:
`Provider.objects`; GitHub's and Okta's are below). The ids follow
`mendflow.playbooks.model.RESOURCE_TYPES`; objects are returned as they sit in the section (changes to them change the
tenant).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mendflow import providers

JSON = dict[str, Any]


def objects(section: JSON, resource_type: str) -> Iterator[tuple[str, JSON]]:
    """(resource id, object) for every object of `resource_type` in a provider section, in file order."""
    name = resource_type.split(".", 1)[0]
    if name in providers.names():
        yield from providers.get(name).objects(section, resource_type)


def locate(section: JSON, resource_type: str, resource_id: str) -> JSON | None:
    """The object a resource id names, or None when the section has no such object."""
    return next((found for rid, found in objects(section, resource_type) if rid == resource_id), None)


def _dicts(items: Any) -> list[JSON]:
    return [item for item in items or [] if isinstance(item, dict)]


def github_objects(section: JSON, resource_type: str) -> Iterator[tuple[str, JSON]]:
    found = section.get("org")
    org: JSON = found if isinstance(found, dict) else {}
    login = org.get("login", "")
    if resource_type == "github.org" and org:
        yield f"/orgs/{login}", org
    if resource_type == "github.app_installation":
        for item in _dicts(section.get("installations")):
            yield f"/app/installations/{item.get('id')}", item
    listed = {
        "github.member": ("members", "memberships", "login"),
        "github.outside_collaborator": ("outside_collaborators", "outside_collaborators", "login"),
        "github.org_hook": ("hooks", "hooks", "id"),
    }
    if resource_type in listed:
        key, segment, name = listed[resource_type]
        for item in _dicts(section.get(key)):
            yield f"/orgs/{login}/{segment}/{item.get(name)}", item
    children = {
        "github.repo_hook": ("_hooks", "hooks", "id"),
        "github.deploy_key": ("_keys", "keys", "id"),
        "github.collaborator": ("_collaborators", "collaborators", "login"),
    }
    for repo in _dicts(section.get("repos")):
        full_name = repo.get("full_name") or f"{login}/{repo.get('name')}"
        base = f"/repos/{full_name}"
        if resource_type == "github.repo":
            yield base, repo
        elif resource_type in children:
            key, segment, name = children[resource_type]
            for item in _dicts(repo.get(key)):
                yield f"{base}/{segment}/{item.get(name)}", item


def okta_objects(section: JSON, resource_type: str) -> Iterator[tuple[str, JSON]]:
    listed = {
        "okta.user": ("users", "/api/v1/users"),
        "okta.group": ("groups", "/api/v1/groups"),
        "okta.policy": ("policies", "/api/v1/policies"),
        "okta.api_token": ("api_tokens", "/api/v1/api-tokens"),
        "okta.app": ("apps", "/api/v1/apps"),
    }
    if resource_type in listed:
        key, base = listed[resource_type]
        for item in _dicts(section.get(key)):
            if resource_type == "okta.user" and item.get("status") == "DEPROVISIONED":
                continue  # GET /api/v1/users leaves deprovisioned users out, so no scan ever sees them
            yield f"{base}/{item.get('id')}", item
    elif resource_type == "okta.policy_rule":
        for policy in _dicts(section.get("policies")):
            for rule in _dicts(policy.get("_rules")):
                yield f"/api/v1/policies/{policy.get('id')}/rules/{rule.get('id')}", rule
    elif resource_type == "okta.oauth_grant":
        oauth = {a.get("id") for a in _dicts(section.get("apps")) if a.get("signOnMode") == "OPENID_CONNECT"}
        for grant in _dicts(section.get("grants")):
            if grant.get("clientId") in oauth:  # what the connector reads: OAuth apps' grants
                yield f"/api/v1/apps/{grant.get('clientId')}/grants/{grant.get('id')}", grant
