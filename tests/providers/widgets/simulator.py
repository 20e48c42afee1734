"""A Widgets API on loopback: list, read and patch gadgets, for one bearer token."""

from __future__ import annotations

import copy
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mendflow.tenant import TenantFile


def create_widgets_app(tenant: TenantFile, *, token: str) -> Starlette:
    state: dict[str, Any] = copy.deepcopy(tenant.section())
    gadgets: list[dict[str, Any]] = state.setdefault("gadgets", [])

    def authorized(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {token}"

    def find(gadget_id: str) -> dict[str, Any] | None:
        return next((g for g in gadgets if g["id"] == gadget_id), None)

    async def listed(request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"message": "bad credentials"}, status_code=401)
        return JSONResponse(gadgets)

    async def one(request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"message": "bad credentials"}, status_code=401)
        gadget = find(request.path_params["id"])
        if gadget is None:
            return JSONResponse({"message": "not found"}, status_code=404)
        if request.method == "PATCH":
            gadget.update({k: v for k, v in (await request.json()).items() if k != "id"})
        return JSONResponse(gadget)

    app = Starlette(routes=[Route("/gadgets", listed), Route("/gadgets/{id}", one, methods=["GET", "PATCH"])])
    app.state.widgets = state
    return app
