"""The `github` section of a mendflow.tenant/v1 file: what the GitHub connector needs to address objects.

Every vendor field is kept (`VendorObject`); only ids, names and logins are required. Repositories carry their
sub-collections under `_hooks`, `_keys`, `_collaborators`, `_branch_protection` and `_rulesets`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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
