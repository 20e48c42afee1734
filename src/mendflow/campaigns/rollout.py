"""Splitting a campaign's targets into a canary and batches (pure, so workflows can call it deterministically)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def split_batches(items: Sequence[T], *, canary: int, batches: Sequence[int | str]) -> list[list[T]]:
    """Canary first, then batches whose sizes are cumulative shares (`"50%"`) or counts of what remains.

    Every item lands in exactly one batch, in order; a final batch takes any remainder.
    """
    items = list(items)
    if not items:
        return []
    head = min(max(canary, 1), len(items))
    out = [items[:head]]
    rest = items[head:]
    done = 0
    for spec in batches:
        if done >= len(rest):
            break
        if isinstance(spec, str) and spec.endswith("%"):
            upto = math.ceil(len(rest) * int(spec[:-1]) / 100)
        else:
            upto = done + int(spec)
        upto = min(max(upto, done + 1), len(rest))
        out.append(rest[done:upto])
        done = upto
    if done < len(rest):
        out.append(rest[done:])
    return out
