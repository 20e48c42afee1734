"""Building vendor-shaped objects for test cases: a case gives a few fields, defaults fill in the rest."""

from __future__ import annotations

import copy
from typing import Any

JSON = dict[str, Any]


def merged(defaults: JSON, given: JSON) -> JSON:
    """`given` over `defaults`, nested objects merged key by key (a value of another kind replaces)."""
    out = copy.deepcopy(defaults)
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
