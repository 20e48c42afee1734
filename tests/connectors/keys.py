"""Throwaway key pairs for the app-auth tests (canaries: any of their lines in a log or an error is a leak)."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


def rsa_pair() -> tuple[str, str]:
    """(PKCS#8 PEM private key, SubjectPublicKeyInfo PEM public key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public.decode()


def as_jwk(private_pem: str, kid: str) -> str:
    """The same private key as a JWK (JSON), as Okta's admin console hands it out."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    jwk = json.loads(RSAAlgorithm.to_jwk(key))
    return json.dumps({**jwk, "kid": kid})
