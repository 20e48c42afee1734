"""Validation messages for configs name the file and the key, never the value a person put there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mendflow.data import demo_tenant_path
from tests.cli_in_process import invoker

TOKEN = "ghp_" + "Zq7" * 12
SIGNING = "8f14e45fceea167a5a36dedd4bea2543"


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    return invoker(capsys, monkeypatch)


@pytest.mark.parametrize(
    ("token_yaml", "where"),
    [
        (TOKEN, "$.tenants[0].token: Input should be a valid dictionary"),
        (f"{{ref: {TOKEN}}}", "$.tenants[0].token.ref: Value error, secret reference must be"),
        (f"{{ref: env:X, extra: {TOKEN}}}", "$.tenants[0].token.extra: Extra inputs are not permitted"),
    ],
)
def test_plain_token_in_tenants_config_is_named_not_quoted(
    tmp_path: Path, token_yaml: str, where: str, run: Any
) -> None:
    """A token pasted into tenants.yaml: exit 2, file + JSON path in the message, the token nowhere."""
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(
        f"tenants:\n  - key: github:acme\n    provider: github\n    tenant: acme\n    token: {token_yaml}\n"
    )
    done = run("worker", "--tenants", str(tenants), "--temporal-address", "127.0.0.1:1")
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith(f"mendflow: {tenants}: invalid tenants config: ") and where in line
    assert TOKEN not in done.stderr and TOKEN[4:20] not in done.stderr and TOKEN not in done.stdout


@pytest.mark.parametrize(
    "config",
    [
        f"slack:\n  bot_token: {TOKEN}\n  signing_secret: {{ref: env:X}}\n",
        f"slack:\n  bot_token: {{ref: env:X}}\n  signing_secret: {SIGNING}\n",
        f"slack:\n  bot_token: {{ref: env:X}}\n  signing_secret: {{ref: env:X}}\n  password: {SIGNING}\n",
        f"slack:\n  bot_token: {TOKEN}: [\n",  # a YAML error on the line that holds the secret
        f"rbac: [{TOKEN}\n",
    ],
)
def test_secret_in_mendflow_yaml_is_never_echoed(tmp_path: Path, config: str, run: Any) -> None:
    """A secret typed into mendflow.yaml (wrong shape or broken YAML): exit 2, one line, no secret, no traceback."""
    path = tmp_path / "mendflow.yaml"
    path.write_text(config)
    done = run("plan", "--tenant-file", str(demo_tenant_path()), "--config", str(path))
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(f"mendflow: {path}")
    for secret in (TOKEN, SIGNING):
        assert secret not in line and secret[4:16] not in line
