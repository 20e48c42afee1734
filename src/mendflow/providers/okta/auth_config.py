"""`auth: {kind: okta_service_app, ...}` of an Okta tenant: the API service app and its key by reference (Okta's
`Provider.app_auth_model`; `app_auth.OktaServiceCredential` gets the access tokens)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mendflow.secrets import SecretRef


class OktaServiceAppAuth(BaseModel):
    """An Okta API Services app (OAuth 2.0 client credentials with `private_key_jwt`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["okta_service_app"]
    client_id: str = Field(min_length=1)
    private_key: SecretRef
    """PEM or JWK (JSON) private key whose public half is registered with the app."""
    key_id: str | None = None
    """`kid` of the registered public key (default: the JWK's own `kid`, if any)."""
    scopes: tuple[str, ...] | None = None
    """The scopes granted to the app in Okta; None: mendflow requests what it needs and learns what is granted."""
    key_created: date | None = None
    """When the key pair was generated: for the rotation warning."""
