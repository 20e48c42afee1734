"""Tenant files (format `mendflow.tenant/v1`): load, check the shape, and say exactly what is wrong.

A tenant file holds one SaaS tenant's state exactly as the vendor's API returns it; unknown vendor fields are
kept. Only the fields mendflow relies on to address objects (ids, names, logins) are required here.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mendflow.errors import TenantFileError

TENANT_FORMAT = "mendflow.tenant/v1"


class VendorObject(BaseModel):
    """A vendor JSON object: every field kept, a few required."""

    model_config = ConfigDict(extra="allow")


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


class OktaObject(VendorObject):
    id: str


class OktaUser(OktaObject):
    status: str
    profile: dict[str, Any]


class OktaPolicyRule(OktaObject):
    name: str
    type: str


class OktaPolicy(OktaObject):
    name: str
    type: str
    rules: list[OktaPolicyRule] = Field(default_factory=list, alias="_rules")


class OktaApiToken(OktaObject):
    name: str


class OktaApp(OktaObject):
    label: str
    signOnMode: str


class OktaSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: list[OktaUser] = Field(default_factory=list)
    user_roles: dict[str, list[VendorObject]] = Field(default_factory=dict)
    """User id → role-assignment objects (`GET /api/v1/users/{id}/roles`)."""
    user_factors: dict[str, list[OktaObject]] = Field(default_factory=dict)
    """User id → factor objects (`GET /api/v1/users/{id}/factors`)."""
    groups: list[OktaObject] = Field(default_factory=list)
    policies: list[OktaPolicy] = Field(default_factory=list)
    api_tokens: list[OktaApiToken] = Field(default_factory=list)
    apps: list[OktaApp] = Field(default_factory=list)
    grants: list[OktaObject] = Field(default_factory=list)
    """OAuth 2.0 scope-consent grants (`/api/v1/users/{id}/grants`, `/api/v1/apps/{id}/grants`): a simulator
    extension of tenant format v1, optional."""
    group_members: dict[str, list[str]] = Field(default_factory=dict)
    """Group id → member user ids (`/api/v1/groups/{id}/users`, `/api/v1/users/{id}/groups`); optional."""
    sessions: dict[str, int] = Field(default_factory=dict)
    """User id → open sign-in sessions. Okta serves no read of them; the simulator counts them so tests can see
    `DELETE /api/v1/users/{id}/sessions` work. Optional."""
    refresh_tokens: list[OktaObject] = Field(default_factory=list)
    """OAuth 2.0 refresh tokens with `userId` and `clientId` (`/api/v1/users/{id}/clients/{clientId}/tokens`)."""
    log_events: list[VendorObject] = Field(default_factory=list)
    """System Log events (`GET /api/v1/logs`), oldest first; the simulator appends one per response write."""


class TenantFile(BaseModel):
    """The envelope; the provider's section is kept as raw JSON for the simulator to serve."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["mendflow.tenant/v1"]
    provider: Literal["github", "okta"]
    tenant: str
    taken_at: datetime | None = None
    github: dict[str, Any] | None = None
    okta: dict[str, Any] | None = None

    def section(self) -> dict[str, Any]:
        """The provider's own section (vendor-shaped JSON)."""
        found = getattr(self, self.provider)
        if found is None:  # pragma: no cover - guarded by load_tenant_file
            raise TenantFileError(f"tenant file has no '{self.provider}' section")
        return dict(found)


_SECTION_MODELS: dict[str, type[BaseModel]] = {"github": GithubSection, "okta": OktaSection}


def json_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as a JSON path: `$.github.repos[2]._hooks[0].id`."""
    out = "$"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _describe(err: ValidationError, prefix: tuple[int | str, ...], source: str) -> TenantFileError:
    lines = [f"{source}: not a valid {TENANT_FORMAT} tenant file:"]
    for item in err.errors()[:20]:
        lines.append(f"  {json_path(prefix + tuple(item['loc']))}: {item['msg']}")
    if err.error_count() > 20:
        lines.append(f"  … and {err.error_count() - 20} more")
    return TenantFileError("\n".join(lines))


def parse_tenant(document: Any, *, source: str) -> TenantFile:
    """Validate an already-decoded document; `source` names it in errors."""
    if not isinstance(document, dict):
        raise TenantFileError(f"{source}: $: expected an object, found {type(document).__name__}")
    fmt = document.get("format")
    if fmt != TENANT_FORMAT:
        raise TenantFileError(f"{source}: $.format: expected '{TENANT_FORMAT}', found {fmt!r}")
    try:
        tenant = TenantFile.model_validate(document)
    except ValidationError as err:
        raise _describe(err, (), source) from None
    section = getattr(tenant, tenant.provider)
    if section is None:
        raise TenantFileError(f"{source}: $.{tenant.provider}: missing: the provider's section is required")
    model = _SECTION_MODELS.get(tenant.provider)
    if model is not None:
        try:
            model.model_validate(section)
        except ValidationError as err:
            raise _describe(err, (tenant.provider,), source) from None
    return tenant


def load_tenant_file(path: str | Path) -> TenantFile:
    """Read a whole JSON or YAML tenant file; every problem is a TenantFileError naming the file and JSON path.

    The file is first checked in one streaming pass (`tenant_stream.check`: bounded memory, binary, non-UTF-8,
    truncated and deeply nested files refused), so decoding it whole afterwards cannot fail or recurse deeply.
    Scans of big files use `tenant_stream` directly and never hold the whole tenant.
    """
    from mendflow.tenant_stream import check  # it builds on this module's models

    checked = check(Path(path))
    if checked.whole or checked.streamed == 0:
        return checked.head
    with checked.path.open("rb") as handle:
        return parse_tenant(json.load(handle), source=str(checked.path))
