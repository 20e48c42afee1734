"""docs/api/openapi.json is generated from the code and kept in step with it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from starlette.routing import BaseRoute, Mount, Route

from mendflow.api.app import create_api_app, temporal_decider
from mendflow.api.openapi import openapi, render
from mendflow.api.operations import Operations
from mendflow.api.operator import OperatorApi
from mendflow.api.webhooks import MemoryDeliveryLog, WebhookReceiver
from mendflow.auth.identity import Authenticator
from mendflow.auth.signing import DecisionSigner
from mendflow.codec import AesGcmCodec
from mendflow.rbac import RbacConfig
from mendflow.runtime.client import TemporalSettings
from mendflow.secrets import SecretRef
from mendflow.webhooks import WebhookSettings, WebhookTenant


def _routes(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, Route]]:
    """Every Route with its full path, looking inside mounts (the codec server is one)."""
    found: list[tuple[str, Route]] = []
    for route in routes:
        if isinstance(route, Mount):
            found.extend(_routes(list(route.routes), prefix + route.path))
        elif isinstance(route, Route):
            found.append((prefix + route.path, route))
    return found


CHECKED_IN = Path(__file__).parents[2] / "docs" / "api" / "openapi.json"


def test_checked_in_description_is_not_stale() -> None:
    """Regenerate with `python -m mendflow.api.openapi > docs/api/openapi.json` when this fails."""
    assert CHECKED_IN.read_text(encoding="utf-8") == render()


def _webhooks(monkeypatch: pytest.MonkeyPatch) -> WebhookReceiver:
    monkeypatch.setenv("T_OPENAPI_HOOK", "s" * 32)
    ref = SecretRef(ref="env:T_OPENAPI_HOOK")
    tenants = tuple(WebhookTenant(tenant=f"{p}:acme", provider=p, secret=ref) for p in ("github", "okta"))

    async def rescan(tenant: str, targets: list[str], source: str) -> None: ...

    return WebhookReceiver(WebhookSettings(tenants=tenants), audit=None, deliveries=MemoryDeliveryLog(), rescan=rescan)  # type: ignore[arg-type]


def test_description_is_valid_openapi_and_covers_every_route(monkeypatch: pytest.MonkeyPatch) -> None:
    """A valid OpenAPI 3.1 document with exactly one operation per route the app serves."""
    spec = json.loads(CHECKED_IN.read_text(encoding="utf-8"))
    validate(spec)
    ops = Operations(TemporalSettings(address="127.0.0.1:9"), DecisionSigner.generate(), None)
    operator = OperatorApi(ops, Authenticator(rbac=RbacConfig(), tokens=None), RbacConfig())
    codec = AesGcmCodec({"k": bytes(32)}, primary="k")
    app = create_api_app(slack_signing_secret="s" * 32, decide=temporal_decider(ops), audit=None, operator=operator,  # type: ignore[arg-type]
                         codec=codec, webhooks=_webhooks(monkeypatch))  # fmt: skip
    served = {
        (method.lower(), re.sub(r"{(\w+):\w+}", r"{\1}", path))
        for path, route in _routes(app.routes)
        for method in route.methods or ()
        if method != "HEAD"
    }
    described = {(m, p) for p, ops in openapi()["paths"].items() for m in ops}
    assert served == described
