"""openapi-core's Request and Response protocols over httpx objects, shared by the simulators' contract tests."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict


class SpecRequest:
    """An httpx request, addressed to the spec's server (`host_url`) instead of the loopback simulator."""

    def __init__(self, request: httpx.Request, host_url: str = "https://api.github.com") -> None:
        self.host_url = host_url
        self.path = request.url.path
        self.method = request.method.lower()
        self.body: bytes | None = request.content or None
        self.content_type = request.headers.get("content-type", "application/json")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(request.url.query.decode())),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )


class SpecResponse:
    """An httpx response (or a doctored copy of its body)."""

    def __init__(self, response: httpx.Response, data: bytes | None = None) -> None:
        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "")
        self.headers = Headers(dict(response.headers))
        self.data = response.content if data is None else data
