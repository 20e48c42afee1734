"""docs/api/openapi.json is generated from the code and kept in step with it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from openapi_spec_validator import validate

from mendflow.api.openapi import openapi, render
from mendflow.api.operator import ENDPOINTS

CHECKED_IN = Path(__file__).parents[2] / "docs" / "api" / "openapi.json"


def test_checked_in_description_is_not_stale() -> None:
    """Regenerate with `python -m mendflow.api.openapi > docs/api/openapi.json` when this fails."""
    assert CHECKED_IN.read_text(encoding="utf-8") == render()


def test_description_is_valid_openapi_and_covers_every_route() -> None:
    """A valid OpenAPI 3.1 document with one operation per served endpoint."""
    spec = json.loads(CHECKED_IN.read_text(encoding="utf-8"))
    validate(spec)
    served = {(e.method.lower(), re.sub(r"{(\w+):\w+}", r"{\1}", e.path)) for e in ENDPOINTS}
    described = {(m, p) for p, ops in openapi()["paths"].items() for m in ops}
    assert served == described
