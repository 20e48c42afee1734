"""The vendor client's exchange (`connectors.transport.Exchange`) sends what `httpx.AsyncClient` sent, without its
client layer: the same URL, headers and body, no redirect followed, no cookie kept."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mendflow.connectors.http import VendorHttp
from mendflow.connectors.transport import Exchange

HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28", "Authorization": "t x"}


@pytest.mark.parametrize(
    ("base_url", "path", "params"),
    [
        ("https://api.github.com", "/repos/acme/api/hooks/7/config", None),
        ("https://ghe.example/api/v3", "/orgs/acme/members", {"per_page": 100, "page": 2}),
        ("https://ghe.example/api/v3/", "repos/acme/a b", None),
        ("https://ghe.example/api/v3", "/search?q=1", {"q": "x y", "archived": False}),
        ("https://ghe.example/api/v3", "https://ghe.example/api/v3/orgs/acme/repos?page=3", None),
    ],
)
async def test_a_request_is_the_one_httpx_client_built(base_url: str, path: str, params: dict[str, Any]) -> None:
    """URL under the base path (params replacing the query, as httpx does), httpx's default headers (GitHub
    refuses a request without a User-Agent) under the session's, the JSON body and the timeout: all as before."""
    seen: list[httpx.Request] = []
    exchange = Exchange(
        base_url=base_url,
        headers=HEADERS,
        timeout=12.0,
        transport=httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(204)),
    )
    await exchange.send("PATCH", path, params=params, json={"name": "é"})
    async with httpx.AsyncClient(base_url=base_url, headers=HEADERS, timeout=12.0) as client:
        expected = client.build_request("PATCH", path, params=params, json={"name": "é"})
    (sent,) = seen
    assert (sent.method, str(sent.url)) == (expected.method, str(expected.url))
    assert sent.headers.multi_items() == expected.headers.multi_items()
    assert sent.read() == expected.read()
    assert sent.extensions == expected.extensions


async def test_a_redirect_is_answered_not_followed_and_no_cookie_is_kept() -> None:
    """A 302 is the answer (the credentials never follow it elsewhere); a `Set-Cookie` is never sent back."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"location": "https://elsewhere.example/x", "set-cookie": "sid=s3cr3t"})

    async with VendorHttp(
        base_url="https://api.example", auth_header="Bearer t", vendor="Example", transport=httpx.MockTransport(answer)
    ) as http:
        first = await http.request("GET", "/moved")
        await http.request("GET", "/moved")
    assert first.status_code == 302 and first.request.url == "https://api.example/moved"
    assert [str(r.url) for r in seen] == ["https://api.example/moved"] * 2
    assert all("cookie" not in r.headers for r in seen)


async def test_the_body_is_read_before_the_answer_is_returned() -> None:
    """Callers read `.content` and `.json()` of a finished exchange: the stream is consumed and closed."""
    exchange = Exchange(
        base_url="https://api.example",
        headers={},
        timeout=1.0,
        transport=httpx.MockTransport(lambda request: httpx.Response(200, stream=_Chunks([b'{"a":', b" 1}"]))),
    )
    response = await exchange.send("GET", "/x")
    assert response.is_closed and response.json() == {"a": 1}


class _Chunks(httpx.AsyncByteStream):
    """A body that arrives in pieces, like a socket's."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> Any:
        for chunk in self.chunks:
            yield chunk
