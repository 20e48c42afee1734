"""Organisation policy per tenant: `policy:` in `mendflow.yaml` overrides playbook parameters.

```yaml
policy:
  acme-github:                            # tenant key (tenants config)
    github.repo.public_not_allowed:       # playbook id
      allowed_repos: [acme/docs, acme/site]
```

Every problem (an unknown playbook or parameter, with the likely intended name; a value that does not fit the
parameter's JSON Schema) is reported at once as `mendflow.yaml:LINE:COLUMN: $.policy.TENANT["PLAYBOOK"].NAME…:
message`, worded from the schema and never quoting the value (as every config error). Workers check it when they
start and bind each tenant's values into its own compiled rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import Node

from mendflow.errors import InputError
from mendflow.playbooks.base import did_you_mean
from mendflow.playbooks.model import Playbook
from mendflow.playbooks.params import value_problems
from mendflow.userfiles import DepthCheckedLoader, node_at, read_text

Overrides = Mapping[str, Mapping[str, Mapping[str, Any]]]
"""tenant key → playbook id → parameter name → value."""


def policy_problems(policy: Overrides, playbooks: Mapping[str, Playbook], *, path: Path | None = None) -> list[str]:
    """One line per problem, positioned in `path` (the mendflow.yaml the policy came from) when given."""
    root = _nodes(path)
    problems: list[str] = []
    for tenant, by_playbook in policy.items():
        for playbook_id, values in by_playbook.items():
            loc: tuple[str | int, ...] = ("policy", tenant, playbook_id)
            playbook = playbooks.get(playbook_id)
            if playbook is None:
                hint = did_you_mean(playbook_id, playbooks)
                problems.append(_at(path, root, loc, True, f"no loaded playbook has id {playbook_id!r}{hint}"))
                continue
            for name, value in values.items():
                if name not in playbook.params:
                    known = ", ".join(sorted(playbook.params)) or "none"
                    hint = did_you_mean(name, playbook.params)
                    message = f"{playbook_id} has no parameter {name!r}{hint} (its parameters: {known})"
                    problems.append(_at(path, root, (*loc, name), True, message))
                    continue
                for where, message in value_problems(playbook.params[name], value, quote=False):
                    inner = tuple(json.loads(f"[{part}]")[0] for part in _parts(where))
                    problems.append(_at(path, root, (*loc, name, *inner), False, message))
    return problems


def check_policy(policy: Overrides, playbooks: Mapping[str, Playbook], *, path: Path | None = None) -> None:
    """InputError (exit 2) listing every problem of the policy, or nothing."""
    problems = policy_problems(policy, playbooks, path=path)
    if problems:
        where = str(path) if path is not None else "mendflow config"
        raise InputError(f"{where}: invalid policy:\n" + "\n".join(problems))


def tenant_playbooks(playbooks: Mapping[str, Playbook], overrides: Mapping[str, Mapping[str, Any]]) -> list[Playbook]:
    """The playbooks with one tenant's parameter values bound (playbooks it does not override stay as they are)."""
    return [
        playbook.with_params(overrides[playbook_id]) if overrides.get(playbook_id) else playbook
        for playbook_id, playbook in playbooks.items()
    ]


def format_loc(loc: tuple[str | int, ...]) -> str:
    """`$.policy.acme["github.repo.public_not_allowed"].allowed_repos[1]`: keys that are not identifiers quoted."""
    out = "$"
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _parts(where: str) -> list[str]:
    """`[0]["a"]` → [`0`, `"a"`]."""
    return [piece for piece in where[1:-1].split("][")] if where else []


def _at(path: Path | None, root: Node | None, loc: tuple[str | int, ...], at_key: bool, message: str) -> str:
    text = f"{format_loc(loc)}: {message}"
    if path is None:
        return text
    if root is None:
        return f"{path}: {text}"
    mark = node_at(root, loc, at_key=at_key).start_mark
    return f"{path}:{mark.line + 1}:{mark.column + 1}: {text}"


def _nodes(path: Path | None) -> Node | None:
    """The file's YAML node tree (it carries line marks), or None when it cannot be had."""
    if path is None:
        return None
    try:
        loader = DepthCheckedLoader(read_text(path, what="mendflow config"))
    except InputError:
        return None
    try:
        node: Node | None = loader.get_single_node()
        return node
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
