"""The one error hierarchy of mendflow.

MendflowError                 base: a message that says what was wrong, where, and what to do
├── InputError                bad user input (tenant file, playbook, CLI argument); exit code 2
│   ├── TenantFileError       a tenant file that cannot be read or has the wrong shape
│   ├── PlaybookError         a playbook that cannot be loaded (carries file:line:column)
│   └── PayloadKeyError       a Temporal payload names a key the ring lacks, or does not decrypt with it
├── ConnectionProblem         a peer (Temporal, a vendor API, a simulator) cannot be reached
│   └── StoreError            the database (SQLite file or PostgreSQL) cannot be reached or migrated
├── VendorError               a vendor API answered with an error we cannot recover from
│   └── AuthError             401/403 on credentials: retrying cannot help
│       └── MissingPermission 403 for want of a named vendor permission or OAuth scope (a coverage gap on reads)
├── ActionError               a remediation action was asked something it cannot do
└── Refused                   a request was understood and refused (policy, validator); exit code 3
    ├── Unauthenticated       the caller could not be authenticated at the API (HTTP 401/403)
    │   └── TokenRejected     an OIDC JWT failed verification (signature, issuer, audience, expiry, algorithm)
    └── EvidenceRefused       an evidence bundle failed verification (names the first mismatch)
"""

from __future__ import annotations


class MendflowError(Exception):
    """Base class: `str(err)` is a complete, user-facing one-line explanation."""


class InputError(MendflowError):
    """The user gave us something we cannot use; the CLI exits with code 2."""


class TenantFileError(InputError):
    """A tenant file is unreadable, has the wrong `format`, or holds objects of the wrong shape."""


class PlaybookError(InputError):
    """A playbook file is invalid; the message starts with `file:line:column`."""

    def __init__(self, message: str, *, path: str, line: int = 0, column: int = 0) -> None:
        self.path = path
        self.line = line
        self.column = column
        where = f"{path}:{line}:{column}" if line else path
        super().__init__(f"{where}: {message}")


class PayloadKeyError(InputError):
    """An encrypted payload cannot be decrypted with the configured key ring; names the key id, never key bytes."""


class ConnectionProblem(MendflowError):
    """A peer could not be reached; the message says which address and what to check."""


class StoreError(ConnectionProblem):
    """The database cannot be reached or used; the message names it with its password masked."""


class VendorError(MendflowError):
    """A vendor API answered an error that retrying will not fix."""

    def __init__(self, message: str, *, status: int, method: str, path: str) -> None:
        self.status = status
        self.method = method
        self.path = path
        super().__init__(f"{method} {path} → HTTP {status}: {message}")


class RateLimited(VendorError):
    """The vendor asked for a wait longer than one attempt may take (or too many waits in a row): worth trying
    again later, unlike the other 4xx answers."""


class AuthError(VendorError):
    """The credentials were refused (401) or lack a permission (403)."""


class MissingPermission(AuthError):
    """403 because the credential lacks `needs` (GitHub `members:read`, Okta `okta.users.read`)."""

    def __init__(self, message: str, *, needs: str, method: str, path: str) -> None:
        self.needs = needs
        super().__init__(f"{message} (needs {needs})", status=403, method=method, path=path)


class ActionError(MendflowError):
    """A remediation action cannot be carried out as asked."""


class Refused(MendflowError):
    """A request was refused (a workflow's validator, RBAC, a role): nothing changed. Exit code 3."""


class Unauthenticated(Refused):
    """The API could not authenticate the caller (missing, unknown, expired, revoked or wrong-role credential)."""

    def __init__(self, message: str, *, status: int = 401) -> None:
        self.status = status
        super().__init__(message)


class TokenRejected(Unauthenticated):
    """An OIDC JWT is not acceptable (HTTP 401); the message says why, never quoting the token."""


class EvidenceRefused(Refused):
    """An evidence bundle does not verify: the message names the first part that does not match. Exit code 3."""
