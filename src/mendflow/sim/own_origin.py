"""Serve every absolute vendor URL in a simulator's JSON bodies on the simulator's own base URL.

Tenant files hold the vendor's URLs (`https://api.github.com/repos/…`, `https://acme.okta.com/api/v1/…`), and
stock clients follow them: PyGithub completes an object from its `url` and refuses a host other than its base
URL's. A real GitHub Enterprise server or Okta org answers with its own host, so the simulator does too. This is
the one place that rewrites: an ASGI middleware over the serialised body, so no route has to think about it.
GitHub's API origin is one fixed host; an Okta org's is the customer's own (`https://acme.okta.com`), so the Okta
simulator rewrites the origins its tenant file's `_links` hrefs carry (`link_origins`).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mendflow.sim.common import rewrite_body

_SAFE_BASE = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~\-/]*)?$")
"""A base we can splice into JSON text unescaped; anything else (a hostile Host header) is left alone."""


def own_base(scope: Scope) -> str:
    """The base URL this request reached the simulator on: scheme, Host header and path prefix (`root_path`)."""
    return str(Request(scope).base_url).rstrip("/")


def link_origins(document: Any, *, most: int = 8) -> tuple[str, ...]:
    """The origins (`https://acme.okta.com`) of the `_links` hrefs in a tenant section, at most `most` of them: a
    tenant file is one org, so more would be a file stitched from several, whose first origins are enough."""
    found: set[str] = set()
    stack = [document]
    while stack and len(found) < most:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            for key, value in item.items():
                if key == "_links":
                    found.update(_href_origins(value))
                elif isinstance(value, dict | list):
                    stack.append(value)
    return tuple(sorted(found))[:most]


def _href_origins(links: Any) -> set[str]:
    """`{"self": {"href": …}, "logo": [{"href": …}]}` → the http(s) origins of those hrefs."""
    out: set[str] = set()
    for link in links.values() if isinstance(links, dict) else ():
        for one in link if isinstance(link, list) else [link]:
            href = one.get("href") if isinstance(one, dict) else None
            if isinstance(href, str):
                parts = urlsplit(href)
                if parts.scheme in ("http", "https") and parts.netloc:
                    out.add(f"{parts.scheme}://{parts.netloc}")
    return out


def _is_json(start: Message) -> bool:
    return "json" in MutableHeaders(raw=list(start.get("headers", []))).get("content-type", "")


class OwnOrigin:
    """Replaces each of `origins` (`https://api.github.com`, no trailing slash) with the request's own base URL
    in JSON answers. JSON text carries a URL unescaped (`json.dumps` leaves `/` alone), so a byte replacement
    is exact and needs no parse; headers the simulator builds (`Link`) already use the request's URL."""

    def __init__(self, app: ASGIApp, *, origins: tuple[str, ...]) -> None:
        self.app = app
        self.origins = tuple(origin.rstrip("/").encode() for origin in origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        base = own_base(scope).encode() if scope["type"] == "http" else b""
        if not base or not _SAFE_BASE.match(base.decode()) or all(o == base for o in self.origins):
            await self.app(scope, receive, send)
            return

        def own(start: Message, body: bytes) -> bytes:
            for origin in self.origins:
                body = body.replace(origin, base)
            return body

        await rewrite_body(self.app, scope, receive, send, own, wanted=_is_json)


class PathPrefix:
    """Serves the app under `prefix` as well (GitHub Enterprise Server answers on `/api/v3`): a request under it
    reaches the routes with the prefix moved from `path` to `root_path`, so routes, rate buckets and fault
    patterns see the same paths as without it, while `own_base` — and so every served URL — keeps it."""

    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if self.prefix and (path == self.prefix or path.startswith(self.prefix + "/")):
            scope = {
                **scope,
                "path": path[len(self.prefix) :] or "/",
                "root_path": scope.get("root_path", "") + self.prefix,
            }
            raw = scope.get("raw_path")
            if isinstance(raw, bytes) and raw.startswith(self.prefix.encode()):
                scope["raw_path"] = raw[len(self.prefix) :] or b"/"
        await self.app(scope, receive, send)
