"""`mendflow run` refuses bad input before contacting Temporal: exit 2, naming the field or the file's line."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from mendflow.errors import InputError
from mendflow.redaction import register_secret
from mendflow.responses import load_response_file
from mendflow.runtime.responses import start_response
from tests.cli_in_process import invoker
from tests.responses.call_pair import CALLER, write_pair

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


def test_a_called_workflow_without_its_own_approval_is_refused_at_its_position(run: Any, tmp_path: Path) -> None:
    """The caller's approval does not cover a called workflow (it can be run on its own): `mendflow run` of the
    caller exits 2 at the callee's irreversible action, before Temporal is asked."""
    caller = write_pair(tmp_path, approved=False)
    done = run("run", str(caller), "-i", "user=00u1", "--temporal-address", NOWHERE)
    assert done.returncode == 2, done.stderr
    assert (
        f"{tmp_path / 'callee.yaml'}:7:" in done.stderr and "okta.user.clear_sessions cannot be undone" in done.stderr
    )


def test_a_cel_type_error_exits_2_before_anything_runs(run: Any, tmp_path: Path) -> None:
    """A guard comparing a text input with a number is refused at its operator's line:column."""
    broken = tmp_path / "w.yaml"
    broken.write_text(CALLER.replace("- {id: ok, kind: approve}", '- {id: ok, kind: approve, when: "inputs.user > 3"}'))
    done = run("run", str(broken), "-i", "user=00u1", "--temporal-address", NOWHERE)
    assert done.returncode == 2 and f"{broken}:7:48: steps.0.when: compares a string with a number" in done.stderr


def test_a_secret_in_the_inputs_is_refused_without_repeating_it(run: Any, tmp_path: Path) -> None:
    """A registered secret (or a vendor token's shape) given as an input, directly or inside an input file, is exit 2
    naming the field; the secret appears in no output, and Temporal (where it would be stored) is never asked."""
    canary = "canary-" + secrets.token_hex(12)
    register_secret(canary)
    done = run("run", str(EXAMPLE), "-i", "token_id=00Tabc", "-i", f"owner_contact={canary}", "--temporal-address",
               NOWHERE)  # fmt: skip
    assert done.returncode == 2 and "inputs.owner_contact: holds a secret" in done.stderr
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text("token_id: 00Tabc\nowner_contact: ghp_" + "a" * 36 + "\n")
    shaped = run("run", str(EXAMPLE), "--input-file", str(inputs), "--temporal-address", NOWHERE)
    assert shaped.returncode == 2 and "inputs.owner_contact: holds a secret" in shaped.stderr
    assert canary not in done.stdout + done.stderr and "ghp_" not in shaped.stdout + shaped.stderr


def test_a_secret_written_into_a_template_is_refused_at_its_position(run: Any, tmp_path: Path) -> None:
    """The definition travels in every run's history: a registered secret in a notify text is refused at its
    file:line:column, and the message does not repeat it."""
    canary = "canary-" + secrets.token_hex(12)
    register_secret(canary)
    broken = tmp_path / "w.yaml"
    broken.write_text(CALLER + f'  - {{id: tell, kind: notify, message: "key {canary} was used"}}\n')
    done = run("run", str(broken), "-i", "user=00u1", "--temporal-address", NOWHERE)
    assert (
        done.returncode == 2
        and f"{broken}:9:" in done.stderr
        and "steps.2.message: this text holds a secret" in (done.stderr)
    )
    assert canary not in done.stdout + done.stderr


async def test_start_response_refuses_a_secret_input_before_reaching_temporal() -> None:
    """Programmatic starts (the API, triggers) go through start_response: a secret input is refused before the
    client is used (the client here cannot connect anywhere)."""
    canary = "canary-" + secrets.token_hex(12)
    register_secret(canary)
    definition = load_response_file(EXAMPLE)
    with pytest.raises(InputError, match=r"^inputs\.token_id: holds a secret") as caught:
        await start_response(object(), definition, {"token_id": canary})  # type: ignore[arg-type]
    assert canary not in str(caught.value)
