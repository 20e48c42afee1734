"""The codec server: Temporal's UI and CLI send encrypted payloads here and get them back decrypted.

    POST /codec/decode   {"payloads": [{"metadata": {...}, "data": "<base64>"}]}  (protobuf JSON, as Temporal sends)
    POST /codec/encode   the same shape, the other way (e.g. `temporal workflow signal --codec-endpoint …`)

    GET/POST /codec/login  a form where an operator pastes a personal token; sets an HttpOnly cookie that only
                           `/codec/decode` reads (for a Temporal UI with no sign-in of its own: the dev server's)

Both go through the operator API's authentication (bearer personal token or OIDC JWT, failures throttled and
audited): decoding needs a role that may read (viewer), encoding one that may act (operator). Without a valid
credential the caller gets 401 and the UI keeps showing ciphertext. CORS is answered only for the configured
origins (the Temporal UI's); credentials and the `Authorization` header are allowed so the UI can send a token,
or the cookie when the UI's "include cross-origin credentials" is on. The cookie is `SameSite=Strict` (browsers
send it from the UI on another loopback port: same site) and never lets anyone encode.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from html import escape
from urllib.parse import parse_qs

from google.protobuf import json_format
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from mendflow.api.body import read_bounded
from mendflow.api.operator import OperatorApi
from mendflow.auth.identity import Principal
from mendflow.errors import InputError, PayloadKeyError
from mendflow.telemetry import get_logger

PREFIX = "/codec"
MAX_BODY = 8 * 1024 * 1024
"""Temporal refuses payloads over 2 MiB; base64 and a few at once stay well under this."""
UI_HEADERS = ("authorization", "content-type", "x-namespace")
"""What the Temporal UI sends to a codec endpoint."""
COOKIE = "mendflow_codec"
"""The browser session of `/codec/login`: the operator's token, HttpOnly, sent to `/codec/decode` only."""
SESSION_SECONDS = 8 * 3600
"""A browser session lasts a working day (the token's own expiry and revocation still apply on every request)."""

Endpoint = Callable[[Request], Awaitable[Response]]

log = get_logger(__name__)


async def _payloads(request: Request) -> Payloads:
    raw = await read_bounded(request, MAX_BODY)
    if raw is None:
        raise InputError(f"body larger than {MAX_BODY} bytes")
    try:
        return json_format.Parse(raw.decode("utf-8"), Payloads())
    except (UnicodeDecodeError, json_format.ParseError):  # the parser's text can quote the body: payload data
        raise InputError('body is not the Payloads JSON Temporal sends ({"payloads": [{"metadata": …}]})') from None


def _answer(payloads: Payloads) -> Response:
    return Response(json_format.MessageToJson(payloads), media_type="application/json")


def _as_bearer(request: Request, token: str) -> Request:
    """The same request with `Authorization: Bearer <token>` (so the operator API's checks apply unchanged)."""
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]
    scope = {**request.scope, "headers": [*headers, (b"authorization", f"Bearer {token}".encode())]}
    return Request(scope, request.receive)


def _cookie_or_header(endpoint: Endpoint) -> Endpoint:
    """Use the session cookie when the request carries no Authorization header."""

    async def wrapped(request: Request) -> Response:
        token = request.cookies.get(COOKIE, "")
        if "authorization" not in request.headers and token:
            request = _as_bearer(request, token)
        return await endpoint(request)

    return wrapped


_FORM = """<!doctype html><meta charset="utf-8"><title>mendflow codec sign-in</title>
<h1>Decrypt Temporal payloads in this browser</h1><p>{message}</p>
<form method="post" action="login"><label>mendflow personal token (viewer or above)
<input name="token" type="password" autocomplete="off" required></label> <button>Sign in</button></form>
<p>Then, in the Temporal UI's codec server settings, turn on <em>include cross-origin credentials</em>.</p>
"""


def login_routes(operator: OperatorApi) -> list[Route]:
    """The browser sign-in of the codec server: the token is checked like any API request, then kept in a cookie."""

    async def form(request: Request) -> Response:
        return HTMLResponse(_FORM.format(message="Paste a token from <code>mendflow tokens create</code>."))

    async def signed_in(request: Request, principal: Principal) -> Response:
        token = request.headers["authorization"].partition(" ")[2]
        log.info("codec browser session", person=principal.person)
        answer = HTMLResponse(_FORM.format(message=f"Signed in as {escape(principal.person)}; payloads decrypt in "
                                           "the Temporal UI of this browser."))  # fmt: skip
        answer.set_cookie(COOKIE, token, max_age=SESSION_SECONDS, path=f"{PREFIX}/decode", httponly=True,
                          samesite="strict", secure=request.url.scheme == "https")  # fmt: skip
        return answer

    check = operator.guarded("decode", signed_in)

    async def submit(request: Request) -> Response:
        raw = await read_bounded(request, 4096)
        fields = parse_qs(raw.decode("utf-8", "replace")) if raw else {}
        token = (fields.get("token") or [""])[0].strip()
        return await check(_as_bearer(request, token) if token else request)

    return [Route("/login", form, methods=["GET"]), Route("/login", submit, methods=["POST"])]


def codec_routes(codec: PayloadCodec, operator: OperatorApi, *, origins: Sequence[str] = ()) -> list[Mount]:
    """`/codec/encode` and `/codec/decode` over `codec`, authenticated like the operator API, CORS for `origins`."""

    async def decode(request: Request, principal: Principal) -> Response:
        payloads = await _payloads(request)
        try:
            decoded = await codec.decode(list(payloads.payloads))
        except PayloadKeyError as err:  # names a key id only; the UI shows it to the operator
            return JSONResponse({"error": str(err)}, status_code=422)
        log.info("payloads decoded", person=principal.person, count=len(decoded),
                 namespace=request.headers.get("x-namespace", ""))  # fmt: skip
        return _answer(Payloads(payloads=decoded))

    async def encode(request: Request, principal: Principal) -> Response:
        payloads = await _payloads(request)
        encoded = await codec.encode(list(payloads.payloads))
        log.info("payloads encoded", person=principal.person, count=len(encoded))
        return _answer(Payloads(payloads=encoded))

    cors = Middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["POST"],
        allow_headers=list(UI_HEADERS),
        allow_credentials=True,
    )
    routes = [
        Route("/decode", _cookie_or_header(operator.guarded("decode", decode)), methods=["POST"]),
        Route("/encode", operator.guarded("encode", encode), methods=["POST"]),
        *login_routes(operator),
    ]
    return [Mount(PREFIX, routes=routes, middleware=[cors])]


__all__ = ["COOKIE", "MAX_BODY", "PREFIX", "codec_routes", "login_routes"]
