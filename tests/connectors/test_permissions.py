"""The permission table agrees with Okta's description, with the simulators' own tables, and covers every action."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mendflow.actions import ACTIONS
from mendflow.connectors.permissions import action_needs, needed, satisfied
from mendflow.providers.github.permissions import NEEDS as GITHUB_NEEDS
from mendflow.providers.okta.permissions import NEEDS as OKTA_NEEDS
from mendflow.sim.app_auth import GITHUB_PERMISSIONS, OKTA_SCOPES

OKTA_SPEC = Path(__file__).resolve().parents[2] / "tests" / "specs" / "okta-subset.normalized.json"


def _concrete(template: str) -> str:
    """A path the template matches (`{id}` → `x1`)."""
    return re.sub(r"\{[^}]+\}", "x1", template)


def _spec_scopes() -> dict[tuple[str, str], str]:
    paths = json.loads(OKTA_SPEC.read_text(encoding="utf-8"))["paths"]
    out = {}
    for path, item in paths.items():
        for method, op in item.items():
            scopes = (
                [s for req in op.get("security", []) for s in req.get("oauth2", [])] if isinstance(op, dict) else []
            )
            if scopes:
                out[(method.upper(), _concrete(path))] = scopes[0]
    return out


@pytest.mark.parametrize("need", OKTA_NEEDS, ids=lambda n: f"{n.method} {n.template}")
def test_okta_scope_is_the_one_okta_documents(need: object) -> None:
    """Each Okta endpoint's scope is the `oauth2` requirement of that operation in Okta's description."""
    spec = _spec_scopes()
    key = (need.method, _concrete(need.template))  # type: ignore[attr-defined]
    assert spec[key] == need.permission  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("provider", "needs", "sim"), [("github", GITHUB_NEEDS, GITHUB_PERMISSIONS), ("okta", OKTA_NEEDS, OKTA_SCOPES)]
)
def test_connector_and_simulator_tables_agree(provider: str, needs: object, sim: object) -> None:
    """The connector expects what the simulator enforces, endpoint by endpoint (two tables written apart)."""
    enforced = [(m, re.compile(re.sub(r"\{[^}]+\}", "[^/]+", p)), s.replace("=", ":")) for m, p, s in sim]  # type: ignore[attr-defined]
    for need in needs:  # type: ignore[attr-defined]
        path = _concrete(need.template)
        found = [s for m, pattern, s in enforced if m == need.method and pattern.fullmatch(path)]
        assert found[:1] == [need.permission], f"{need.method} {need.template}"
        assert needed(provider, need.method, path) == need.permission


def test_every_action_declares_its_permission() -> None:
    """No catalogued action can run without doctor knowing what it needs."""
    assert set(action_needs()) == set(ACTIONS)
    assert all(p.endswith((":write", ".manage")) for p in action_needs().values())


def test_github_write_covers_read_but_okta_scopes_are_exact() -> None:
    """GitHub's levels nest; Okta's read and manage scopes are separate grants."""
    assert satisfied("github", "members:read", ["members:write"])
    assert not satisfied("github", "members:write", ["members:read"])
    assert not satisfied("okta", "okta.users.read", ["okta.users.manage"])
    assert needed("github", "GET", "/rate_limit") is None
