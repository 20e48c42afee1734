"""The embedded dev server's UI is pointed at the API's codec endpoint, and only its origin may call it."""

from __future__ import annotations

from pathlib import Path

from mendflow.runtime.devserver import DevServer
from mendflow.runtime.stack import ui_origins


def test_ui_is_started_with_the_codec_endpoint(tmp_path: Path) -> None:
    """`--ui-codec-endpoint` follows the endpoint given; a headless server (no UI) gets none."""
    server = DevServer(data_dir=tmp_path, ui_port=8300, codec_endpoint="http://127.0.0.1:8088/codec")
    command = server.command()
    assert command[command.index("--ui-codec-endpoint") + 1] == "http://127.0.0.1:8088/codec"
    headless = DevServer(data_dir=tmp_path, headless=True, codec_endpoint="http://127.0.0.1:8088/codec")
    assert "--ui-codec-endpoint" not in headless.command()
    assert "--ui-codec-endpoint" not in DevServer(data_dir=tmp_path).command()


def test_codec_cors_allows_the_ui_by_address_and_by_localhost(tmp_path: Path) -> None:
    """The browser may open the UI as 127.0.0.1 or localhost; a headless server has no UI origin."""
    assert ui_origins(DevServer(data_dir=tmp_path, ui_port=8300)) == ("http://127.0.0.1:8300", "http://localhost:8300")
    assert ui_origins(DevServer(data_dir=tmp_path, headless=True)) == ()
