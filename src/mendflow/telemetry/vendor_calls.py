"""One vendor request seen from outside: a span, a duration, and counters by vendor and operation.

The HTTP layer (`connectors/http.py`) wraps each logical request in `observe_vendor_call`, so every connector is
observed the same way without knowing about it. The operation is the request's method and path *template*
(`PATCH /repos/{id}/{id}/hooks/{id}/config`): ids, logins and names are replaced, so the label set stays bounded
and no account name or token ends up in a metric or span. Query strings are dropped for the same reason.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from mendflow.telemetry import metrics
from mendflow.telemetry.tracing import current_scope, tracer, tracing_enabled

_WORDS = frozenset(
    {
        # GitHub REST
        "orgs", "repos", "users", "user", "members", "memberships", "outside_collaborators", "collaborators",
        "hooks", "config", "keys", "branches", "protection", "rulesets", "rules", "teams", "installations",
        "actions", "permissions", "permission", "security_and_analysis", "vulnerability-alerts",
        "automated-security-fixes", "required_pull_request_reviews", "required_status_checks", "enforce_admins",
        "restrictions", "allow_force_pushes", "settings", "invitations", "credential-authorizations",
        # Okta management API
        "api", "v1", "iam", "assignees", "groups", "apps", "policies", "roles", "factors", "grants", "api-tokens",
        "lifecycle", "suspend", "unsuspend", "activate", "deactivate", "reset_factors", "expire_password",
        "current", "sessions", "authorizationServers", "idps", "zones", "clients", "tokens",
    }
)  # fmt: skip
"""Path segments kept as they are; any other segment is an id, a login or a name and becomes `{id}`."""


_IDS_AFTER = {"repos": 2} | dict.fromkeys(
    (
        "orgs", "users", "members", "memberships", "outside_collaborators", "collaborators", "hooks", "keys",
        "branches", "rulesets", "teams", "installations", "invitations", "groups", "apps", "policies", "roles",
        "factors", "grants", "api-tokens", "rules", "clients", "zones", "idps", "sessions", "tokens",
    ),
    1,
)  # fmt: skip
"""Collections whose next segment(s) name one object (`/repos/{owner}/{repo}`, `/users/{id}`)."""


def operation_name(method: str, path: str) -> str:
    """`GET /orgs/acme/members?page=2` → `GET /orgs/{id}/members` (bounded, and free of names)."""
    bare = path.split("?")[0].split("#")[0]
    if "://" in bare:
        bare = "/" + bare.split("://", 1)[1].partition("/")[2]
    segments: list[str] = []
    names_next = 0
    for segment in (s for s in bare.strip("/").split("/") if s):
        if names_next:
            names_next -= 1
            segments.append("{id}")
            continue
        segments.append(segment if segment in _WORDS else "{id}")
        names_next = _IDS_AFTER.get(segment, 0)
    return f"{method.upper()} /{'/'.join(segments)}"


@dataclass
class VendorCall:
    """What the HTTP layer reports while one request runs (each attempt, each rate-limit signal)."""

    vendor: str
    operation: str
    span: trace.Span = trace.INVALID_SPAN
    """The request's span; with tracing off, the API's non-recording span (every call on it does nothing)."""

    def answered(self, status: int) -> None:
        """One HTTP exchange completed with `status` (retries count again)."""
        metrics.count_connector_request(self.vendor, self.operation, f"{status // 100}xx")
        self.span.set_attribute("http.response.status_code", status)

    def unanswered(self) -> None:
        """One attempt got no answer (timeout, dropped connection)."""
        metrics.count_connector_request(self.vendor, self.operation, "none")

    def rate_limited(self, wait_seconds: float) -> None:
        metrics.connector_rate_limited.add(1, {"vendor": self.vendor, "operation": self.operation})
        self.span.add_event("rate limited", {"mendflow.wait_s": round(wait_seconds, 3)})


@contextmanager
def observe_vendor_call(vendor: str, method: str, path: str) -> Iterator[VendorCall]:
    """A span named `<vendor> <operation>` (child of whatever runs: an activity, a prepare/apply/verify step) when
    tracing is on, the request's duration, and an error counted by type when it fails. Error messages stay out
    of the span."""
    # Connectors name themselves for people ("GitHub"); labels are lower case.
    call = VendorCall(vendor=vendor.lower(), operation=operation_name(method, path))
    if not tracing_enabled():
        yield from _measured(call)
        return
    attributes = {
        "mendflow.vendor": call.vendor,
        "mendflow.operation": call.operation,
        "http.request.method": method.upper(),
        **current_scope().span_attributes(),
    }
    with tracer().start_as_current_span(
        f"{call.vendor} {call.operation}",
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        call.span = span
        yield from _measured(call)


def _measured(call: VendorCall) -> Iterator[VendorCall]:
    """The call's duration by outcome, and its error counted by type (and marked on its span)."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        yield call
    except asyncio.CancelledError:
        outcome = "cancelled"  # the activity was cancelled: not the vendor's failure
        raise
    except BaseException as err:
        outcome = type(err).__name__
        call.span.set_status(Status(StatusCode.ERROR, outcome))
        call.span.set_attribute("error.type", outcome)
        metrics.connector_errors.add(1, {"vendor": call.vendor, "operation": call.operation, "error_type": outcome})
        raise
    finally:
        metrics.connector_duration.record(
            time.perf_counter() - started, {"vendor": call.vendor, "operation": call.operation, "outcome": outcome}
        )
