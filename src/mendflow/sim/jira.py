"""A Jira simulator (ASGI, Starlette): the REST operations mendflow's tickets use, under `/rest/api/2` and `/3`.

`serverInfo`, `myself`, create issue, get issue, add comment, get transitions and do transition, search by JQL
(`labels = "x"`, `project = X`, joined by AND, `ORDER BY created`: Data Center's `search`, Cloud's `search/jql`;
and `field`, which the `jira` library reads before its first search),
with basic auth (e-mail/user + API token) or bearer (personal access token), Jira's error shape
(`{"errorMessages": [...], "errors": {field: message}}`), a small workflow (To Do → In Progress → Done), v3's
insistence on Atlassian Document Format for descriptions and comments, injectable 429/503 answers with
`Retry-After` for fail-fast tests, and injectable latency (`slow_next`): a request Jira acts on late, or acts on at
once and answers late — as a real Jira does whether or not its client is still waiting. State lives in `JiraState`
(also `app.state.jira`) for tests to inspect.

The shapes follow tests/specs/jira-subset.json (checked by tests/sim/test_jira_contract.py).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

JSON = dict[str, Any]

# status name → (id, category id, category key, category colour, category name)
STATUSES: dict[str, tuple[str, int, str, str, str]] = {
    "To Do": ("10000", 2, "new", "blue-gray", "To Do"),
    "In Progress": ("3", 4, "indeterminate", "yellow", "In Progress"),
    "Done": ("10001", 3, "done", "green", "Done"),
}
# status → transitions available from it: (id, name, target status)
WORKFLOW: dict[str, tuple[tuple[str, str, str], ...]] = {
    "To Do": (("11", "Start Progress", "In Progress"), ("31", "Done", "Done"), ("41", "Won't Do", "Done")),
    "In Progress": (("21", "Stop Progress", "To Do"), ("31", "Done", "Done")),
    "Done": (("51", "Reopen", "To Do"),),
}
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
ISSUE_TYPES = ("Task", "Bug", "Story")


def _stamp(at: float) -> str:
    """RFC 3339, as the description's `date-time` format requires (Atlassian's own examples write `+0000`)."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


@dataclass
class JiraIssue:
    id: str
    key: str
    project: str
    issuetype: str
    summary: str
    description: Any
    labels: list[str]
    priority: str
    status: str = "To Do"
    comments: list[JSON] = field(default_factory=list)
    transitions: list[str] = field(default_factory=list)
    """Names of the transitions done, in order."""
    created: float = 0.0


@dataclass
class JiraFault:
    status: int
    retry_after: int | None = None
    count: int = 1


@dataclass
class JiraDelay:
    seconds: float
    method: str
    path: str
    """The delay applies to requests whose path ends with this (`/issue`: creating an issue)."""
    acted_first: bool
    """False: Jira acts on the request after the delay; True: at once, and the answer comes after the delay."""
    count: int = 1


class _Refusal(Exception):
    def __init__(self, status: int, messages: Sequence[str] = (), errors: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.body = {"errorMessages": list(messages), "errors": dict(errors or {})}


class JiraState:
    """Projects, issues and credentials of the simulated Jira site."""

    def __init__(
        self,
        *,
        token: str,
        user: str = "mendflow@example.com",
        projects: Mapping[str, str] | None = None,
        deployment: str = "Cloud",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.user = user
        self.token = token
        self.projects = dict(projects or {"SEC": "Security"})
        self.deployment = deployment
        self.clock = clock
        self.base_url = "http://127.0.0.1"
        self.issues: dict[str, JiraIssue] = {}
        self.faults: deque[JiraFault] = deque()
        self.delays: list[JiraDelay] = []
        self.in_flight = 0
        """Requests being handled now (a slowed one counts until Jira has acted on it and answered)."""
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._next_id = 10000
        self._counters: dict[str, int] = {}

    def fail_next(self, status: int = 429, *, retry_after: int | None = 30, count: int = 1) -> None:
        self.faults.append(JiraFault(status, retry_after, count))

    def slow_next(
        self, seconds: float, *, method: str = "POST", path: str = "/issue", acted_first: bool = False, count: int = 1
    ) -> None:
        """The next `count` requests of `method` to a path ending in `path` take `seconds` longer: Jira acts on each
        after the delay (the default), or at once with only its answer late (`acted_first`). Either way the request
        is carried out even if its client has hung up meanwhile."""
        with self._lock:
            self.delays.append(JiraDelay(seconds, method.upper(), path, acted_first, count))

    def take_delay(self, method: str, path: str) -> JiraDelay | None:
        with self._lock:
            for delay in self.delays:
                if delay.method == method and path.endswith(delay.path):
                    delay.count -= 1
                    if delay.count <= 0:
                        self.delays.remove(delay)
                    return delay
            return None

    def take_fault(self) -> JiraFault | None:
        with self._lock:
            if not self.faults:
                return None
            fault = self.faults[0]
            fault.count -= 1
            if fault.count <= 0:
                self.faults.popleft()
            return fault

    def authorized(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return hmac.compare_digest(value.strip().encode(), self.token.encode())
        if scheme.lower() == "basic":
            try:
                user, _, secret = base64.b64decode(value.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return user == self.user and hmac.compare_digest(secret.encode(), self.token.encode())
        return False

    def api(self, version: str) -> str:
        return f"{self.base_url}/rest/api/{version}"

    def new_issue(self, project: str, **fields: Any) -> JiraIssue:
        with self._lock:
            self._next_id += 1
            number = self._counters.get(project, 0) + 1
            self._counters[project] = number
            issue = JiraIssue(
                id=str(self._next_id), key=f"{project}-{number}", project=project, created=self.clock(), **fields
            )
            self.issues[issue.key] = issue
            return issue

    def issue(self, key_or_id: str) -> JiraIssue:
        issue = self.issues.get(key_or_id) or next((i for i in self.issues.values() if i.id == key_or_id), None)
        if issue is None:
            raise _Refusal(404, ["Issue does not exist or you do not have permission to see it."])
        return issue

    # --- JSON shapes ---

    def user_details(self, version: str) -> JSON:
        return {
            "self": f"{self.api(version)}/user?accountId=5b10ac8d82e05b22cc7d4ef5",
            "accountId": "5b10ac8d82e05b22cc7d4ef5",
            "emailAddress": self.user,
            "displayName": "mendflow",
            "active": True,
            "timeZone": "UTC",
            "accountType": "atlassian",
        }

    def status_json(self, version: str, name: str) -> JSON:
        sid, cid, ckey, colour, cname = STATUSES[name]
        return {
            "self": f"{self.api(version)}/status/{sid}",
            "description": "",
            "iconUrl": f"{self.base_url}/images/icons/statuses/generic.png",
            "name": name,
            "id": sid,
            "statusCategory": {
                "self": f"{self.api(version)}/statuscategory/{cid}",
                "id": cid,
                "key": ckey,
                "colorName": colour,
                "name": cname,
            },
        }

    def issue_json(self, version: str, issue: JiraIssue, only: set[str] | None = None) -> JSON:
        fields: JSON = {
            "summary": issue.summary,
            "description": issue.description,
            "labels": issue.labels,
            "priority": {
                "self": f"{self.api(version)}/priority/{PRIORITIES.index(issue.priority) + 1}",
                "name": issue.priority,
                "id": str(PRIORITIES.index(issue.priority) + 1),
            },
            "issuetype": {
                "self": f"{self.api(version)}/issuetype/{ISSUE_TYPES.index(issue.issuetype) + 10001}",
                "id": str(ISSUE_TYPES.index(issue.issuetype) + 10001),
                "name": issue.issuetype,
                "subtask": False,
            },
            "project": {
                "self": f"{self.api(version)}/project/{issue.project}",
                "key": issue.project,
                "name": self.projects[issue.project],
            },
            "status": self.status_json(version, issue.status),
            "created": _stamp(issue.created),
            "updated": _stamp(issue.created),
            "comment": {
                "comments": issue.comments,
                "maxResults": len(issue.comments),
                "total": len(issue.comments),
                "startAt": 0,
            },
        }
        if only:
            fields = {k: v for k, v in fields.items() if k in only}
        return {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": issue.id,
            "self": f"{self.api(version)}/issue/{issue.id}",
            "key": issue.key,
            "fields": fields,
        }

    def transitions_json(self, version: str, issue: JiraIssue) -> JSON:
        return {
            "expand": "transitions",
            "transitions": [
                {
                    "id": tid,
                    "name": name,
                    "to": self.status_json(version, target),
                    "hasScreen": False,
                    "isGlobal": False,
                    "isInitial": False,
                    "isAvailable": True,
                    "isConditional": False,
                    "isLooped": False,
                }
                for tid, name, target in WORKFLOW[issue.status]
            ],
        }


def _is_adf(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "doc" and isinstance(value.get("content"), list)


def _named(value: Any, key: str = "name") -> str:
    return str(value.get(key) or "") if isinstance(value, dict) else ""


async def _body(request: Request) -> JSON:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise _Refusal(400, ["Unexpected character in the request body: not JSON."]) from None
    if not isinstance(body, dict):
        raise _Refusal(400, ["The request body must be a JSON object."])
    return body


def _server_info(state: JiraState, request: Request, version: str) -> Response:
    cloud = state.deployment == "Cloud"
    numbers = [1001, 0, 0] if cloud else [9, 12, 0]
    return JSONResponse(
        {
            "baseUrl": state.base_url,
            "version": ".".join(map(str, numbers)) + ("-SNAPSHOT" if cloud else ""),
            "versionNumbers": numbers,
            "deploymentType": state.deployment,
            "buildNumber": 100246,
            "buildDate": "2024-03-28T00:00:00.000+00:00",
            "serverTime": _stamp(state.clock()),
            "scmInfo": "e207e3a88e19bebfd0fd5834088a20d22d89a0a2",
            "serverTitle": "mendflow Jira simulator",
        }
    )


def _myself(state: JiraState, request: Request, version: str) -> Response:
    return JSONResponse({**state.user_details(version), "locale": "en_US", "expand": "groups,applicationRoles"})


async def _create(state: JiraState, request: Request, version: str) -> Response:
    fields = (await _body(request)).get("fields")
    if not isinstance(fields, dict):
        raise _Refusal(400, ["No fields given: the body needs a `fields` object."])
    errors: dict[str, str] = {}
    project = _named(fields.get("project"), "key") or _named(fields.get("project"), "id")
    if project not in state.projects:
        errors["project"] = "Specify a valid project ID or key"
    summary = fields.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors["summary"] = "You must specify a summary of the issue."
    elif len(summary) > 255:
        errors["summary"] = "Summary must be less than 255 characters."
    issuetype = _named(fields.get("issuetype"))
    if issuetype not in ISSUE_TYPES:
        errors["issuetype"] = "Specify an issue type"
    priority = _named(fields.get("priority")) or "Medium"
    if priority not in PRIORITIES:
        errors["priority"] = f"Priority name '{priority}' is not valid"
    description = fields.get("description")
    if version == "3" and description is not None and not _is_adf(description):
        errors["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
    labels = fields.get("labels", [])
    if not isinstance(labels, list) or any(not isinstance(x, str) or " " in x for x in labels):
        errors["labels"] = "Labels must be strings without spaces."
    if errors:
        raise _Refusal(400, [], errors)
    issue = state.new_issue(
        project,
        issuetype=issuetype,
        summary=str(summary),
        description=description,
        labels=list(labels),
        priority=priority,
    )
    return JSONResponse(
        {"id": issue.id, "key": issue.key, "self": f"{state.api(version)}/issue/{issue.id}"}, status_code=201
    )


def _get_issue(state: JiraState, request: Request, version: str) -> Response:
    issue = state.issue(request.path_params["key"])
    wanted = request.query_params.get("fields")
    only = {f.strip() for f in wanted.split(",") if f.strip() and not f.startswith("*")} if wanted else None
    return JSONResponse(state.issue_json(version, issue, only or None))


async def _comment(state: JiraState, request: Request, version: str) -> Response:
    issue = state.issue(request.path_params["key"])
    body = (await _body(request)).get("body")
    if version == "3" and not _is_adf(body):
        raise _Refusal(400, ["Comment body is not valid!"])
    if version == "2" and (not isinstance(body, str) or not body.strip()):
        raise _Refusal(400, [], {"comment": "Comment body can not be empty!"})
    now = _stamp(state.clock())
    comment = {
        "self": f"{state.api(version)}/issue/{issue.id}/comment/{20000 + len(issue.comments)}",
        "id": str(20000 + len(issue.comments)),
        "author": state.user_details(version),
        "body": body,
        "updateAuthor": state.user_details(version),
        "created": now,
        "updated": now,
        "jsdPublic": True,
    }
    issue.comments.append(comment)
    return JSONResponse(comment, status_code=201)


def _transitions(state: JiraState, request: Request, version: str) -> Response:
    issue = state.issue(request.path_params["key"])
    return JSONResponse(state.transitions_json(version, issue))


async def _do_transition(state: JiraState, request: Request, version: str) -> Response:
    issue = state.issue(request.path_params["key"])
    transition = (await _body(request)).get("transition")
    wanted = str(transition.get("id", "")) if isinstance(transition, dict) else ""
    if not wanted:
        raise _Refusal(400, ["Missing 'transition' identifier"])
    match = next((t for t in WORKFLOW[issue.status] if t[0] == wanted), None)
    if match is None:
        raise _Refusal(400, [f"Transition id '{wanted}' is not valid for this issue."])
    issue.status = match[2]
    issue.transitions.append(match[1])
    return Response(status_code=204)


_CLAUSE = re.compile(r'^\s*(labels|project)\s*=\s*(?:"([^"]*)"|([A-Za-z0-9_.-]+))\s*$', re.IGNORECASE)
_ORDER = re.compile(r"\s+ORDER\s+BY\s+created(?:\s+(ASC|DESC))?\s*$", re.IGNORECASE)


def _matching(state: JiraState, jql: str) -> list[JiraIssue]:
    """The issues `jql` selects; only `labels = …` and `project = …` clauses joined by AND, and `ORDER BY created`."""
    order = _ORDER.search(jql)
    where = jql[: order.start()] if order else jql
    wanted: list[tuple[str, str]] = []
    for clause in re.split(r"\s+AND\s+", where.strip(), flags=re.IGNORECASE) if where.strip() else []:
        match = _CLAUSE.match(clause)
        if match is None:
            raise _Refusal(400, [f"Error in the JQL Query: the simulator does not understand {clause.strip()!r}."])
        wanted.append((match.group(1).lower(), match.group(2) if match.group(2) is not None else match.group(3)))
    found = [
        issue
        for issue in state.issues.values()
        if all(value in issue.labels if field == "labels" else issue.project == value for field, value in wanted)
    ]
    found.sort(key=lambda i: (i.created, int(i.id)), reverse=bool(order and (order.group(1) or "").upper() == "DESC"))
    return found


def _fields(state: JiraState, request: Request, version: str) -> Response:
    """The system fields the simulator's issues have (the `jira` library reads these once before its first search)."""
    types = {"summary": "string", "description": "string", "labels": "array", "priority": "priority"}
    types |= {"issuetype": "issuetype", "project": "project", "status": "status", "created": "datetime"}
    types |= {"updated": "datetime", "comment": "comments-page"}
    return JSONResponse(
        [
            {
                "id": name,
                "key": name,
                "name": name.capitalize(),
                "custom": False,
                "orderable": name not in ("status", "created", "updated"),
                "navigable": True,
                "searchable": True,
                "clauseNames": [name],
                "schema": {"type": kind, "system": name},
            }
            for name, kind in types.items()
        ]
    )


def _search(state: JiraState, request: Request, version: str) -> Response:
    """Data Center's `search` (startAt/total) or Cloud's `search/jql` (isLast); the fields asked for, by name."""
    params = request.query_params
    found = _matching(state, params.get("jql", ""))
    limit = int(params.get("maxResults") or 50)
    wanted = {f.strip() for name in params.getlist("fields") for f in name.split(",") if f.strip()}
    only = {f for f in wanted if not f.startswith("*")} or None
    if request.url.path.endswith("/search/jql"):
        issues = [state.issue_json(version, issue, only) for issue in found[:limit]]
        return JSONResponse({"issues": issues, "isLast": len(found) <= limit})
    start = int(params.get("startAt") or 0)
    page = [state.issue_json(version, issue, only) for issue in found[start : start + limit]]
    return JSONResponse(
        {"expand": "schema,names", "startAt": start, "maxResults": limit, "total": len(found), "issues": page}
    )


Handler = Callable[[JiraState, Request, str], Any]

ROUTES: tuple[tuple[str, str, Handler, bool], ...] = (
    # method, path under /rest/api/{version}, handler, needs auth
    ("GET", "/serverInfo", _server_info, False),
    ("GET", "/myself", _myself, True),
    ("POST", "/issue", _create, True),
    ("GET", "/issue/{key}", _get_issue, True),
    ("POST", "/issue/{key}/comment", _comment, True),
    ("GET", "/issue/{key}/transitions", _transitions, True),
    ("POST", "/issue/{key}/transitions", _do_transition, True),
    ("GET", "/field", _fields, True),
    ("GET", "/search", _search, True),
    ("GET", "/search/jql", _search, True),
)


def _endpoint(state: JiraState, handler: Handler, needs_auth: bool) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        version = request.path_params["version"]
        state.calls.append((request.method, request.url.path))
        state.in_flight += 1
        try:
            if version not in ("2", "3"):
                raise _Refusal(404, ["null for uri: " + request.url.path])
            fault = state.take_fault()
            if fault is not None:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                message = "Rate limit exceeded." if fault.status == 429 else "Service unavailable."
                return JSONResponse(
                    {"errorMessages": [message], "errors": {}}, status_code=fault.status, headers=headers
                )
            if needs_auth and not state.authorized(request.headers.get("authorization", "")):
                raise _Refusal(401, ["You are not authenticated. Authentication required to perform this operation."])
            delay = state.take_delay(request.method, request.url.path)
            if delay is not None and not delay.acted_first:
                await request.body()  # read whole first: a request Jira received is carried out if its client leaves
                await asyncio.sleep(delay.seconds)
            try:
                result = handler(state, request, version)
                if not isinstance(result, Response):
                    result = await result
            finally:
                if delay is not None and delay.acted_first:
                    await asyncio.sleep(delay.seconds)
            response: Response = result
            return response
        except _Refusal as refusal:
            return JSONResponse(refusal.body, status_code=refusal.status)
        finally:
            state.in_flight -= 1

    return endpoint


def create_jira_app(state: JiraState) -> Starlette:
    """The simulator app for `state` (also `app.state.jira`). Serve it and set `state.base_url`."""
    routes = [
        Route("/rest/api/{version}" + path, _endpoint(state, handler, auth), methods=[method])
        for method, path, handler, auth in ROUTES
    ]
    app = Starlette(routes=routes)
    app.state.jira = state
    return app


__all__ = [
    "ISSUE_TYPES",
    "PRIORITIES",
    "STATUSES",
    "WORKFLOW",
    "JiraDelay",
    "JiraIssue",
    "JiraState",
    "create_jira_app",
]
