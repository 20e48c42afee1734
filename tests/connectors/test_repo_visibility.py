"""github.repo.set_visibility: the write behind github.repo.public_not_allowed, against the GitHub simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from mendflow.actions import ACTIONS
from mendflow.connectors.permissions import action_needs
from mendflow.connectors.registry import get_action
from tests.connectors.conftest import GITHUB_DEMO, Served, serve, tenant_from


@pytest.fixture
def org() -> Iterator[Served]:
    with serve(tenant_from(json.loads(GITHUB_DEMO.read_text(encoding="utf-8")))) as served:
        yield served


async def test_a_public_repository_is_made_private_and_the_action_is_irreversible(org: Served) -> None:
    action = get_action("github.repo.set_visibility")
    params = ACTIONS["github.repo.set_visibility"].params.model_validate({"visibility": "private"})
    rid = "/repos/acme/docs"
    repo = org.app.state.github.repo("docs")
    async with org.session() as session:
        assert await action.capture(session.http, rid, params) == {"visibility": "public"}
        assert await action.apply(session.http, rid, params)
        assert await action.holds(session.http, rid, {"visibility": "private"})
    assert repo["visibility"] == "private" and repo["private"] is True
    assert ACTIONS["github.repo.set_visibility"].reversible is False
    assert action_needs()["github.repo.set_visibility"] == "administration:write"
