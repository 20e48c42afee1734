"""What a provider (one SaaS vendor) declares: everything mendflow branches on, in one object.

A provider is one package under `mendflow.providers`; its `__init__` builds a `Provider` and
`mendflow.providers` registers it with one line. Everything vendor-specific is reached through these fields,
never through a literal vendor name in provider-neutral code. The heavy parts (connector, actions, simulator) are
factories that import on first call, so declaring a provider costs nothing and production code never imports a
simulator. See docs/providers.md for the checklist.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel
    from starlette.applications import Starlette

    from mendflow.actions import ActionSpec
    from mendflow.config import TenantConnection
    from mendflow.connectors.actions import FieldAction
    from mendflow.connectors.credentials import Credential
    from mendflow.connectors.http import VendorHttp
    from mendflow.connectors.permissions import Permissions
    from mendflow.connectors.registry import Collector
    from mendflow.connectors.targeted import TargetedRead
    from mendflow.playbooks.model import FragmentResource
    from mendflow.rules.demand import Demand
    from mendflow.tenant import TenantFile
    from mendflow.webhooks.endpoint import WebhookEndpoint

JSON = dict[str, Any]


def dicts(items: Any) -> list[JSON]:
    """The objects in a tenant-file list (absent: none); anything else in it is skipped, as no vendor serves it."""
    return [item for item in items or [] if isinstance(item, dict)]


Reader = Callable[[Any, "re.Match[str]", "Demand | None"], Awaitable["TargetedRead"]]
"""Reads what one matched path names, with the provider's collector (targeted rescans); given the loaded rules'
`Demand`, a resource's sub-collections only where one could use them, as a full scan reads them."""


def lazy(module: str, name: str) -> Callable[[], Any]:
    """A factory field whose value is `module.name` (a table, a model), imported on the first call: declaring a
    provider imports nothing heavy, and every provider writes that once instead of a function per field."""
    return lambda: getattr(importlib.import_module(module), name)


def lazy_call(module: str, name: str) -> Callable[..., Any]:
    """A factory field that calls `module.name` (a client or collector class, a function) with its arguments,
    imported on the first call (the simulator's module only when a simulator is served)."""
    return lambda *args, **kwargs: getattr(importlib.import_module(module), name)(*args, **kwargs)


@dataclass(frozen=True, kw_only=True)
class Streamed:
    """The one collection of a tenant file section that grows with the tenant (read item by item)."""

    collection: str
    """Its key in the provider's section, e.g. `repos`."""
    item: Callable[[], type[BaseModel]]
    """The model each item is validated against, on its own."""
    repeated: frozenset[str] = frozenset()
    """Resource types every chunk repeats (served with each chunk); an offline scan keeps them once."""


@dataclass(frozen=True, kw_only=True)
class SpecSubset:
    """The vendor's API description cut to what mendflow reads (in `tests/specs/`, never read at run time), and
    the resource types described with it; `python -m mendflow.playbooks.cut tests/specs` packages the cut."""

    file: str
    """The subset's file name in `tests/specs/` (`github-subset.json`)."""
    licence: str
    """The licence note beside it (`github-subset.LICENSE.txt`), packaged with the cut."""
    types: Callable[[], Mapping[str, Mapping[str, Any]]]
    """Resource type → schema of `resource` and of `related` (the connector's facts)."""


@dataclass(frozen=True, kw_only=True)
class Provider:
    """One vendor, as mendflow needs to know it."""

    name: str
    """Lower-case name: the tenant file's `provider`, the prefix of resource types and of action names."""
    title: str
    """How people write it (`GitHub`)."""
    resource_types: Mapping[str, str]
    """Resource type → canonical path shape of its ids (`github.repo` → `/repos/{owner}/{repo}`)."""
    default_base_url: Callable[[str], str]
    """The API's base URL for a tenant name, when the configuration gives none."""
    concurrency_cap: int
    """Simultaneous requests the vendor allows per token (`max_concurrency` may not exceed it)."""
    token_schemes: tuple[str, ...]
    """Authorization schemes a long-lived token may be sent with; the first is the default."""
    credential_name: str
    """What the vendor calls a long-lived token (`personal access token`), for warnings."""
    app_auth_kind: str | None
    """The `auth.kind` of the vendor's app credential (`github_app`), or None when it has none."""
    app_auth_model: Callable[[], type[BaseModel]] | None = None
    """The configuration model of that credential (`auth:` of a tenant; its `kind` field is `app_auth_kind`)."""
    probe: str
    """A cheap read that proves a credential works (`doctor`); `{tenant}` is filled in."""
    permissions: Callable[[], Permissions] | None = None
    """What each endpoint and action needs of the credential, and how a grant is read (`doctor`, least-privilege
    token requests); None: nothing is checked."""
    expiry_header: str | None = None
    """The response header in which the vendor says when a long-lived token expires, if it does (absent on a
    probe's answer: the token never expires)."""
    http: Callable[[TenantConnection, Credential], VendorHttp]
    """The vendor's HTTP client (limits, pagination, errors) for one tenant."""
    collector: Callable[[VendorHttp, str], Collector]
    """The collector over that client, for the vendor's tenant name."""
    app_credential: Callable[[TenantConnection], Credential] | None = None
    """The credential for `auth: {kind: <app_auth_kind>}`."""
    actions: Callable[[], Mapping[str, FieldAction]]
    """Action name → implementation."""
    action_specs: Sequence[ActionSpec] = ()
    """Catalogue entries of the provider's own actions, added to `mendflow.actions.ACTIONS` on registration (what
    playbooks are checked against). GitHub's and Okta's are written in that catalogue itself."""
    targets: Callable[[], Sequence[tuple[re.Pattern[str], Reader]]] = lambda: ()
    """Paths a targeted rescan may read, with their readers."""
    owns: Callable[[str, str], bool] = lambda tenant, target: True
    """Is a target path inside this tenant? (False refuses a delivery naming another organization.)"""
    tenant_section: Callable[[], type[BaseModel]] | None = None
    """The model of the provider's section of a tenant file (None: any object)."""
    streamed: Streamed | None = None
    """The section's collection read item by item in big tenant files, if any."""
    objects: Callable[[JSON, str], Iterator[tuple[str, JSON]]] = lambda section, resource_type: iter(())
    """(resource id, vendor object) of one resource type inside a tenant file section, in file order."""
    case_tenant: Callable[[str, datetime, Sequence[FragmentResource]], tuple[str, JSON]] | None = None
    """A tenant (name, section) holding a test case's resources of one type; None: cases name a tenant file."""
    webhooks: Callable[[], WebhookEndpoint] | None = None
    """The vendor's webhook endpoint (`/webhooks/<name>`): how a delivery is authenticated and which paths it
    names; None when the vendor sends none mendflow accepts."""
    simulator: Callable[[TenantFile, str], Starlette]
    """Serve a tenant file (`token` is the only credential accepted); `app.state.<name>` is its state.
    Imports the simulator when called: only the simulator, tests and offline scans call it."""
    spec: SpecSubset | None = None
    """The spec subset the packaged `schema` is cut from (and the simulator's contract tests check against)."""
    schema: str | None = None
    """Where the cut of the vendor's API schema for the resource types is packaged, as `package:path`
    (`mendflow.data:schemas/github.json`), or None (conditions are then not type-checked)."""
