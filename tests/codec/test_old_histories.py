"""Histories recorded before payload encryption (tests/histories) replay with the encrypting converter."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from mendflow.workflows import WORKFLOWS
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from mendflow.codec import ENCODING, PayloadKeys, data_converter, new_key_text

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))


@pytest.fixture(scope="module")
def replayer(tmp_path_factory: pytest.TempPathFactory) -> Replayer:
    key = tmp_path_factory.mktemp("keys") / "payload.key"
    key.write_text(new_key_text())
    converter = data_converter(PayloadKeys.parse(f"k1=file:{key}"))
    return Replayer(workflows=list(WORKFLOWS), data_converter=converter)


def test_there_are_clear_histories_to_replay() -> None:
    """The recorded histories predate encryption: their payloads are clear JSON."""
    encrypted, clear = base64.b64encode(ENCODING).decode(), base64.b64encode(b"json/plain").decode()
    assert HISTORIES
    assert all(encrypted not in p.read_text() and clear in p.read_text() for p in HISTORIES)


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_clear_history_replays_with_the_codec(replayer: Replayer, path: Path) -> None:
    """Switching encryption on does not strand running workflows: clear payloads decode unchanged."""
    record = json.loads(path.read_text())  # noqa: ASYNC240 - a small fixture file
    history = WorkflowHistory.from_json(record["workflow_id"], record["history"])
    await replayer.replay_workflow(history)
