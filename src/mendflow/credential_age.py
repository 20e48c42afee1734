"""How old a tenant's long-lived credential is, and whether it is due for rotation (default: after 90 days).

Vendors reveal little: GitHub sends `github-authentication-token-expiration` for tokens that expire (a
fine-grained PAT's expiry, so a token valid for longer than the rotation period is flagged); app private keys and
Okta service-app keys carry no creation date the API returns, so the operator records `key_created` (or
`token_created` for an Okta API token) in the tenants file. Short-lived tokens minted by an app are not
long-lived credentials: only the app's key ages.

`record()` keeps the newest figure per tenant in `AGE_DAYS`, which the metrics exporter reads (one gauge per
tenant, `mendflow_credential_age_days`), and logs a warning once a credential passes its rotation period.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import BaseModel, ConfigDict

from mendflow import providers
from mendflow.config import TenantConnection
from mendflow.telemetry import get_logger

log = get_logger(__name__)

AGE_DAYS: dict[str, float] = {}
"""Tenant key → age in days of its long-lived credential (absent: unknown); read by the metrics exporter."""


class CredentialAge(BaseModel):
    """What is known about a tenant's long-lived credential."""

    model_config = ConfigDict(frozen=True)

    credential: str
    """Which credential: `app private key`, `service-app key`, `API token`."""
    reference: str
    """Its secret reference (never the value)."""
    age_days: int | None
    """Days since it was made; None when nobody recorded it."""
    expires: str | None = None
    """When the vendor says it stops working (GitHub tokens with an expiry)."""
    rotation_days: int
    due: bool
    """Older than `rotation_days`, or valid for longer than that from now."""
    note: str = ""


def _parse_expiry(value: str) -> datetime | None:
    """GitHub's form: `2026-03-01 00:00:00 UTC`."""
    try:
        return datetime.strptime(value.replace(" UTC", "").strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def assess(connection: TenantConnection, *, today: date, expiry_header: str | None = None) -> CredentialAge:
    """The age of the tenant's long-lived credential, from what the tenants file records and the vendor said."""
    limit = connection.rotation_days
    provider = providers.get(connection.provider)
    if connection.auth is not None:
        what = "app private key" if connection.auth.kind == "github_app" else "service-app key"
        created, reference = connection.auth.key_created, connection.auth.private_key.ref
    else:
        what = provider.credential_name
        created = connection.token_created
        reference = connection.token.ref if connection.token else "(given)"
    age = None if created is None else (today - created).days
    due = age is not None and age > limit
    notes = (
        []
        if created is not None
        else [f"record when it was made ({'key_created' if connection.auth else 'token_created'})"]
    )
    expires = None
    if expiry_header:
        when = _parse_expiry(expiry_header)
        if when is not None:
            expires = when.isoformat()
            left = (when.date() - today).days
            if left > limit:
                due = True
                notes.insert(0, f"valid for {left} more days, longer than the {limit}-day rotation period")
    elif connection.auth is None and provider.expiry_header is not None:
        notes.insert(0, f"{provider.title} reports no expiry for this token: it never expires")
    note = "; ".join(notes)
    return CredentialAge(
        credential=what, reference=reference, age_days=age, expires=expires, rotation_days=limit, due=due, note=note
    )


def record(tenant: str, age: CredentialAge) -> None:
    """Publish the figure for the metrics and warn when the credential is due for rotation."""
    if age.age_days is not None:
        AGE_DAYS[tenant] = float(age.age_days)
    if age.due:
        log.warning(
            "credential due for rotation",
            tenant=tenant,
            credential=age.credential,
            reference=age.reference,
            age_days=age.age_days,
            rotation_days=age.rotation_days,
            note=age.note,
        )
