"""mendflow's config file (`mendflow.yaml`): RBAC, change windows, CLI identity. Tenants live in their own file."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mendflow.errors import InputError
from mendflow.rbac import RbacConfig
from mendflow.tenant import json_path
from mendflow.windows import ChangePolicy


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rbac: RbacConfig = Field(default_factory=RbacConfig)
    changes: ChangePolicy = Field(default_factory=ChangePolicy)
    identity: str | None = None
    """Who the CLI acts as when `--as` is not given."""

    @classmethod
    def load(cls, path: Path | None) -> Settings:
        if path is None:
            return cls()
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            return cls.model_validate(raw)
        except OSError as err:
            raise InputError(f"{path}: cannot read config: {err.strerror}") from None
        except yaml.YAMLError as err:
            raise InputError(f"{path}: not valid YAML: {err}") from None
        except ValidationError as err:
            problems = "; ".join(f"{json_path(tuple(e['loc']))}: {e['msg']}" for e in err.errors()[:10])
            raise InputError(f"{path}: invalid config: {problems}") from None
