"""The `github` section of a mendflow.tenant/v1 file: what the GitHub connector needs to address objects.

Every vendor field is kept (`VendorObject`); only ids, names and logins are required. Repositories carry their
sub-collections under `_hooks`, `_keys`, `_collaborators`, `_branch_protection` and `_rulesets`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mendflow.providers.model import JSON, dicts
from mendflow.tenant import VendorObject


class GithubOrg(VendorObject):
    login: str


class GithubUser(VendorObject):
    login: str


class GithubHook(VendorObject):
    id: int
    config: dict[str, Any]


class GithubKey(VendorObject):
    id: int


class GithubRuleset(VendorObject):
    id: int


class GithubInstallation(VendorObject):
    id: int


class GithubRepo(VendorObject):
    name: str
    hooks: list[GithubHook] = Field(default_factory=list, alias="_hooks")
    keys: list[GithubKey] = Field(default_factory=list, alias="_keys")
    collaborators: list[GithubUser] = Field(default_factory=list, alias="_collaborators")
    branch_protection: dict[str, dict[str, Any]] = Field(default_factory=dict, alias="_branch_protection")
    rulesets: list[GithubRuleset] = Field(default_factory=list, alias="_rulesets")


class GithubSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org: GithubOrg
    members: list[GithubUser] = Field(default_factory=list)
    members_2fa_disabled: list[str] = Field(default_factory=list)
    memberships: dict[str, dict[str, Any]] = Field(default_factory=dict)
    outside_collaborators: list[GithubUser] = Field(default_factory=list)
    outside_collaborators_2fa_disabled: list[str] = Field(default_factory=list)
    hooks: list[GithubHook] = Field(default_factory=list)
    repos: list[GithubRepo] = Field(default_factory=list)
    installations: list[GithubInstallation] = Field(default_factory=list)
    """GitHub App installations (`GET /orgs/{org}/installations`): an optional extension of tenant format v1."""


def objects(section: JSON, resource_type: str) -> Iterator[tuple[str, JSON]]:
    """(resource id, vendor object) of every object of `resource_type` in the section, in file order, with the
    ids the collector gives them (`Provider.objects`)."""
    found = section.get("org")
    org: JSON = found if isinstance(found, dict) else {}
    login = org.get("login", "")
    if resource_type == "github.org" and org:
        yield f"/orgs/{login}", org
    if resource_type == "github.app_installation":
        for item in dicts(section.get("installations")):
            yield f"/app/installations/{item.get('id')}", item
    listed = {
        "github.member": ("members", "memberships", "login"),
        "github.outside_collaborator": ("outside_collaborators", "outside_collaborators", "login"),
        "github.org_hook": ("hooks", "hooks", "id"),
    }
    if resource_type in listed:
        key, segment, name = listed[resource_type]
        for item in dicts(section.get(key)):
            yield f"/orgs/{login}/{segment}/{item.get(name)}", item
    children = {
        "github.repo_hook": ("_hooks", "hooks", "id"),
        "github.deploy_key": ("_keys", "keys", "id"),
        "github.collaborator": ("_collaborators", "collaborators", "login"),
    }
    for repo in dicts(section.get("repos")):
        full_name = repo.get("full_name") or f"{login}/{repo.get('name')}"
        base = f"/repos/{full_name}"
        if resource_type == "github.repo":
            yield base, repo
        elif resource_type in children:
            key, segment, name = children[resource_type]
            for item in dicts(repo.get(key)):
                yield f"{base}/{segment}/{item.get(name)}", item
