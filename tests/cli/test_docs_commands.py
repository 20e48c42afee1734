"""The commands in README.md and docs/*.md work as written, and every command's --help names its values.

Each `mendflow …` line of a ```sh block (and each `$ mendflow …` line of a ```console transcript) is checked: its
command exists and every `--option` it uses is one the command has. Lines of ```sh blocks then run from the
repository root and must exit 0 — except synopsis lines (`[optional]`, `a|b`, `…` placeholders) and the few
commands that need a running stack or serve until stopped, listed in STACK with the reason.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer

from mendflow.cli.help_names import name_values
from mendflow.cli.main import app
from tests.cli_in_process import invoker

ROOT = Path(__file__).parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GROUPS = {"sim", "playbooks", "rules", "tokens", "schedules", "evidence"}
STACK = {
    "up": "runs Temporal, a worker and the API until Ctrl-C (tests/cli/test_cli.py drives it)",
    "demo": "starts and stops the whole stack (tests/cli/test_cli.py runs it)",
    "worker": "serves a running Temporal until stopped",
    "api": "serves the operator API until stopped",
    "sim": "serves a simulator until Ctrl-C",
    "tokens": "writes to a stack's database (tests/auth)",
    "status": "operator verb: a client of a running API",
    "approve": "operator verb: a client of a running API",
    "reject": "operator verb: a client of a running API",
    "pause": "operator verb: a client of a running API",
    "resume": "operator verb: a client of a running API",
    "abort": "operator verb: a client of a running API",
    "rollback": "operator verb: a client of a running API",
    "suppress": "operator verb: a client of a running API",
    "findings": "operator verb: a client of a running API (tests/cli/test_findings.py)",
    "schedules": "manages a running Temporal's schedules (tests/workflows/test_schedules.py)",
    "scan --tenant": "scans through a running worker (tests/cli/test_scan_through_temporal.py)",
}
SYNOPSIS = re.compile(r"[\[\]|…]")
TYPE_NAMES = re.compile(r"<(?:str|bool|int|float|path|list\[[A-Za-z]+\]|[a-z]+)>")


@dataclass(frozen=True)
class DocCommand:
    source: str
    """`README.md:51`"""
    words: tuple[str, ...]
    runnable: bool

    @property
    def verbs(self) -> list[tuple[str, ...]]:
        """The command paths it names (`playbooks validate|test` names two)."""
        first = self.words[1]
        if first in GROUPS and len(self.words) > 2:
            return [(first, sub) for sub in self.words[2].split("|") if sub and sub != "…"]
        return [(verb,) for verb in first.split("|")]

    def stack_reason(self) -> str | None:
        verb = self.words[1]
        if verb == "scan" and "--tenant" in self.words:
            return STACK["scan --tenant"]
        return STACK.get(verb)


def doc_commands() -> list[DocCommand]:
    found = []
    for doc in DOCS:
        fence = None
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1):
            if line.startswith("```"):
                fence = line[3:].strip() if fence is None else None
                continue
            text = line.strip()
            if fence == "console" and text.startswith("$ "):
                text, runnable = text[2:], False  # transcripts show made-up folders and failing output
            elif fence == "sh":
                runnable = True
            else:
                continue
            words = shlex.split(text, comments=True)
            if len(words) < 2 or words[0] != "mendflow":
                continue
            if ">" in words:
                words, runnable = words[: words.index(">")], False  # writes a file: check, don't run
            synopsis = any(SYNOPSIS.search(word) for word in words)
            found.append(DocCommand(f"{doc.relative_to(ROOT)}:{number}", tuple(words), runnable and not synopsis))
    return found


COMMANDS = doc_commands()


def help_text(*path: str) -> tuple[int, str]:
    """`mendflow PATH --help` in-process, through the same command tree the CLI runs."""
    out = io.StringIO()
    command: Any = name_values(typer.main.get_command(app))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            command.main(args=[*path, "--help"], prog_name="mendflow", standalone_mode=True)
        except SystemExit as done:
            return int(done.code or 0), out.getvalue()
    return 0, out.getvalue()


def all_command_paths() -> list[tuple[str, ...]]:
    root: Any = typer.main.get_command(app)
    paths: list[tuple[str, ...]] = [()]
    for name, command in root.commands.items():
        paths.append((name,))
        paths += [(name, sub) for sub in getattr(command, "commands", {})]
    return paths


def test_the_docs_have_commands_to_check() -> None:
    """The README's blocks are found (so a renamed fence cannot silently empty this test)."""
    assert sum(1 for c in COMMANDS if c.source.startswith("README.md")) >= 15
    assert sum(1 for c in COMMANDS if c.runnable) >= 4


@pytest.mark.parametrize("command", COMMANDS, ids=[c.source for c in COMMANDS])
def test_documented_command_and_its_options_exist(command: DocCommand) -> None:
    """Every documented command exists and every --option it shows is one the command accepts."""
    for verb in command.verbs:
        code, text = help_text(*verb)
        assert code == 0, (command.source, verb, text)
        for word in command.words:
            option = word.split("=", 1)[0]
            if option.startswith("--"):
                assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), (command.source, option)


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.runnable and not c.stack_reason()],
                         ids=[c.source for c in COMMANDS if c.runnable and not c.stack_reason()])  # fmt: skip
def test_documented_command_runs_as_written(
    command: DocCommand, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from the repository root, exactly as a reader would paste it: exit 0 and some output.

    In-process, through the CLI's own entry point (a process each cost ~2 s of imports; tests/cli/test_cli.py
    runs the real `mendflow` executable).
    """
    monkeypatch.chdir(ROOT)
    done = invoker(capsys, monkeypatch)(*command.words[1:])
    assert done.returncode == 0, (command.source, done.stderr[-2000:])
    assert done.stdout.strip() and "Traceback" not in done.stderr


@pytest.mark.parametrize("path", all_command_paths(), ids=lambda p: " ".join(p) or "mendflow")
def test_every_help_names_values_not_python_types(path: tuple[str, ...]) -> None:
    """`--help` of every command and subcommand exits 0 and shows value names, never `<str>` or `<bool>`."""
    code, text = help_text(*path)
    assert code == 0 and text.startswith("Usage: mendflow"), text
    assert not TYPE_NAMES.search(text), TYPE_NAMES.findall(text)
