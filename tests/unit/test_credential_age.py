"""Credential age: recorded creation dates, GitHub's token-expiration header, and the rotation period."""

from __future__ import annotations

from datetime import date

from mendflow.config import TenantConnection
from mendflow.credential_age import assess
from mendflow.providers.github.auth_config import GithubAppAuth
from mendflow.secrets import SecretRef

TODAY = date(2026, 12, 6)


def _pat(**extra: object) -> TenantConnection:
    return TenantConnection(
        key="github:acme", provider="github", tenant="acme", token=SecretRef(ref="env:PAT"), **extra
    )


def test_pat_expiring_beyond_the_rotation_period_is_due() -> None:
    """GitHub says the PAT expires in a year: longer than 90 days from now, so it is due."""
    age = assess(_pat(), today=TODAY, expiry_header="2027-12-01 00:00:00 UTC")
    assert age.due and age.expires is not None and "longer than the 90-day" in age.note


def test_pat_expiring_within_the_rotation_period_is_not_due() -> None:
    """A PAT that expires in a month and was made last week is fine."""
    age = assess(_pat(token_created=date(2026, 11, 29)), today=TODAY, expiry_header="2027-01-05 00:00:00 UTC")
    assert not age.due and age.age_days == 7


def test_pat_without_expiry_says_it_never_expires() -> None:
    """No expiration header from GitHub: the token never expires, which the note says."""
    assert "never expires" in assess(_pat(), today=TODAY).note


def test_app_key_age_comes_from_key_created_and_its_own_period() -> None:
    """An app key made 100 days ago with a 120-day period is not due; with the default 90 it is."""
    auth = GithubAppAuth(kind="github_app", app_id="1", private_key=SecretRef(ref="file:/k.pem"),
                         key_created=date(2026, 8, 28))  # fmt: skip
    base = {"key": "github:acme", "provider": "github", "tenant": "acme", "auth": auth}
    lenient = assess(TenantConnection(**base, rotation_days=120), today=TODAY)  # type: ignore[arg-type]
    strict = assess(TenantConnection(**base), today=TODAY)  # type: ignore[arg-type]
    assert (lenient.age_days, lenient.due, strict.due) == (100, False, True)
    assert strict.credential == "app private key" and strict.reference == "file:/k.pem"
