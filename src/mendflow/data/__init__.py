"""Data files shipped with mendflow (the demo tenant)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def demo_tenant_path() -> Path:
    """The simulated GitHub org `acme`, seeded with misconfigurations, used by `mendflow demo` and tests."""
    return Path(str(resources.files("mendflow.data").joinpath("demo-github.json")))
