"""A provider is one package: the fixture vendor `widgets` (tests/providers/widgets/) works end to end with
nothing outside its package but the one registration line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mendflow.connectors.registry import get_action, open_session
from mendflow.errors import ActionError, TenantFileError
from mendflow.offline import scan_tenant_file, simulated_tenant
from mendflow.playbooks.cases import run_playbook_tests
from mendflow.playbooks.loader import load_playbooks
from mendflow.providers import Provider, register, unregister
from mendflow.tenant import TENANT_FORMAT, parse_tenant
from tests.providers.widgets import PROVIDER
from tests.providers.widgets.actions import GadgetVisibilityParams

PLAYBOOKS = Path(__file__).parent / "widgets" / "playbooks"
SRC = Path(__file__).parents[2] / "src" / "mendflow"


def _document() -> dict[str, object]:
    gadgets = [{"id": "g1", "name": "Front door", "public": True}, {"id": "g2", "name": "Back door", "public": False}]
    return {"format": TENANT_FORMAT, "provider": "widgets", "tenant": "shop", "widgets": {"gadgets": gadgets}}


@pytest.fixture
def widgets() -> Iterator[Provider]:
    register(PROVIDER)  # the one line a shipped provider adds to mendflow/providers/__init__.py
    yield PROVIDER
    unregister(PROVIDER.name)


def test_a_tenant_file_of_the_new_provider_is_scanned_offline(widgets: Provider, tmp_path: Path) -> None:
    """Its tenant file loads, its simulator serves it, its collector reads it and the rules find the public gadget."""
    loaded = load_playbooks([PLAYBOOKS])
    assert loaded.errors == []
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(_document()))
    scan = scan_tenant_file(path, loaded.playbooks)
    assert [(f.rule, f.resource.id) for f in scan.findings] == [("widgets.gadget.public", "/gadgets/g1")]
    assert scan.resource_count == 2 and scan.errors == [] and scan.gaps == []


def test_its_tenant_file_section_is_checked_by_its_own_model(widgets: Provider) -> None:
    """A gadget without a name is refused at its JSON path, by the section model the package declares."""
    document = _document()
    document["widgets"] = {"gadgets": [{"id": "g9"}]}
    with pytest.raises(TenantFileError, match=r"\$\.widgets\.gadgets\[0\]\.name: Field required"):
        parse_tenant(document, source="widgets test")


def test_its_playbook_validates_and_its_test_cases_run(widgets: Provider) -> None:
    """A playbook on `widgets.gadget` with the provider's own action validates; its cases run through the
    simulator and the planner, and each passes (the first plans the gadget private)."""
    loaded = load_playbooks([PLAYBOOKS])
    assert loaded.errors == [] and [p.id for p in loaded.playbooks] == ["widgets.gadget.public"]
    results = run_playbook_tests(loaded.playbooks)
    assert [(r.name, r.problems) for r in results] == [(case.name, []) for case in loaded.playbooks[0].tests]
    first = results[0].plan
    assert first is not None
    assert [(c.resource.id, c.before, c.after) for c in first.changes] == [
        ("/gadgets/g1", {"public": True}, {"public": False})
    ]


def test_a_wrong_expectation_fails_the_case(widgets: Provider) -> None:
    """The cases really run: expecting the private gadget to be found is reported as a failure."""
    playbook = load_playbooks([PLAYBOOKS]).playbooks[0]
    case = playbook.tests[1].model_copy(update={"expect": playbook.tests[0].expect})
    (result,) = run_playbook_tests([playbook.model_copy(update={"tests": (case,)})])
    assert not result.passed and any("missing /gadgets/g1" in problem for problem in result.problems)


def test_its_action_writes_verifies_and_restores_through_the_registry(widgets: Provider) -> None:
    """`get_action` finds the provider's implementation; applied to the simulator it changes the gadget, and the
    captured state restores it."""
    tenant = parse_tenant(_document(), source="widgets test")
    action = get_action("widgets.gadget.set_visibility")
    params = GadgetVisibilityParams(public=False)

    async def run() -> None:
        async with open_session(sim.connection, token=sim.token) as session:
            before = await action.capture(session.http, "/gadgets/g1", params)
            assert await action.apply(session.http, "/gadgets/g1", params)
            assert sim.state["gadgets"][0]["public"] is False
            assert await action.holds(session.http, "/gadgets/g1", params.as_body())
            assert await action.restore(session.http, "/gadgets/g1", before)

    with simulated_tenant(tenant) as sim:
        asyncio.run(run())
        assert sim.state["gadgets"][0]["public"] is True


def test_unregistered_the_provider_is_unknown_everywhere() -> None:
    """Without the registration line nothing knows the vendor: its tenant files, actions and playbooks are refused."""
    with pytest.raises(TenantFileError, match="unknown provider 'widgets'"):
        parse_tenant(_document(), source="widgets test")
    with pytest.raises(ActionError, match=r"widgets\.gadget\.set_visibility"):
        get_action("widgets.gadget.set_visibility")
    assert any("unknown resource type 'widgets.gadget'" in str(e) for e in load_playbooks([PLAYBOOKS]).errors)


def test_mendflow_itself_never_names_the_fixture_provider() -> None:
    """Nothing under src/mendflow mentions `widgets`: the package and its registration are all it took."""
    named = [p for p in SRC.rglob("*.py") if "widgets" in p.read_text(encoding="utf-8")]
    assert named == []
