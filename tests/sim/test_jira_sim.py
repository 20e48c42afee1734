"""Behaviour of the Jira simulator over loopback HTTP: auth, Jira's error shape, ADF on v3, the workflow."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from mendflow.runtime.loopback import serve_in_thread
from mendflow.sim.jira import JiraState, create_jira_app

TOKEN = "jira-simtest-0123456789"
USER = "mendflow@example.com"


@pytest.fixture
def jira() -> Iterator[tuple[JiraState, httpx.Client]]:
    state = JiraState(token=TOKEN, user=USER)
    with (
        serve_in_thread(create_jira_app(state)) as server,
        httpx.Client(base_url=server.base_url, auth=(USER, TOKEN)) as client,
    ):
        state.base_url = server.base_url
        yield state, client


FIELDS = {"project": {"key": "SEC"}, "issuetype": {"name": "Task"}, "summary": "s"}


def _create(client: httpx.Client, version: str = "2", **fields: object) -> httpx.Response:
    body = {**FIELDS, **fields}
    return client.post(f"/rest/api/{version}/issue", json={"fields": body})


def test_basic_and_bearer_auth(jira: tuple[JiraState, httpx.Client]) -> None:
    """Basic (user + API token) and bearer (PAT) both work; anything else is 401 in Jira's error shape."""
    state, client = jira
    assert client.get("/rest/api/2/myself").json()["emailAddress"] == USER
    bearer = httpx.get(state.base_url + "/rest/api/3/myself", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200
    refused = httpx.get(state.base_url + "/rest/api/2/myself", auth=(USER, "wrong"))
    assert refused.status_code == 401 and set(refused.json()) == {"errorMessages", "errors"}
    assert httpx.get(state.base_url + "/rest/api/2/serverInfo").json()["versionNumbers"] == [1001, 0, 0]


def test_create_validates_fields_like_jira(jira: tuple[JiraState, httpx.Client]) -> None:
    """Missing summary, unknown project/type/priority come back as per-field `errors`."""
    _, client = jira
    bad = client.post("/rest/api/2/issue", json={"fields": {"project": {"key": "X"}, "priority": {"name": "Urgent"}}})
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"project", "summary", "issuetype", "priority"}
    created = _create(client)
    assert created.status_code == 201 and created.json()["key"] == "SEC-1"


def test_v3_insists_on_atlassian_document_format(jira: tuple[JiraState, httpx.Client]) -> None:
    """v3 refuses a plain-string description or comment; v2 takes plain strings."""
    _, client = jira
    assert _create(client, "3", description="plain").status_code == 400
    doc = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "x"}]}]}
    key = _create(client, "3", description=doc).json()["key"]
    assert client.post(f"/rest/api/3/issue/{key}/comment", json={"body": "plain"}).status_code == 400
    assert client.post(f"/rest/api/2/issue/{key}/comment", json={"body": "plain"}).status_code == 201


def test_workflow_transitions(jira: tuple[JiraState, httpx.Client]) -> None:
    """To Do offers Start Progress/Done/Won't Do; an id not offered is 400; a valid one moves the status (204)."""
    state, client = jira
    key = _create(client).json()["key"]
    names = [t["name"] for t in client.get(f"/rest/api/2/issue/{key}/transitions").json()["transitions"]]
    assert names == ["Start Progress", "Done", "Won't Do"]
    assert client.post(f"/rest/api/2/issue/{key}/transitions", json={"transition": {"id": "21"}}).status_code == 400
    assert client.post(f"/rest/api/2/issue/{key}/transitions", json={"transition": {"id": "11"}}).status_code == 204
    assert client.get(f"/rest/api/2/issue/{key}", params={"fields": "status"}).json()["fields"] == {
        "status": state.status_json("2", "In Progress")
    }
    assert client.get("/rest/api/2/issue/SEC-99").status_code == 404


def test_injected_rate_limit(jira: tuple[JiraState, httpx.Client]) -> None:
    """`fail_next(429)` answers once with Retry-After and Jira's error shape, then normal service resumes."""
    state, client = jira
    state.fail_next(429, retry_after=7)
    limited = client.get("/rest/api/2/myself")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert client.get("/rest/api/2/myself").status_code == 200


def test_search_by_label_on_both_endpoints(jira: tuple[JiraState, httpx.Client]) -> None:
    """`labels = "x"` (AND `project = …`) finds the labelled issues, oldest first, on Cloud's `search/jql` and
    Data Center's `search`; JQL the simulator does not know is Jira's 400, not an empty result."""
    _, client = jira
    _create(client, labels=["other"])
    tagged = [_create(client, labels=["once-1", "x"]).json()["key"] for _ in range(2)]
    jql = 'labels = "once-1" AND project = SEC ORDER BY created ASC'
    cloud = client.get("/rest/api/3/search/jql", params={"jql": jql, "fields": "key"}).json()
    assert [i["key"] for i in cloud["issues"]] == tagged and cloud["isLast"] is True
    server = client.get("/rest/api/2/search", params={"jql": 'labels = "once-1" ORDER BY created DESC'}).json()
    assert [i["key"] for i in server["issues"]] == tagged[::-1] and server["total"] == 2
    assert client.get("/rest/api/2/search", params={"jql": 'labels = "none"'}).json()["issues"] == []
    assert client.get("/rest/api/2/search", params={"jql": "summary ~ s"}).status_code == 400


def test_a_slowed_create_lands_late_even_when_its_client_gave_up(jira: tuple[JiraState, httpx.Client]) -> None:
    """`slow_next(1)`: a client that waits only 0.2 s gives up, and the issue still appears about a second later; with
    `acted_first` the issue exists at once and only the answer is late."""
    state, client = jira
    state.slow_next(1.0)
    with pytest.raises(httpx.ReadTimeout):
        client.post("/rest/api/2/issue", json={"fields": FIELDS}, timeout=0.2)
    assert state.issues == {}
    deadline = time.monotonic() + 5
    while not state.issues and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(state.issues) == ["SEC-1"]
    state.slow_next(1.0, acted_first=True)
    with pytest.raises(httpx.ReadTimeout):
        client.post("/rest/api/2/issue", json={"fields": FIELDS}, timeout=0.2)
    assert list(state.issues) == ["SEC-1", "SEC-2"] and state.delays == []
