"""Tenant files (format `mendflow.tenant/v1`): load, check the shape, and say exactly what is wrong.

A tenant file holds one SaaS tenant's state exactly as the vendor's API returns it; unknown vendor fields are
kept. The envelope is checked here; the provider's section against the model its provider declares
(`Provider.tenant_section`, e.g. `mendflow.providers.github.tenant_section`), which requires only the fields
mendflow relies on to address objects (ids, names, logins).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from mendflow import providers
from mendflow.errors import TenantFileError

TENANT_FORMAT = "mendflow.tenant/v1"


class VendorObject(BaseModel):
    """A vendor JSON object: every field kept, a few required."""

    model_config = ConfigDict(extra="allow")


class TenantFile(BaseModel):
    """The envelope; the provider's section (the key named after the provider, e.g. `github`) is kept as raw JSON
    for the simulator to serve. Sections of registered providers are the only other keys allowed."""

    model_config = ConfigDict(extra="allow")

    format: Literal["mendflow.tenant/v1"]
    provider: str
    tenant: str
    taken_at: datetime | None = None

    @field_validator("provider")
    @classmethod
    def _registered(cls, value: str) -> str:
        return providers.known(value)

    @model_validator(mode="after")
    def _sections_only(self) -> Self:
        for key, value in (self.model_extra or {}).items():
            if key not in providers.names():
                raise ValueError(f"{key!r} is neither an envelope field nor a registered provider's section")
            if value is not None and not isinstance(value, dict):
                raise ValueError(f"the {key!r} section must be an object")
        return self

    def section(self) -> dict[str, Any]:
        """The provider's own section (vendor-shaped JSON)."""
        found = (self.model_extra or {}).get(self.provider)
        if found is None:  # pragma: no cover - guarded by load_tenant_file
            raise TenantFileError(f"tenant file has no '{self.provider}' section")
        return dict(found)


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
    for key in document:
        if key not in TenantFile.model_fields and key not in providers.names() and key != document.get("provider"):
            raise TenantFileError(
                f"{source}: $.{key}: not a field of the envelope nor a registered provider's section "
                f"(providers: {', '.join(providers.names())})"
            )
    try:
        tenant = TenantFile.model_validate(document)
    except ValidationError as err:
        raise _describe(err, (), source) from None
    section = (tenant.model_extra or {}).get(tenant.provider)
    if section is None:
        raise TenantFileError(f"{source}: $.{tenant.provider}: missing: the provider's section is required")
    make_model = providers.get(tenant.provider).tenant_section
    if make_model is not None:
        model = make_model()
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
