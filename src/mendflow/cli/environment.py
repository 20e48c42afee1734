"""Settings of the long-running commands (`mendflow worker`, `mendflow api`) from `MENDFLOW_*` variables.

Containers and Kubernetes configure processes through the environment, so every option of these two commands
also reads an environment variable (a command-line flag still wins). The option types that several commands
share are defined here once, so one meaning has one variable name (`MENDFLOW_TEMPORAL_ADDRESS` for the worker
and the API alike). `environment_settings()` reads the variables back from the commands themselves, so the
list can never drift from what the CLI accepts; deployment files are checked against it (tests/deploy/).

Values are references or plain settings, never secrets: secrets stay behind `env:`/`file:` references
(`MENDFLOW_SLACK_SIGNING_SECRET=env:SLACK_SIGNING_SECRET`), resolved inside the process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup, TyperOption

from mendflow.codec import PayloadKeys
from mendflow.runtime.client import TemporalSettings

PREFIX = "MENDFLOW_"
LONG_RUNNING = ("worker", "api")
"""The commands a deployment runs as services; each of their options has a `MENDFLOW_*` variable."""

TemporalAddress = Annotated[
    str,
    typer.Option("--temporal-address", envvar="MENDFLOW_TEMPORAL_ADDRESS", help="HOST:PORT of the Temporal frontend."),
]
TemporalNamespace = Annotated[
    str, typer.Option("--namespace", envvar="MENDFLOW_TEMPORAL_NAMESPACE", help="Temporal namespace.")
]
TemporalTls = Annotated[
    bool, typer.Option("--tls/--no-tls", envvar="MENDFLOW_TEMPORAL_TLS", help="Use TLS to reach Temporal.")
]
TemporalTlsCa = Annotated[
    Path | None,
    typer.Option("--tls-ca", envvar="MENDFLOW_TEMPORAL_TLS_CA", help="CA certificate of the Temporal frontend (PEM)."),
]
TemporalTlsCert = Annotated[
    Path | None,
    typer.Option("--tls-cert", envvar="MENDFLOW_TEMPORAL_TLS_CERT", help="Client certificate for mTLS (PEM)."),
]
TemporalTlsKey = Annotated[
    Path | None, typer.Option("--tls-key", envvar="MENDFLOW_TEMPORAL_TLS_KEY", help="Client key for mTLS (PEM).")
]
PayloadKeysText = Annotated[
    str | None,
    typer.Option(
        "--payload-keys",
        envvar="MENDFLOW_PAYLOAD_KEYS",
        help="Encrypt Temporal payloads: ID=env:NAME or ID=file:/path, comma-separated; the first encrypts, every "
        "one decrypts (docs/security.md). Unset: payloads in clear text.",
        metavar="ID=REF[,ID=REF…]",
        show_default=False,
    ),
]
CodecOrigins = Annotated[
    list[str] | None,
    typer.Option(
        "--codec-cors-origin",
        envvar="MENDFLOW_CODEC_CORS_ORIGINS",
        help="Origin of a Temporal UI allowed to call /codec/* from the browser (in the variable: separated by "
        "spaces).",
        metavar="URL",
        show_default=False,
    ),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", envvar="MENDFLOW_CONFIG", help="mendflow.yaml (rbac, changes, slack, jira)."),
]


def payload_keys(text: str | None) -> PayloadKeys | None:
    """The key ring `--payload-keys` names (None when unset); InputError naming a malformed entry."""
    return PayloadKeys.parse(text) if text else None


def temporal_settings(
    address: str,
    namespace: str,
    tls: bool = False,
    tls_ca: Path | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    payload_keys_text: str | None = None,
) -> TemporalSettings:
    """How to reach Temporal, from the shared `Temporal*` and `PayloadKeysText` options of a command."""
    return TemporalSettings(
        address=address,
        namespace=namespace,
        tls=tls,
        tls_ca=tls_ca,
        tls_cert=tls_cert,
        tls_key=tls_key,
        payload_keys=payload_keys(payload_keys_text),
    )


@dataclass(frozen=True)
class EnvSetting:
    """One option of a long-running command and the variable that sets it."""

    command: str
    """`worker` or `api`."""
    option: str
    """The long flag, e.g. `--temporal-address`."""
    envvar: str
    """The `MENDFLOW_*` variable that sets it."""
    required: bool
    """The command refuses to start without it."""
    multiple: bool
    """A list: the variable holds several values separated by whitespace."""
    help: str
    """The option's help text."""


def environment_settings(commands: tuple[str, ...] = LONG_RUNNING) -> list[EnvSetting]:
    """Every option of the given commands with its environment variable, read from the CLI itself.

    An option without a variable is listed with `envvar=""`, so a test can insist that none exists.
    """
    from mendflow.cli.main import app  # the CLI imports this module for its option types

    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    settings: list[EnvSetting] = []
    for name in commands:
        command = group.commands[name]
        for param in command.params:
            if not isinstance(param, TyperOption):
                continue
            envvar = param.envvar if isinstance(param.envvar, str) else ""
            settings.append(
                EnvSetting(
                    command=name,
                    option=max(param.opts, key=len),
                    envvar=envvar,
                    required=param.required,
                    multiple=param.multiple,
                    help=param.help or "",
                )
            )
    return settings


def known_variables() -> set[str]:
    """The names of all `MENDFLOW_*` variables the long-running commands read."""
    return {s.envvar for s in environment_settings() if s.envvar}


def required_variables(command: str) -> set[str]:
    """Variables a command cannot start without."""
    return {s.envvar for s in environment_settings((command,)) if s.required}
