"""The operator API's OpenAPI 3.1 description, generated from `ENDPOINTS` and the pydantic models.

`python -m mendflow.api.openapi > docs/api/openapi.json` regenerates the checked-in copy; a test fails when the
two differ, so the description cannot go stale.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from mendflow import providers
from mendflow.api.operator import (
    ENDPOINTS,
    NEEDS,
    AnswerBody,
    Endpoint,
    ErrorBody,
    FalsePositiveBody,
    SuppressBody,
    VerbBody,
)
from mendflow.findings.view import FindingsPage
from mendflow.responses.messages import ResponseStatus
from mendflow.workflow_types import CampaignStatus

_REF = "#/components/schemas/{model}"
_ERRORS = {
    "400": "Bad input: not UTF-8, not JSON, too large, or the wrong shape.",
    "401": "No credential, or an unknown, expired or revoked token / invalid JWT.",
    "403": "The credential's role does not allow this verb, or the person is not in the RBAC config.",
    "429": "Too many failed authentications from this client; see Retry-After.",
    "503": "Temporal could not be reached.",
}


class WhoAmI(BaseModel):
    """The authenticated caller as the API resolved them."""

    person: str
    role: str
    auth: str
    groups: list[str]


def _schema(name: str) -> dict[str, Any]:
    return {"$ref": _REF.format(model=name)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _operation(e: Endpoint) -> dict[str, Any]:
    answers = {
        "answer": ("The workflow accepted the request.", _schema("AnswerBody")),
        "status": ("The campaign's status.", _schema("CampaignStatus")),
        "statuses": ("Running campaigns.", {"type": "array", "items": _schema("CampaignStatus")}),
        "whoami": ("The caller.", _schema("WhoAmI")),
        "findings": ("The findings matching every filter given.", _schema("FindingsPage")),
        "response": ("The response run's status.", _schema("ResponseStatus")),
    }
    text, schema = answers[e.answer]
    responses: dict[str, Any] = {"200": {"description": text, **_json(schema)}}
    if e.answer == "answer":
        responses["409"] = {"description": "The workflow refused it (the validator's reason).",
                            **_json(_schema("AnswerBody"))}  # fmt: skip
    if e.answer == "status":
        responses["404"] = {"description": "No such campaign.", **_json(_schema("ErrorBody"))}
    if e.answer == "response":
        responses["404"] = {"description": "No such response run.", **_json(_schema("ErrorBody"))}
    if e.name == "false_positive":
        responses["404"] = {"description": "No such finding.", **_json(_schema("ErrorBody"))}
    responses.update({code: {"description": why, **_json(_schema("ErrorBody"))} for code, why in _ERRORS.items()})
    operation: dict[str, Any] = {
        "operationId": e.name,
        "summary": e.summary,
        "description": f"Needs role `{NEEDS[e.verb].value}` or above; RBAC then decides per campaign.",
        "security": [{"bearer": []}],
        "responses": responses,
    }
    params = re.findall(r"{(\w+)(?::\w+)?}", e.path)
    if params:
        operation["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
        ]
    if e.query:
        operation.setdefault("parameters", []).extend(
            {"name": q, "in": "query", "required": False, "schema": {"type": "string"}} for q in e.query
        )
    if e.body is not None:
        operation["requestBody"] = {"required": True, **_json(_schema(e.body.__name__))}
    return operation


_PAYLOADS = {
    "type": "object",
    "description": "temporal.api.common.v1.Payloads as protobuf JSON (metadata values and data base64).",
    "properties": {"payloads": {"type": "array", "items": {"type": "object", "properties": {
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "data": {"type": "string"}}}}},
}  # fmt: skip


def _codec_operation(verb: str, summary: str) -> dict[str, Any]:
    """The codec server's operations (served when payload encryption is configured; docs/security.md)."""
    return {
        "operationId": f"codec_{verb}",
        "summary": summary,
        "description": f"Needs role `{NEEDS[verb].value}` or above. Served only when payloads are encrypted; CORS "
        "is answered for the configured Temporal UI origins.",
        "security": [{"bearer": []}],
        "requestBody": {"required": True, **_json(_PAYLOADS)},
        "responses": {
            "200": {"description": "The payloads, " + verb + "d.", **_json(_PAYLOADS)},
            **{code: {"description": text, **_json(_schema("ErrorBody"))} for code, text in _ERRORS.items()
               if code != "503"},
            "422": {"description": "A payload names a key id the ring lacks, or does not decrypt with it.",
                    **_json(_schema("ErrorBody"))},
        },
    }  # fmt: skip


def _codec_login() -> dict[str, Any]:
    """The codec server's browser sign-in (for a Temporal UI without one of its own)."""
    html = {"content": {"text/html": {"schema": {"type": "string"}}}}
    return {
        "get": {"operationId": "codec_login_form", "summary": "The sign-in form of the codec server.",
                "security": [], "responses": {"200": {"description": "The form.", **html}}},
        "post": {
            "operationId": "codec_login",
            "summary": "Check a personal token (viewer or above) and keep it in an HttpOnly cookie for /codec/decode.",
            "security": [],
            "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
                "type": "object", "properties": {"token": {"type": "string"}}, "required": ["token"]}}}},
            "responses": {
                "200": {"description": "Signed in; the cookie is set.", **html},
                **{code: {"description": text, **_json(_schema("ErrorBody"))} for code, text in _ERRORS.items()
                   if code in ("401", "403", "429")},
            },
        },
    }  # fmt: skip


def _webhook_paths() -> dict[str, Any]:
    """The vendor webhook endpoints (served for the tenants of the `webhooks:` section; docs/webhooks.md), as each
    provider's endpoint describes itself."""
    answers = {
        "200": {
            "description": "Ping, verification, an event about nothing mendflow collects, or a replayed "
            "delivery id (ignored, audited)."
        },
        "400": {"description": "Malformed: not JSON, or a documented field missing (named in `field`)."},
        "401": {"description": "Unsigned, mis-signed, or no configured tenant's secret matches."},
        "413": {"description": "Body too large (`webhooks.max_body`)."},
        "503": {"description": "The rescan could not be requested (Temporal unreachable); retry."},
    }
    return {
        f"/webhooks/{provider.name}": provider.webhooks().openapi(answers)
        for provider in providers.providers()
        if provider.webhooks is not None
    }


def openapi() -> dict[str, Any]:
    """The description as a dict (stable key order)."""
    models: list[type[BaseModel]] = [
        AnswerBody,
        ErrorBody,
        VerbBody,
        SuppressBody,
        FalsePositiveBody,
        CampaignStatus,
        WhoAmI,
        FindingsPage,
        ResponseStatus,
    ]
    _, defs = models_json_schema([(m, "serialization") for m in models], ref_template=_REF)
    paths: dict[str, dict[str, Any]] = {}
    for e in ENDPOINTS:
        path = re.sub(r"{(\w+):\w+}", r"{\1}", e.path)
        paths.setdefault(path, {})[e.method.lower()] = _operation(e)
    paths["/healthz"] = {
        "get": {
            "operationId": "healthz",
            "summary": "Liveness.",
            "security": [],
            "responses": {"200": {"description": "Serving.", **_json({"type": "object"})}},
        }
    }
    paths["/metrics"] = {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus text of this process's metrics and the SSPM gauges (docs/operations.md).",
            "description": "Unauthenticated, like any scrape target: serve it on the internal network only. It "
            "carries counts, durations and tenant keys, never secrets or finding details.",
            "security": [],
            "responses": {
                "200": {
                    "description": "Prometheus text exposition format 0.0.4.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    }
    paths["/slack/interactivity"] = {
        "post": {
            "operationId": "slack_interactivity",
            "summary": "Slack's block_actions callback (served when Slack is configured).",
            "description": "Authenticated by Slack's request signature (X-Slack-Signature over the raw body, 5-minute "
            "window, replays refused), not by a bearer token. Acknowledged at once; the decision is signed by the API "
            "and the clicking user is told the workflow's answer privately. See docs/integrations.md.",
            "security": [],
            "parameters": [
                {"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
                for h in ("X-Slack-Signature", "X-Slack-Request-Timestamp")
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "properties": {"payload": {"type": "string", "description": "JSON block_actions"}},
                            "required": ["payload"],
                        }
                    }
                },
            },
            "responses": {
                "200": {"description": "Acknowledged."},
                "400": {"description": "Malformed payload."},
                "401": {"description": "Bad, stale or replayed signature."},
                "413": {"description": "Body too large."},
            },
        }
    }
    paths.update(_webhook_paths())
    for verb, summary in (
        ("decode", "Decrypt Temporal payloads (the Temporal UI's and CLI's codec endpoint)."),
        ("encode", "Encrypt Temporal payloads with the primary payload key."),
    ):
        paths[f"/codec/{verb}"] = {"post": _codec_operation(verb, summary)}
    paths["/codec/login"] = _codec_login()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mendflow operator API",
            "version": "1",
            "description": "Operator verbs on campaigns and findings. Every request is authenticated (personal "
            "token or OIDC JWT), signed by the API and answered by the workflow. See docs/security.md.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": paths,
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A personal token (`mfp_…`) or an OIDC JWT."}},
        },
    }  # fmt: skip


def render() -> str:
    return json.dumps(openapi(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
