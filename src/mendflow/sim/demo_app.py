"""Apps registered with the simulators: the demo's GitHub App, and the ones `mendflow sim` registers on request.

The demo and `mendflow up` connect as a GitHub App with a fresh key pair per run: the private key reaches the
worker by reference (an environment variable holding the PEM), exactly as a production tenants file names it; the
simulator knows only the public half. Unless told otherwise, apps are granted what the shipped playbooks need and
nothing more (see docs/connectors.md), so `mendflow doctor` reports them clean.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mendflow.errors import InputError
from mendflow.providers.github.auth_config import GithubAppAuth
from mendflow.redaction import register_secret
from mendflow.secrets import SecretRef
from mendflow.sim.app_auth import GithubAppAuthority, OktaServiceApp, OktaServiceAuthority

DEMO_APP_KEY_ENV = "MENDFLOW_DEMO_APP_KEY"
DEMO_APP_ID = "424242"
SHIPPED_PLAYBOOK_PERMISSIONS = {
    "organization_administration": "write",
    "members": "read",
    "organization_hooks": "write",
    "metadata": "read",
    "administration": "write",
    "repository_hooks": "write",
}
"""What the shipped GitHub playbooks need: every scan read, and the writes of their enabled actions."""
SHIPPED_PLAYBOOK_SCOPES = (
    "okta.apiTokens.manage", "okta.apiTokens.read", "okta.appGrants.manage", "okta.appGrants.read", "okta.apps.read",
    "okta.groups.read", "okta.policies.manage", "okta.policies.read", "okta.roles.read", "okta.users.manage",
    "okta.users.read",
)  # fmt: skip
"""What the shipped Okta playbooks need: the seven read scopes of a scan and the four manage scopes they write with."""


def demo_github_app() -> tuple[GithubAppAuthority, GithubAppAuth]:
    """A registered app for the simulator and the tenant's `auth` naming its key by reference."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    register_secret(private)
    os.environ[DEMO_APP_KEY_ENV] = private
    authority = GithubAppAuthority(
        app_id=DEMO_APP_ID, public_key=public.decode(), permissions=dict(SHIPPED_PLAYBOOK_PERMISSIONS)
    )
    auth = GithubAppAuth(kind="github_app", app_id=DEMO_APP_ID, private_key=SecretRef(ref=f"env:{DEMO_APP_KEY_ENV}"))
    return authority, auth


def _public_key(path: Path, option: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise InputError(f"{option} {path}: cannot read the public key") from None
    if "PUBLIC KEY" not in text:
        raise InputError(f"{option} {path}: not a PEM public key (-----BEGIN PUBLIC KEY-----)")
    return text


def github_authority(app_id: str, public_key: Path, permissions: str | None) -> GithubAppAuthority:
    """`mendflow sim github --app-id … --app-public-key … [--app-permissions members=read,…]`."""
    granted = dict(SHIPPED_PLAYBOOK_PERMISSIONS)
    if permissions:
        granted = {}
        for item in permissions.split(","):
            name, _, level = item.strip().partition("=")
            if level not in ("read", "write") or not name:
                raise InputError(f"--app-permissions: {item.strip()!r} is not NAME=read or NAME=write")
            granted[name] = level
    return GithubAppAuthority(
        app_id=app_id, public_key=_public_key(public_key, "--app-public-key"), permissions=granted
    )


def okta_authority(client_id: str, public_key: Path, scopes: str | None) -> OktaServiceAuthority:
    """`mendflow sim okta --service-app … --service-app-public-key … [--service-app-scopes a,b]`."""
    granted = (
        frozenset(s.strip() for s in scopes.split(",") if s.strip()) if scopes else frozenset(SHIPPED_PLAYBOOK_SCOPES)
    )
    app = OktaServiceApp(client_id, _public_key(public_key, "--service-app-public-key"), granted)
    return OktaServiceAuthority(apps={client_id: app})
