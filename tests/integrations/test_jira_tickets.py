"""JiraTickets (the `jira` library) against the Jira simulator: create, comment, transition, fail fast, no secrets."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from mendflow.errors import ConnectionProblem
from mendflow.integrations.jira_tickets import JiraAuthError, JiraError, JiraTickets, JiraTransitionError, TicketRequest
from mendflow.models import Change, Finding, ResourceRef, Severity
from mendflow.redaction import register_secret

from .conftest import SimulatedJira


def _tickets(jira: SimulatedJira, **options: object) -> JiraTickets:
    settings: dict[str, object] = {
        "token": jira.token,
        "email_or_user": jira.state.user,
        "token_ref": "env:JIRA_TOKEN",
        "project": "SEC",
        "timeout": 5.0,
    }
    settings.update(options)
    return JiraTickets(jira.base_url, **settings)  # type: ignore[arg-type]


def _request(**changes: object) -> TicketRequest:
    ref = ResourceRef(type="github.repo_hook", id="/repos/acme/api/hooks/11")
    finding = Finding(
        fingerprint="f1",
        tenant="github:acme",
        provider="github",
        rule="github.repo_hook.insecure_ssl",
        title="Webhook does not verify TLS",
        severity=Severity.critical,
        resource=ref,
        evidence={"config.insecure_ssl": "1"},
        observed_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    request = TicketRequest(
        campaign_id="camp-7",
        playbook_id="github.repo_hook.insecure_ssl",
        title="Repository webhooks must verify TLS certificates",
        severity=Severity.critical,
        tenant="github:acme",
        labels=("security",),
        compliance=("SOC2:CC6.7",),
        findings=(finding,),
        changes=(
            Change(
                resource=ref,
                action="github.repo_hook.update_config",
                before={"insecure_ssl": "1"},
                after={"insecure_ssl": "0"},
            ),
        ),
        plan="canary 1, then 100%; no bake; stop after 0 failures",
        campaign_url="http://127.0.0.1:8233/namespaces/default/workflows/camp-7",
    )
    return request.model_copy(update=changes)


def test_create_comment_transition(jira: SimulatedJira) -> None:
    """A ticket is created with priority from severity, labels, findings and plan; then commented and moved."""
    tickets = _tickets(jira)
    key = tickets.create(_request())
    issue = jira.state.issues[key]
    assert key == "SEC-1" and issue.priority == "Highest" and issue.issuetype == "Task"
    assert issue.labels == ["SOC2:CC6.7", "mendflow", "mendflow-critical", "security"]  # compliance refs too
    assert issue.summary.startswith("[mendflow] Repository webhooks must verify TLS certificates")
    for part in (
        "camp-7",
        "/repos/acme/api/hooks/11",
        "'1' → '0'",
        "canary 1",
        "mendflow rollback camp-7",
        "SOC2:CC6.7",
    ):
        assert part in issue.description, part
    tickets.comment(key, "alice approved via slack")
    assert issue.comments[0]["body"] == "alice approved via slack"
    assert tickets.transition(key, "start progress") == "11"
    assert tickets.status(key) == "In Progress"
    tickets.transition(key, "DONE")
    assert issue.status == "Done" and issue.transitions == ["Start Progress", "Done"]


def test_unknown_transition_lists_the_available_ones(jira: SimulatedJira) -> None:
    """Asking for a transition the issue does not offer names the ones it does; nothing changes."""
    tickets = _tickets(jira)
    key = tickets.create(_request())
    with pytest.raises(JiraTransitionError) as caught:
        tickets.transition(key, "Close")
    assert str(caught.value) == f"{key} has no transition 'Close'; available: 'Start Progress', 'Done', \"Won't Do\""
    assert jira.state.issues[key].status == "To Do"


def test_rest_v3_sends_atlassian_document_format(jira: SimulatedJira) -> None:
    """With API v3 the description and comments are ADF documents (v3 refuses plain strings)."""
    tickets = _tickets(jira, api_version="3")
    key = tickets.create(_request())
    issue = jira.state.issues[key]
    assert issue.description["type"] == "doc"
    tickets.comment(key, "line one\nline two")
    assert [p["content"][0]["text"] for p in issue.comments[0]["body"]["content"]] == ["line one", "line two"]
    assert all(path.startswith("/rest/api/3/") for _, path in jira.state.calls)


def test_bearer_personal_access_token(jira: SimulatedJira) -> None:
    """Without a user, the token is sent as a bearer PAT (Jira Data Center)."""
    tickets = _tickets(jira, email_or_user=None)
    assert tickets.create(_request()) == "SEC-1"


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limit_and_unavailable_fail_fast_without_sleeping(jira: SimulatedJira, status: int) -> None:
    """A 429/503 with Retry-After: 30 is one retryable JiraError at once — the library's own retry sleep is off."""
    tickets = _tickets(jira)
    tickets.client()
    jira.state.fail_next(status, retry_after=30)
    started = time.monotonic()
    with pytest.raises(JiraError) as caught:
        tickets.create(_request())
    assert time.monotonic() - started < 15  # far below the 30 s / 60 s sleep it must skip, whatever the load
    assert caught.value.retryable and caught.value.status == status
    assert "Retry-After 30 s" in str(caught.value) and "not retried here" in str(caught.value)
    assert jira.state.issues == {}


def test_failing_server_info_fails_fast_at_construction(jira: SimulatedJira) -> None:
    """The library's construction call (serverInfo) is guarded the same way: no 60 s sleep, one error."""
    jira.state.fail_next(429, retry_after=60)
    started = time.monotonic()
    with pytest.raises(JiraError, match="rate limiting"):
        _tickets(jira).create(_request())
    assert time.monotonic() - started < 15  # far below the 30 s / 60 s sleep it must skip, whatever the load


def test_wrong_token_names_the_reference_never_the_value(jira: SimulatedJira) -> None:
    """401 becomes JiraAuthError naming `env:JIRA_TOKEN`; neither the token nor the auth header leaks."""
    wrong = "jira-wrong-token-0123456789"
    register_secret(wrong)
    with pytest.raises(JiraAuthError) as caught:
        _tickets(jira, token=wrong).create(_request())
    text = str(caught.value)
    assert "env:JIRA_TOKEN" in text and wrong not in text and "Authorization" not in text and "Basic" not in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_invalid_fields_are_reported_with_jira_messages(jira: SimulatedJira) -> None:
    """A project that does not exist comes back as Jira's own field message, not retryable."""
    with pytest.raises(JiraError) as caught:
        _tickets(jira).create(_request(project="NOPE"))
    assert "Specify a valid project ID or key" in str(caught.value) and not caught.value.retryable


def test_token_and_secrets_never_reach_ticket_text(jira: SimulatedJira) -> None:
    """A canary secret in a finding's evidence or a comment is masked in everything Jira receives."""
    canary = "canary-jira-" + str(time.time_ns())
    register_secret(canary)
    tickets = _tickets(jira)
    request = _request(title=f"t {canary}")
    key = tickets.create(request)
    tickets.comment(key, f"reason: {canary} / token {jira.token}")
    issue = jira.state.issues[key]
    everything = issue.summary + str(issue.description) + str(issue.comments)
    assert canary not in everything and jira.token not in everything


def test_unreachable_jira_is_a_connection_problem() -> None:
    """Nothing listening: one ConnectionProblem naming the server, promptly."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tickets = JiraTickets(f"http://127.0.0.1:{port}", token="t0ken-unused", project="SEC", timeout=2)
    with pytest.raises(ConnectionProblem, match=f"127.0.0.1:{port}"):
        tickets.create(_request())
