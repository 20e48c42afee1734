"""Permissions as data: the vendor permission (GitHub App) or OAuth scope (Okta) each endpoint and action needs.

Each provider declares its table (`Provider.permissions`, e.g. `providers/github/permissions.py`: GitHub App
permissions `name:level`; `providers/okta/permissions.py`: Okta OAuth scopes). `needed(provider, method, path)` maps
a concrete request to its need; `doctor` compares what the loaded playbooks need with what the credential was
granted.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from mendflow import providers

if TYPE_CHECKING:
    from mendflow.config import TenantConnection
    from mendflow.connectors.credentials import Credential
    from mendflow.connectors.http import VendorHttp


@dataclass(frozen=True)
class Need:
    """One endpoint's requirement."""

    method: str
    template: str
    permission: str
    capability: str
    """What the permission buys, in words a reviewer reads (`read org members`)."""
    scan: bool = True
    """A read the scan makes (False: only response workflows read it, e.g. the System Log), so `doctor` and the
    scopes a scan asks for leave it out."""


def need(method: str, template: str, permission: str, capability: str) -> Need:
    """An endpoint the scan (or a remediation action) calls."""
    return Need(method, template, permission, capability)


def response_need(method: str, template: str, permission: str, capability: str) -> Need:
    """An endpoint only response workflows call (their reads and writes; never the scan's)."""
    return Need(method, template, permission, capability, scan=False)


def _nothing_implied(granted: str) -> str | None:
    return None


async def _unlisted(connection: TenantConnection, credential: Credential) -> frozenset[str] | None:
    return None


@dataclass(frozen=True, kw_only=True)
class Permissions:
    """One provider's permissions as data (`Provider.permissions`)."""

    needs: tuple[Need, ...]
    """What each endpoint the connector and the actions call needs."""
    actions: Mapping[str, str]
    """Action name → the write permission it needs (its reads are the scan's)."""
    implied: Callable[[str], str | None] = _nothing_implied
    """A granted permission → the one it also grants (GitHub: `x:write` → `x:read`), if any."""
    read_probes: Mapping[str, str] = field(default_factory=dict)
    """Permission → a small read that needs it (`{org}` and what `probe_values` gives filled in): how `doctor`
    tries a long-lived token, whose permissions cannot be listed."""
    probe_values: Callable[[VendorHttp, str], Awaitable[dict[str, str]]] | None = None
    """More placeholder values for the probes (GitHub: one `repo`); a probe missing one is skipped."""
    granted: Callable[[TenantConnection, Credential], Awaitable[frozenset[str] | None]] = _unlisted
    """What the vendor granted an app credential; None for a long-lived token (not listable)."""
    long_lived_warning: str | None = None
    """Said by `doctor` about any long-lived token (Okta: an SSWS token holds every privilege of its admin)."""


def permissions_of(provider: str) -> Permissions | None:
    """The provider's permissions table, or None when it declares none (a provider without least-privilege data)."""
    if provider not in providers.names():
        return None
    declared = providers.get(provider).permissions
    return declared() if declared is not None else None


def needs_of(provider: str) -> tuple[Need, ...]:
    found = permissions_of(provider)
    return found.needs if found is not None else ()


def action_needs() -> dict[str, str]:
    """Every registered action → the write permission it needs."""
    out: dict[str, str] = {}
    for provider in providers.names():
        found = permissions_of(provider)
        if found is not None:
            out.update(found.actions)
    return out


def scan_needs(provider: str) -> list[Need]:
    """What a scan of `provider` reads (every GET the collector makes)."""
    return [n for n in needs_of(provider) if n.method == "GET" and n.scan]


@cache
def _patterns(provider: str) -> tuple[tuple[str, re.Pattern[str], str], ...]:
    return tuple(
        (n.method, re.compile(re.sub(r"\{[^}]+\}", "[^/]+", n.template)), n.permission) for n in needs_of(provider)
    )


def needed(provider: str, method: str, path: str) -> str | None:
    """The permission a concrete request needs (None: not in the table, e.g. `/rate_limit`)."""
    provider = provider.lower()
    for want, pattern, permission in _patterns(provider):
        if want == method.upper() and pattern.fullmatch(path.split("?")[0]):
            return permission
    return None


def satisfied(provider: str, need: str, granted: Iterable[str]) -> bool:
    """Is `need` covered by `granted`, itself or by what a grant implies (GitHub `x:write` covers `x:read`; Okta
    scopes must match exactly)?"""
    held = set(granted)
    if need in held:
        return True
    found = permissions_of(provider)
    return found is not None and any(found.implied(g) == need for g in held)
