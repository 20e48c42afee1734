"""Production code never imports a simulator: only the simulators' own package, the providers' lazy simulator
factories and the commands that exist to run simulators (`mendflow sim`, `mendflow demo`/`up`) may."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).parents[2] / "src" / "mendflow"
SIMULATORS = ("mendflow.sim", "mendflow.demo")
"""`mendflow.demo` serves simulated vendors (the `demo` and `up` commands): it counts as a simulator here."""
MODULE_LEVEL_ALLOWED = {"demo.py"}
"""Modules that may import simulators at import time (they are simulator harnesses, loaded lazily themselves)."""
FUNCTION_LEVEL_ALLOWED = {"cli/sim_cmd.py": None, "cli/stack_cmd.py": None, "providers/*/__init__.py": "_simulator"}
"""Where an import inside a function may load a simulator (None: any function of the module)."""
ENTRY_POINTS = ("mendflow.cli.main", "mendflow.runtime.worker", "mendflow.api.app", "mendflow.offline")


def _names(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level or node.module is None:
        return []
    if node.module == "mendflow":
        return [f"mendflow.{alias.name}" for alias in node.names]
    return [node.module]


def _is_simulator(name: str) -> bool:
    return any(name == s or name.startswith(s + ".") for s in SIMULATORS)


def simulator_imports(tree: ast.Module) -> list[tuple[int, str, str | None]]:
    """(line, module, enclosing function or None) of every runtime import of a simulator; `if TYPE_CHECKING:`
    blocks are skipped (nothing is imported at run time)."""
    found: list[tuple[int, str, str | None]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                for other in child.orelse:
                    visit(other, function)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.extend((child.lineno, name, function) for name in _names(child) if _is_simulator(name))
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            visit(child, inner)

    visit(tree, None)
    return found


def _allowed(relative: str, function: str | None) -> bool:
    if function is None:
        return relative in MODULE_LEVEL_ALLOWED
    for pattern, name in FUNCTION_LEVEL_ALLOWED.items():
        if Path(relative).match(pattern) and name in (None, function):
            return True
    return relative in MODULE_LEVEL_ALLOWED


def test_no_production_module_imports_a_simulator() -> None:
    """Outside `mendflow.sim`, simulators are imported only in the allowed places, and only where they say."""
    offences = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith("sim/"):
            continue
        for line, name, function in simulator_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if not _allowed(relative, function):
                offences.append(f"src/mendflow/{relative}:{line}: imports {name} ({function or 'at module level'})")
    assert offences == []


def test_the_check_sees_a_planted_import() -> None:
    """A module-level simulator import, even spelled `from mendflow import sim`, is found; a TYPE_CHECKING one not."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from mendflow import sim\n"
        "if TYPE_CHECKING:\n    from mendflow.sim.github import GithubState\n"
        "def serve():\n    from mendflow.sim.okta import create_okta_app\n"
    )
    found = simulator_imports(ast.parse(source))
    assert found == [(2, "mendflow.sim", None), (6, "mendflow.sim.okta", "serve")]
    assert not _allowed("scan.py", None) and not _allowed("providers/github/__init__.py", "serve")
    assert _allowed("providers/github/__init__.py", "_simulator")


def test_importing_the_production_entry_points_loads_no_simulator() -> None:
    """The CLI (every command registered), the worker, the API and offline scans load no simulator module."""
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in ENTRY_POINTS)
        + "print(sorted(m for m in sys.modules if m.startswith(('mendflow.sim', 'mendflow.demo'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]"
