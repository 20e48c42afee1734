"""Loopback port checks, so a taken port is a clear one-line error instead of a child process dying."""

from __future__ import annotations

import socket

from mendflow.errors import ConnectionProblem


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ensure_free(host: str, port: int, *, what: str, option: str) -> None:
    """Raise ConnectionProblem naming the option to change if `port` is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            raise ConnectionProblem(
                f"port {port} on {host} is already in use ({what}); pick another with {option}"
            ) from None


def is_listening(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0
