"""docs/architecture.md's dependency table names every package pyproject.toml installs, dev tools included."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _documented() -> str:
    """The first column of the Dependencies table, lower case."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = text.split("## Dependencies", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    return " ".join(rows).lower()


def test_every_runtime_and_dev_dependency_has_a_row() -> None:
    """Each requirement's distribution name (without extras or versions) appears in the table's first column."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    names = [re.split(r"[\[<>=~!; ]", requirement, maxsplit=1)[0].lower() for requirement in wanted]
    documented = _documented()
    missing = [name for name in names if not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", documented)]
    assert names and not missing, f"add these to docs/architecture.md's Dependencies table, with why: {missing}"
