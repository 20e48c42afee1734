"""The codec server: Temporal's UI and CLI send encrypted payloads here and get them back decrypted.

    POST /codec/decode   {"payloads": [{"metadata": {...}, "data": "<base64>"}]}  (protobuf JSON, as Temporal sends)
    POST /codec/encode   the same shape, the other way (e.g. `temporal workflow signal --codec-endpoint …`)

Both go through the operator API's authentication (bearer personal token or OIDC JWT, failures throttled and
audited): decoding needs a role that may read (viewer), encoding one that may act (operator). Without a valid
credential the caller gets 401 and the UI keeps showing ciphertext. CORS is answered only for the configured
origins (the Temporal UI's); credentials and the `Authorization` header are allowed so the UI can send a token.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf import json_format
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
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

log = get_logger(__name__)


async def _payloads(request: Request) -> Payloads:
    raw = await read_bounded(request, MAX_BODY)
    if raw is None:
        raise InputError(f"body larger than {MAX_BODY} bytes")
    try:
        return json_format.Parse(raw.decode("utf-8"), Payloads())
    except (UnicodeDecodeError, json_format.ParseError) as err:
        raise InputError(f"body is not Temporal's Payloads JSON: {str(err)[:200]}") from None


def _answer(payloads: Payloads) -> Response:
    return Response(json_format.MessageToJson(payloads), media_type="application/json")


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
        Route("/decode", operator.guarded("decode", decode), methods=["POST"]),
        Route("/encode", operator.guarded("encode", encode), methods=["POST"]),
    ]
    return [Mount(PREFIX, routes=routes, middleware=[cors])]


__all__ = ["MAX_BODY", "PREFIX", "codec_routes"]
