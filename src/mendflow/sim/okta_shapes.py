"""Okta's wire shapes for the simulator: error bodies, served views and the filter expressions Okta accepts.

Pure functions over JSON dicts, so the state class only decides *what* changes and the routes only translate HTTP.
"""

from __future__ import annotations

import copy
import itertools
import re
from typing import Any

from mendflow.sim.common import JSON, SimError

READ_ONLY = frozenset({"id", "created", "lastUpdated", "_links", "_embedded"})
"""Fields Okta sets itself: a PUT may carry them (they are ignored) but never changes them."""
POLICY_TYPES = ("ACCESS_POLICY", "ENTITY_RISK", "IDP_DISCOVERY", "MFA_ENROLL", "OKTA_SIGN_ON", "PASSWORD",
                "POST_AUTH_SESSION", "PROFILE_ENROLLMENT", "DEVICE_SIGNAL_COLLECTION", "SESSION_VIOLATION_DETECTION",
                "CLIENT_UPDATE", "IDENTITY_CLAIM_SOURCING")  # fmt: skip
_error_ids = itertools.count(1)


class OktaError(SimError):
    """An Okta error answer: `errorCode`, `errorSummary`, `errorLink`, `errorId`, `errorCauses`."""

    def __init__(self, status: int, code: str, summary: str, causes: list[str] | None = None) -> None:
        super().__init__(summary)
        self.status = status
        self.code = code
        self.summary = summary
        self.causes = causes or []

    def body(self) -> JSON:
        return {
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.code,
            "errorId": f"oaesim{next(_error_ids):016d}",
            "errorCauses": [{"errorSummary": cause} for cause in self.causes],
        }


def not_found(resource_id: str, kind: str) -> OktaError:
    return OktaError(404, "E0000007", f"Not found: Resource not found: {resource_id} ({kind})")


def invalid(field: str, cause: str) -> OktaError:
    return OktaError(400, "E0000001", f"Api validation failed: {field}", [f"{field}: {cause}"])


def unauthorized() -> OktaError:
    return OktaError(401, "E0000011", "Invalid token provided")


def forbidden() -> OktaError:
    return OktaError(403, "E0000006", "You do not have permission to perform the requested action")


def rate_limited() -> OktaError:
    return OktaError(429, "E0000047", "API call exceeded rate limit due to too many requests.")


def server_error(status: int) -> OktaError:
    return OktaError(status, "E0000009", "Internal Server Error")


def bad_json() -> OktaError:
    return OktaError(400, "E0000003", "The request body was not well-formed.")


def not_allowed() -> OktaError:
    return OktaError(405, "E0000022", "The endpoint does not support the provided HTTP method")


def public(obj: JSON) -> JSON:
    """The served copy: drop tenant-file sub-collections (`_rules`) but keep Okta's own `_links`/`_embedded`."""
    return copy.deepcopy({k: v for k, v in obj.items() if not k.startswith("_") or k in ("_links", "_embedded")})


def replaced(stored: JSON, body: JSON, *, now: str) -> JSON:
    """Okta's PUT: the body replaces the object, except what Okta owns (ids, timestamps, links, sub-collections)."""
    kept = {k: v for k, v in stored.items() if k in READ_ONLY or k.startswith("_") or k == "system"}
    fresh = {k: copy.deepcopy(v) for k, v in body.items() if k not in READ_ONLY and not k.startswith("_")}
    fresh.pop("system", None)
    out = {**fresh, **kept}
    out.setdefault("status", stored.get("status"))
    out["lastUpdated"] = now
    return out


_CLAUSE = re.compile(r'^\s*([A-Za-z][\w.]*)\s+(eq|sw)\s+"([^"]*)"\s*$')


def matcher(expression: str | None) -> Any:
    """A predicate for Okta's `filter`/`search` subset: `attr eq "v"` / `attr sw "v"` joined by `and` / `or`
    (no parentheses). None for no expression; raises E0000031 for what this simulator does not understand."""
    if expression is None or not expression.strip():
        return None
    alternatives = []
    for alternative in re.split(r"\s+or\s+", expression):
        clauses = []
        for clause in re.split(r"\s+and\s+", alternative):
            found = _CLAUSE.match(clause)
            if found is None:
                raise OktaError(400, "E0000031", "Invalid search criteria.", [f"unsupported expression: {clause}"])
            clauses.append(found.groups())
        alternatives.append(clauses)

    def value_at(obj: JSON, path: str) -> Any:
        value: Any = obj
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def predicate(obj: JSON) -> bool:
        for clauses in alternatives:
            ok = True
            for attr, op, wanted in clauses:
                value = value_at(obj, attr)
                text = "" if value is None else str(value)
                if (op == "eq" and text != wanted) or (op == "sw" and not text.lower().startswith(wanted.lower())):
                    ok = False
                    break
            if ok:
                return True
        return False

    return predicate
