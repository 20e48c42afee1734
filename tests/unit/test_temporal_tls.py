"""TLS settings for reaching Temporal: a file that cannot be read is bad input naming the option (it was reported
as "cannot reach Temporal … check the address", exit 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from mendflow.errors import InputError
from mendflow.runtime.client import TemporalSettings, connect

MENDFLOW = str(Path(sys.executable).parent / "mendflow")


def test_no_tls_option_means_plain_grpc() -> None:
    assert TemporalSettings().tls_config() is False


def test_the_pem_files_are_read_into_the_tls_config(tmp_path: Path) -> None:
    for name in ("ca", "cert", "key"):
        (tmp_path / f"{name}.pem").write_bytes(f"-----{name}-----".encode())
    config = TemporalSettings(
        tls_ca=tmp_path / "ca.pem", tls_cert=tmp_path / "cert.pem", tls_key=tmp_path / "key.pem"
    ).tls_config()
    assert isinstance(config, TLSConfig)
    assert (config.server_root_ca_cert, config.client_cert, config.client_private_key) == (
        b"-----ca-----",
        b"-----cert-----",
        b"-----key-----",
    )


def test_a_missing_file_names_the_option_and_the_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"--tls-ca .*nope\.pem: cannot read it \(No such file or directory\)"):
        TemporalSettings(tls_ca=tmp_path / "nope.pem").tls_config()


def test_a_client_key_without_its_certificate_is_refused(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text("k")
    with pytest.raises(InputError, match="--tls-cert and --tls-key go together"):
        TemporalSettings(tls_key=tmp_path / "key.pem").tls_config()


async def test_connect_reports_the_file_not_an_unreachable_server(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--tls-ca"):
        await connect(TemporalSettings(address="127.0.0.1:1", tls_ca=tmp_path / "nope.pem"))


EXAMPLE = Path(__file__).parents[2] / "examples" / "responses" / "okta_api_token_compromise.yaml"


@pytest.mark.parametrize(
    "command",
    [["schedules", "list"], ["scan", "--tenant", "github:acme"], ["run", str(EXAMPLE), "-i", "token_id=00Tabc"]],
    ids=["schedules", "scan", "run"],
)
def test_every_command_that_reaches_temporal_takes_tls_and_exits_2_with_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    """scan --tenant and run had no TLS options at all: they could not reach a TLS-only production cluster."""
    done = subprocess.run(
        [MENDFLOW, *command, "--tls-ca", str(tmp_path / "nope.pem"), "--temporal-address", "127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"mendflow: --tls-ca {tmp_path / 'nope.pem'}: cannot read it (No such file or directory)"
    ]
