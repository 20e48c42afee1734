"""The GitHub App the demo and `mendflow up` connect as: a fresh key pair per run, registered with the simulator.

The private key reaches the worker by reference (an environment variable holding the PEM), exactly as a
production tenants file names it; the simulator knows only the public half. The app is granted what the shipped
playbooks need and nothing more (see docs/connectors.md), so `mendflow doctor` reports it clean.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mendflow.connection_auth import GithubAppAuth
from mendflow.redaction import register_secret
from mendflow.secrets import SecretRef
from mendflow.sim.app_auth import GithubAppAuthority

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
