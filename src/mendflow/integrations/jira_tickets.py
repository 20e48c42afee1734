"""Campaign tickets in Jira through the `jira` library (pycontribs), for activities to call from a thread pool.

The library's `ResilientSession` would retry 429/503 itself, sleeping up to 60 s per try inside an activity;
we construct it with `max_retries=0` and a `timeout`, so a refused or slow call fails fast as one
`JiraError` (with `retryable` set) and Temporal's retry policy decides when to try again.

An issue created for a step carries a label derived from the step's durable key (`once_label`): `find` searches
for it, so a try can adopt the issue an earlier try created — even one whose answer never arrived.

Construction (which calls `serverInfo`) happens on first use. The token is registered with the redactor and
never appears in ticket text or in an exception: the library's own `JIRAError` text includes request headers,
so it is never passed on — only its status, URL path and Jira's error messages are.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from jira import JIRA, JIRAError
from pydantic import BaseModel, ConfigDict

from mendflow.errors import ActionError, AuthError, ConnectionProblem, VendorError
from mendflow.models import Change, Finding, Severity
from mendflow.redaction import redact, register_secret
from mendflow.secrets import SecretRef

T = TypeVar("T")

PRIORITY_BY_SEVERITY: dict[Severity, str] = {
    Severity.critical: "Highest",
    Severity.high: "High",
    Severity.medium: "Medium",
    Severity.low: "Low",
    Severity.info: "Lowest",
}
SUMMARY_LIMIT = 250
"""Jira refuses summaries over 255 characters."""
DESCRIPTION_LIMIT = 30_000
"""Jira's text field limit is 32,767 characters."""
REQUESTS_PER_CALL = 3
"""The most HTTP requests one operation sends: `serverInfo` on first use, then at most two (a transition's GET and
POST)."""


def once_label(scope: str) -> str:
    """The label that marks the issue created under a durable key (`run/step`): stable, short, no spaces, and no
    run or step name an issue's readers need to see."""
    return "mendflow-once-" + hashlib.sha256(scope.encode()).hexdigest()[:20]


class JiraError(VendorError):
    """Jira answered an error (or none). `retryable`: a later try may succeed (429, 503, 5xx, timeouts)."""

    def __init__(self, message: str, *, status: int, method: str, path: str, retryable: bool) -> None:
        self.retryable = retryable
        super().__init__(message, status=status, method=method, path=path)


class JiraAuthError(AuthError):
    """401/403: the credentials are wrong or lack a permission."""


class JiraTransitionError(ActionError):
    """No transition of that name is available on the issue; the message lists the ones that are."""

    def __init__(self, key: str, name: str, available: Iterable[str]) -> None:
        self.key = key
        self.available = tuple(available)
        listed = ", ".join(repr(a) for a in self.available) or "none"
        super().__init__(f"{key} has no transition {name!r}; available: {listed}")


class TicketRequest(BaseModel):
    """What a campaign's ticket says; `project`/`issue_type`/`labels` fall back to the JiraTickets defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    campaign_id: str
    playbook_id: str
    title: str
    severity: Severity
    tenant: str
    project: str = ""
    issue_type: str = ""
    labels: tuple[str, ...] = ()
    priority: str | None = None
    """Default: derived from the severity (critical → Highest … info → Lowest)."""
    compliance: tuple[str, ...] = ()
    """The playbook's compliance references (`SOC2:CC6.1`), also set as labels (Jira labels take no spaces)."""
    risk: str = ""
    """The campaign's risk in one line (`risk.summarize_risk`)."""
    findings: tuple[Finding, ...] = ()
    changes: tuple[Change, ...] = ()
    """The planned change per resource (before → after)."""
    plan: str = ""
    """Rollout plan in words, e.g. `canary 1, then 50%, 100%; bake 10m; stop after 0 failures`."""
    campaign_url: str = ""

    def summary(self) -> str:
        text = f"[mendflow] {self.title} ({self.tenant}, {len(self.findings) or len(self.changes)} resources)"
        return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"

    def description(self) -> str:
        """Plain text (Jira v2 renders it as wiki markup; v3 gets it wrapped in an ADF document)."""
        lines = [
            f"Campaign: {self.campaign_id}",
            f"Playbook: {self.playbook_id}",
            f"Severity: {self.severity.value}",
            f"Tenant: {self.tenant}",
        ]
        if self.risk:
            lines.append(f"Risk: {self.risk}")
        if self.compliance:
            lines.append("Compliance: " + ", ".join(self.compliance))
        if self.campaign_url:
            lines.append(f"Campaign link: {self.campaign_url}")
        if self.findings:
            lines += ["", "Findings:"]
            for finding in self.findings[:50]:
                evidence = ", ".join(f"{k}={v!r}" for k, v in list(finding.evidence.items())[:5])
                risk = f" [risk {finding.risk.score}/100]" if finding.risk is not None else ""
                details = f" ({evidence})" if evidence else ""
                lines.append(f"- {finding.resource.id}: {finding.title}{risk}{details}")
            if len(self.findings) > 50:
                lines.append(f"- +{len(self.findings) - 50} more")
        if self.changes:
            lines += ["", "Planned changes:"]
            for change in self.changes[:50]:
                fields = sorted(set(change.before) | set(change.after))
                diff = "; ".join(f"{k}: {change.before.get(k)!r} → {change.after.get(k)!r}" for k in fields[:5])
                lines.append(f"- {change.resource.id} ({change.action}): {diff}")
            if len(self.changes) > 50:
                lines.append(f"- +{len(self.changes) - 50} more")
        if self.plan:
            lines += ["", f"Rollout: {self.plan}"]
        lines += ["", f"Rollback: prior state is captured; `mendflow rollback {self.campaign_id}`"]
        text = "\n".join(lines)
        return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"


def adf(text: str) -> dict[str, Any]:
    """Atlassian Document Format for plain text (REST v3 wants ADF for descriptions and comment bodies)."""
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": block}]} if block else {"type": "paragraph"}
        for block in text.split("\n")
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


class JiraTickets:
    """Create, comment on and transition a campaign's Jira issue (synchronous; call from a thread)."""

    def __init__(
        self,
        server: str,
        *,
        token: str | SecretRef,
        email_or_user: str | None = None,
        token_ref: str = "",
        project: str = "",
        issue_type: str = "Task",
        labels: Iterable[str] = ("mendflow",),
        priorities: Mapping[Severity, str] = PRIORITY_BY_SEVERITY,
        api_version: str = "2",
        timeout: float = 10.0,
    ) -> None:
        """`email_or_user` set: basic auth (Jira Cloud e-mail + API token, or Data Center user + password);
        unset: bearer auth with a Data Center personal access token."""
        if api_version not in ("2", "3"):
            raise ValueError("api_version must be '2' or '3'")
        if isinstance(token, SecretRef):
            self._token = token.resolve()
            self.token_ref = token_ref or token.ref
        else:
            register_secret(token)
            self._token = token
            self.token_ref = token_ref or "the configured Jira token"
        self.server = server.rstrip("/")
        self.user = email_or_user
        self.project = project
        self.issue_type = issue_type
        self.labels = tuple(labels)
        self.priorities = dict(priorities)
        self.api_version = api_version
        self.timeout = timeout
        self._jira: JIRA | None = None
        self._lock = threading.Lock()

    @property
    def worst_case(self) -> timedelta:
        """The longest one operation can take with no answer: each request may wait `timeout` to connect and
        `timeout` for the answer (`requests` applies it to both), and nothing here retries."""
        return timedelta(seconds=REQUESTS_PER_CALL * 2 * self.timeout)

    # --- plumbing ---

    def _connect(self) -> JIRA:
        auth: dict[str, Any] = (
            {"basic_auth": (self.user, self._token)} if self.user is not None else {"token_auth": self._token}
        )
        return JIRA(
            server=self.server,
            options={"rest_api_version": self.api_version, "check_update": False},
            get_server_info=True,
            max_retries=0,
            timeout=self.timeout,
            logging=False,
            **auth,
        )

    def client(self) -> JIRA:
        """The connected library client (built once; construction reads `serverInfo`)."""
        with self._lock:
            if self._jira is None:
                self._jira = self._guard("GET", "serverInfo", self._connect)
            return self._jira

    def _guard(self, method: str, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except JIRAError as err:
            raise self._translate(method, what, err) from None
        except requests.Timeout:
            raise JiraError(
                f"Jira at {self.server} did not answer within {self.timeout:g} s (not retried here)",
                status=0,
                method=method,
                path=what,
                retryable=True,
            ) from None
        except requests.ConnectionError:
            raise ConnectionProblem(
                f"cannot reach Jira at {self.server} ({method} {what}); check the URL and the network"
            ) from None

    def _translate(self, method: str, what: str, err: JIRAError) -> VendorError:
        status = int(err.status_code or 0)
        path = urlsplit(err.url).path if err.url else what
        detail = redact(str(err.text or "").strip()) or "no error message"
        if status in (401, 403):
            return JiraAuthError(
                f"Jira refused {self.token_ref}" + (f" for user {self.user}" if self.user else "") + f": {detail}",
                status=status,
                method=method,
                path=path,
            )
        response = err.response
        if status in (429, 503):
            retry_after = response.headers.get("Retry-After") if response is not None else None
            hint = f"; Retry-After {retry_after} s" if retry_after else ""
            message = (
                f"Jira is {'rate limiting' if status == 429 else 'unavailable'}{hint}: {detail} (not retried here)"
            )
            return JiraError(message, status=status, method=method, path=path, retryable=True)
        return JiraError(detail, status=status, method=method, path=path, retryable=status >= 500 or status == 0)

    # --- operations ---

    def create(self, request: TicketRequest) -> str:
        """Create the campaign's issue; returns its key (e.g. `SEC-42`)."""
        return self.open(
            summary=request.summary(),
            description=request.description(),
            severity=request.severity,
            project=request.project,
            issue_type=request.issue_type,
            labels=(*request.labels, *request.compliance),
            priority=request.priority,
        )

    def open(
        self,
        *,
        summary: str,
        description: str,
        severity: Severity,
        project: str = "",
        issue_type: str = "",
        labels: Iterable[str] = (),
        priority: str | None = None,
    ) -> str:
        """Create an issue from its texts (redacted here, cut to Jira's limits); returns its key."""
        project = project or self.project
        if not project:
            raise ValueError("no Jira project: set it on the ticket request or as the JiraTickets default")
        priority = priority or self.priorities.get(severity)
        summary, description = redact(summary), redact(description)  # masked whole, then cut: no half secret
        if len(summary) > SUMMARY_LIMIT:
            summary = summary[: SUMMARY_LIMIT - 1] + "…"
        if len(description) > DESCRIPTION_LIMIT:
            description = description[: DESCRIPTION_LIMIT - 1] + "…"
        labels = sorted({*self.labels, *labels, f"mendflow-{severity.value}"})
        fields: dict[str, Any] = {
            "project": {"key": project},
            "issuetype": {"name": issue_type or self.issue_type},
            "summary": summary,
            "description": adf(description) if self.api_version == "3" else description,
            "labels": [label.replace(" ", "-") for label in labels],
        }
        if priority:
            fields["priority"] = {"name": priority}
        jira = self.client()
        issue = self._guard("POST", "issue", lambda: jira.create_issue(fields=fields, prefetch=False))
        return str(issue.key)

    def find(self, label: str) -> list[str]:
        """Keys of the issues carrying `label`, oldest first (`search/jql` on Cloud, `search` on Data Center)."""
        jira = self.client()
        jql = f'labels = "{label}" ORDER BY created ASC'
        found: dict[str, Any] = self._guard(
            "GET", "search", lambda: jira.search_issues(jql, maxResults=20, fields="key", json_result=True)
        )
        return [str(issue["key"]) for issue in found.get("issues", [])]

    def comment(self, key: str, text: str) -> None:
        """Add a comment (redacted) to the issue."""
        body: Any = adf(redact(text)) if self.api_version == "3" else redact(text)
        jira = self.client()
        self._guard("POST", f"issue/{key}/comment", lambda: jira.add_comment(key, body))

    def transition(self, key: str, name: str) -> str:
        """Move the issue through the transition called `name` (case-insensitive); returns its id.

        Raises `JiraTransitionError` listing the available transitions when none has that name.
        """
        jira = self.client()
        transitions: list[dict[str, Any]] = self._guard(
            "GET", f"issue/{key}/transitions", lambda: jira.transitions(key)
        )
        wanted = name.strip().casefold()
        match = next((t for t in transitions if str(t.get("name", "")).casefold() == wanted), None)
        if match is None:
            raise JiraTransitionError(key, name, [str(t.get("name", "")) for t in transitions])
        transition_id = str(match["id"])
        # The library's transition_issue() sends the id as a number; Atlassian's description types it as a string,
        # so post it through the library's own session (same auth, timeout, no retries, same error handling).
        body = json.dumps({"transition": {"id": transition_id}})
        url = jira._get_url(f"issue/{key}/transitions")
        self._guard("POST", f"issue/{key}/transitions", lambda: jira._session.post(url, data=body))
        return transition_id

    def status(self, key: str) -> str:
        """The issue's current status name."""
        jira = self.client()
        issue = self._guard("GET", f"issue/{key}", lambda: jira.issue(key, fields="status"))
        return str(issue.fields.status.name)

    def close(self) -> None:
        with self._lock:
            if self._jira is not None:
                self._jira.close()  # type: ignore[no-untyped-call]
                self._jira = None


__all__ = [
    "PRIORITY_BY_SEVERITY",
    "JiraAuthError",
    "JiraError",
    "JiraTickets",
    "JiraTransitionError",
    "TicketRequest",
    "adf",
    "once_label",
]
