"""Companions find a resource's object in a tenant file by the same id the connector gives it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mendflow.data import demo_tenant_path
from mendflow.offline import scan_tenant_file
from mendflow.playbooks.model import Playbook
from mendflow.playbooks.shapes import Expect, run_shape_case, shape_cases
from mendflow.playbooks.tenant_objects import locate, objects

DEMO_OKTA = demo_tenant_path().with_name("demo-okta.json")


@pytest.mark.parametrize("path", [demo_tenant_path(), DEMO_OKTA], ids=["github", "okta"])
def test_object_ids_are_the_ids_the_connector_yields(path: Path) -> None:
    """For every resource type in the demo tenants, the ids found in the file equal the collected ids."""
    document = json.loads(path.read_text(encoding="utf-8"))
    section = document[document["provider"]]
    collected: dict[str, set[str]] = {}
    for resource in scan_tenant_file(path, []).resources:
        collected.setdefault(resource.type, set()).add(resource.id)
    assert collected
    for resource_type, ids in collected.items():
        assert {rid for rid, _ in objects(section, resource_type)} == ids, resource_type
        some, first = next(objects(section, resource_type))
        assert locate(section, resource_type, some) is first
    assert locate(section, "github.org" if "github" in section else "okta.user", "/nowhere") is None


def test_tenant_file_cases_get_companions_too(tmp_path: Path) -> None:
    """An Okta case given as a tenant file: a date compared as text fails the companion with an offset."""
    document = json.loads(DEMO_OKTA.read_text(encoding="utf-8"))
    first = document["okta"]["users"][0]
    first["status"], first["lastLogin"] = "ACTIVE", "2026-05-31T23:30:00.000Z"  # just before the text threshold
    tenant = tmp_path / "okta.json"
    tenant.write_text(json.dumps(document), encoding="utf-8")
    playbook = Playbook.model_validate(
        {
            "apiVersion": "mendflow/v1",
            "id": "okta.user.example",
            "title": "text-compared sign-in time",
            "resource": "okta.user",
            "detect": {"when": 'resource.lastLogin != null && resource.lastLogin < "2026-06-01"', "severity": "low"},
            "tests": [{"name": "one user", "tenant_file": str(tenant), "expect": {"findings": []}}],
        }
    )
    generated = shape_cases(playbook)
    assert {s.variant for s in generated} >= {"a time with a +02:00 offset", "a time with milliseconds"}
    (shifted,) = [s for s in generated if s.variant == "a time with a +02:00 offset"]
    assert shifted.resource_id == f"/api/v1/users/{first['id']}" and shifted.expect is Expect.same
    (result,) = [run_shape_case(playbook, playbook.tests[0], shifted)]
    assert result.problems == [
        f"/api/v1/users/{first['id']} is not a finding with resource.lastLogin a time with a +02:00 offset, "
        "but a finding in the case"
    ]
