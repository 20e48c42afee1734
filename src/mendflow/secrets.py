"""Secrets by reference: configuration and workflow inputs name a secret, only activities resolve it.

A reference is `env:NAME` (an environment variable) or `file:/path` (a file's first line). The resolved value
is registered with the redactor before anyone can log it.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from mendflow.errors import InputError
from mendflow.redaction import register_secret


class SecretRef(BaseModel):
    """Names where a secret lives; safe to log, store and pass through Temporal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ref: str

    @field_validator("ref")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("env:", "file:")) or len(value) < 5:
            raise ValueError("secret reference must be 'env:NAME' or 'file:/path'")
        return value

    def resolve(self) -> str:
        """Read the secret now; raises InputError naming the reference (never the value) if absent."""
        scheme, _, where = self.ref.partition(":")
        if scheme == "env":
            value = os.environ.get(where, "")
            if not value:
                raise InputError(f"secret {self.ref}: environment variable {where} is not set")
        else:
            try:
                value = Path(where).read_text(encoding="utf-8").splitlines()[0].strip()
            except (OSError, IndexError):
                raise InputError(f"secret {self.ref}: cannot read a secret from {where}") from None
        register_secret(value)
        return value

    def resolve_document(self) -> str:
        """Read a multi-line secret (a PEM private key, a JWK) whole: a file's full text, or an environment
        variable whose `\\n` escapes stand for newlines (how one-line CI secrets carry PEM keys). Every line of it
        is registered with the redactor too, so a key quoted line by line is masked as well."""
        scheme, _, where = self.ref.partition(":")
        if scheme == "env":
            value = os.environ.get(where, "").replace("\\n", "\n").strip()
            if not value:
                raise InputError(f"secret {self.ref}: environment variable {where} is not set")
        else:
            try:
                value = Path(where).read_text(encoding="utf-8").strip()
            except OSError:
                raise InputError(f"secret {self.ref}: cannot read a secret from {where}") from None
            if not value:
                raise InputError(f"secret {self.ref}: {where} is empty")
        register_secret(value)
        for line in value.splitlines():
            if len(line.strip()) >= 16 and "PRIVATE KEY" not in line:
                register_secret(line.strip())
        return value
