"""`cli.options.temporal_options`: one definition of the Temporal connection options for every command that reaches
Temporal — the options appear where asked, their values arrive as one `TemporalSettings`, a required address is
required, and a malformed --payload-keys is bad input (exit 2) before the command runs."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from mendflow.cli.options import temporal_options
from mendflow.runtime.client import TemporalSettings

seen: list[TemporalSettings] = []


def _app(*, address: str | None = "127.0.0.1:7233", before: str | None = None) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @temporal_options(address=address, before=before)
    def go(label: str = "x", *, temporal: TemporalSettings) -> None:
        seen.append(temporal)
        typer.echo(f"{label} {temporal.address} {temporal.namespace} {temporal.tls}")

    return app


def test_the_options_arrive_as_one_settings_object(tmp_path: Path) -> None:
    seen.clear()
    ca = tmp_path / "ca.pem"
    done = CliRunner().invoke(
        _app(),
        ["--label", "n", "--temporal-address", "t:7233", "--namespace", "prod", "--tls", "--tls-ca", str(ca),
         "--payload-keys", "k1=env:CANARY_KEY_9f2"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert done.output.strip() == "n t:7233 prod True"
    assert seen[0].tls_ca == ca and seen[0].payload_keys is not None


def test_defaults_and_where_the_options_are_listed() -> None:
    seen.clear()
    assert CliRunner().invoke(_app(), []).output.strip() == "x 127.0.0.1:7233 default False"
    listed = CliRunner().invoke(_app(before="label"), ["--help"]).output
    assert listed.index("--temporal-address") < listed.index("--payload-keys") < listed.index("--label")
    last = CliRunner().invoke(_app(), ["--help"]).output
    assert last.index("--label") < last.index("--temporal-address")


def test_a_required_address_is_required() -> None:
    done = CliRunner().invoke(_app(address=None), [])
    assert done.exit_code == 2 and "--temporal-address" in done.output


def test_malformed_payload_keys_are_refused_before_the_command_runs() -> None:
    seen.clear()
    done = CliRunner().invoke(_app(), ["--payload-keys", "no-equals-sign"])
    assert done.exit_code != 0 and not seen
    assert "--payload-keys" in str(done.exception)
