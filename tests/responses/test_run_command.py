"""`mendflow run` refuses bad input before contacting Temporal: exit 2, naming the field or the file's line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli_in_process import invoker

EXAMPLE = Path(__file__).parents[2] / "examples" / "responses" / "okta_api_token_compromise.yaml"
NOWHERE = "127.0.0.1:1"  # nothing listens: a test that reached Temporal would fail with exit 1


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    return invoker(capsys, monkeypatch)


def test_a_missing_input_exits_2_naming_the_field(run: Any) -> None:
    """No token_id: exit 2, `inputs.token_id` named, Temporal never asked."""
    done = run("run", str(EXAMPLE), "--temporal-address", NOWHERE)
    assert done.returncode == 2 and done.stderr.startswith("mendflow: inputs.token_id: ") and "required" in done.stderr


def test_an_input_of_the_wrong_type_exits_2_naming_the_field(run: Any, tmp_path: Path) -> None:
    """A boolean input given as text in an input file is named with the type it needs."""
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text("token_id: 00Tabc\nsuspend_owner: sometimes\n")
    done = run("run", str(EXAMPLE), "--input-file", str(inputs), "--temporal-address", NOWHERE)
    assert done.returncode == 2 and "inputs.suspend_owner: 'sometimes' is not of type 'boolean'" in done.stderr


def test_a_broken_workflow_file_exits_2_with_its_position(run: Any, tmp_path: Path) -> None:
    """A workflow file with a cycle is refused at file:line:column before anything runs."""
    broken = tmp_path / "w.yaml"
    broken.write_text(
        "apiVersion: mendflow/v1\nkind: Workflow\nid: a.b\ntitle: t\nsteps:\n"
        "  - {id: x, kind: wait, duration: 1s, needs: [y]}\n  - {id: y, kind: wait, duration: 1s, needs: [x]}\n"
    )
    done = run("run", str(broken), "--temporal-address", NOWHERE)
    assert done.returncode == 2 and f"{broken}:6:" in done.stderr and "form a cycle" in done.stderr


def test_valid_inputs_reach_for_temporal(run: Any) -> None:
    """With good inputs the next thing is the connection (exit 1 here: nothing listens)."""
    done = run("run", str(EXAMPLE), "-i", "token_id=00Tabc", "--temporal-address", NOWHERE)
    assert done.returncode == 1 and "cannot reach Temporal at 127.0.0.1:1" in done.stderr
