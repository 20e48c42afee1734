"""Tenant files: bad input is named by file and JSON path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mendflow.data import demo_tenant_path
from mendflow.errors import TenantFileError
from mendflow.tenant import load_tenant_file


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_demo_tenant_file_loads() -> None:
    """The shipped demo tenant is a valid v1 GitHub tenant."""
    tenant = load_tenant_file(demo_tenant_path())
    assert tenant.provider == "github" and tenant.tenant == "acme" and tenant.taken_at is not None


def test_invalid_json_names_file_line_and_column(tmp_path: Path) -> None:
    """A syntax error reports file:line:col."""
    path = write(tmp_path, "t.json", '{\n  "format": "mendflow.tenant/v1",\n  oops\n}')
    with pytest.raises(TenantFileError, match=r"t\.json:3:3: not valid JSON"):
        load_tenant_file(path)


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    """YAML syntax errors carry the position too."""
    path = write(tmp_path, "t.yaml", "format: mendflow.tenant/v1\ngithub: [unclosed\n")
    with pytest.raises(TenantFileError, match=r"t\.yaml:\d+:\d+: not valid YAML"):
        load_tenant_file(path)


def test_wrong_format_is_named(tmp_path: Path) -> None:
    """A different `format` is refused with the value found."""
    path = write(tmp_path, "t.json", json.dumps({"format": "other/v9", "provider": "github", "tenant": "x"}))
    with pytest.raises(TenantFileError, match=r"\$\.format: expected 'mendflow.tenant/v1', found 'other/v9'"):
        load_tenant_file(path)


def test_wrong_shape_names_the_json_path(tmp_path: Path) -> None:
    """A hook without an id is reported at $.github.repos[0]._hooks[0].id."""
    doc = json.loads(demo_tenant_path().read_text())
    del doc["github"]["repos"][0]["_hooks"][0]["id"]
    path = write(tmp_path, "t.json", json.dumps(doc))
    with pytest.raises(TenantFileError, match=r"\$\.github\.repos\[0\]\._hooks\[0\]\.id: Field required"):
        load_tenant_file(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """An unreadable path says so, naming the path."""
    with pytest.raises(TenantFileError, match="cannot read tenant file"):
        load_tenant_file(tmp_path / "absent.json")
