"""Contract: every request the `jira` library sends for JiraTickets, and every answer of the Jira simulator, passes
openapi-core validation against tests/specs/jira-subset.json (Atlassian's description, v3 verbatim, v2 derived).

Atlassian documents 429 and 503 (with Retry-After) in its rate-limiting guide, not per operation; those answers
are checked against the description's ErrorCollection schema instead. The library's own transition_issue() sends
the transition id as a number where the description says string — which is why JiraTickets posts it itself.
The label search is checked as Data Center runs it (`search`, `field`): Cloud's `search/jql` postdates the
description.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_core import OpenAPI
from openapi_core.validation.response.exceptions import InvalidData
from openapi_schema_validator import OAS30Validator

from mendflow.errors import MendflowError
from mendflow.integrations.jira_tickets import JiraTickets, TicketRequest
from mendflow.models import Severity
from mendflow.redaction import register_secret
from mendflow.runtime.loopback import serve_in_thread
from mendflow.sim.jira import JiraState, create_jira_app
from tests.openapi_adapter import Exchange, Recorder, SpecRequest, SpecResponse

SPEC = Path(__file__).resolve().parents[1] / "specs" / "jira-subset.json"
JIRA = "https://your-domain.atlassian.net"
UNDECLARED = {429, 503}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def openapi(document: dict[str, Any]) -> OpenAPI:
    return OpenAPI.from_dict(document)


@pytest.fixture
def recorded() -> Iterator[tuple[JiraState, Recorder, str]]:
    token = "jira-" + secrets.token_hex(12)
    register_secret(token)
    state = JiraState(token=token)
    recorder = Recorder(create_jira_app(state))
    with serve_in_thread(recorder) as server:
        state.base_url = server.base_url
        yield state, recorder, token


def _ticket(**changes: Any) -> TicketRequest:
    request = TicketRequest(
        campaign_id="camp-1", playbook_id="p", title="Webhooks verify TLS", severity=Severity.high, tenant="github:acme"
    )
    return request.model_copy(update=changes)


def _exercise(state: JiraState, token: str, version: str) -> None:
    """Each operation of the subset, successes and documented errors, through the real library."""
    tickets = JiraTickets(state.base_url, token=token, email_or_user=state.user, project="SEC", api_version=version)
    key = tickets.create(_ticket())
    tickets.comment(key, "approved by alice")
    tickets.transition(key, "Start Progress")
    assert tickets.status(key) == "In Progress"
    tickets.client().myself()
    failures = (
        lambda: tickets.create(_ticket(project="NOPE")),
        lambda: tickets.comment("SEC-999", "x"),
        lambda: tickets.status("SEC-999"),
        lambda: tickets.transition("SEC-999", "Done"),
        lambda: tickets.client()._session.post(
            tickets.client()._get_url(f"issue/{key}/transitions"), data=json.dumps({"transition": {"id": "99"}})
        ),
        lambda: JiraTickets(
            state.base_url, token="wrong-token-000", email_or_user=state.user, project="SEC", api_version=version
        ).create(_ticket()),
    )
    for call in failures:
        with pytest.raises(Exception) as caught:
            call()
        assert isinstance(caught.value, MendflowError) or type(caught.value).__name__ == "JIRAError"
    state.fail_next(429, retry_after=30)
    with pytest.raises(MendflowError):
        tickets.comment(key, "x")
    state.fail_next(503, retry_after=None)
    with pytest.raises(MendflowError):
        tickets.transition(key, "Done")
    # Searching for a step's label: Data Center's `search` (and `field`, read once before it). Jira Cloud's
    # `search/jql`, which the library uses there, postdates the description's snapshot.
    state.deployment = "Server"
    server = JiraTickets(state.base_url, token=token, email_or_user=state.user, project="SEC", api_version=version)
    labelled = server.create(_ticket(labels=("mendflow-once-0123",)))
    assert server.find("mendflow-once-0123") == [labelled] and server.find("mendflow-once-none") == []
    state.deployment = "Cloud"


def _operations(document: dict[str, Any], version: str) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        if path.startswith(f"/rest/api/{version}/")
        for method in item
    }


def _template(document: dict[str, Any], exchange: Exchange) -> str:
    for path in document["paths"]:
        parts, actual = path.split("/"), exchange.path.split("/")
        if len(parts) == len(actual) and all(p == a or p.startswith("{") for p, a in zip(parts, actual, strict=True)):
            return path
    raise AssertionError(f"{exchange}: not in the description")


@pytest.mark.parametrize("version", ["2", "3"])
def test_every_request_and_answer_matches_atlassians_description(
    document: dict[str, Any], openapi: OpenAPI, recorded: tuple[JiraState, Recorder, str], version: str
) -> None:
    """Library requests and simulator answers (201/200/204 and 400/401/404) validate; every operation is exercised."""
    state, recorder, token = recorded
    _exercise(state, token, version)
    error_schema = OAS30Validator(document["components"]["schemas"]["ErrorCollection"])
    seen: dict[tuple[str, str], set[int]] = {}
    for exchange in recorder.exchanges:
        if exchange.path.endswith("/search"):
            # The library spells Data Center's boolean `validateQuery` as Python does (`True`; Jira parses it
            # case-insensitively); Cloud's description enumerates the lower-case spelling.
            exchange = dataclasses.replace(
                exchange, query=exchange.query.replace("validateQuery=True", "validateQuery=true")
            )
        openapi.validate_request(SpecRequest(exchange, host_url=JIRA))
        if exchange.status in UNDECLARED:
            error_schema.validate(json.loads(exchange.response_body))
            assert exchange.status == 503 or "retry-after" in exchange.response_headers
        elif exchange.status == 204:
            # The description gives doTransition's 204 an `application/json` content with an empty schema; HTTP
            # forbids a 204 body and Jira sends none, so the check is that there is none.
            assert exchange.response_body == b""
        else:
            openapi.validate_response(SpecRequest(exchange, host_url=JIRA), SpecResponse(exchange))
        seen.setdefault((exchange.method, _template(document, exchange)), set()).add(exchange.status)
    assert set(seen) == _operations(document, version)
    assert all(any(200 <= s < 300 for s in statuses) for statuses in seen.values())
    assert {s for statuses in seen.values() for s in statuses} >= {200, 201, 204, 400, 401, 404, 429, 503}


def test_validator_rejects_a_deliberately_broken_answer(
    openapi: OpenAPI, recorded: tuple[JiraState, Recorder, str]
) -> None:
    """Breaking real answers (serverInfo's versionNumbers, a created issue's extra field) fails validation."""
    state, recorder, token = recorded
    JiraTickets(state.base_url, token=token, email_or_user=state.user, project="SEC").create(_ticket())
    for path, breakage in (
        ("/rest/api/2/serverInfo", lambda b: b.update(versionNumbers="9.12")),
        ("/rest/api/2/issue", lambda b: b.update(unexpected=True)),
    ):
        exchange = next(x for x in recorder.exchanges if x.path == path)
        request = SpecRequest(exchange, host_url=JIRA)
        openapi.validate_response(request, SpecResponse(exchange))
        body = json.loads(exchange.response_body)
        breakage(body)
        with pytest.raises(InvalidData):
            openapi.validate_response(request, SpecResponse(exchange, json.dumps(body).encode()))
