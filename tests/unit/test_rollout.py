"""Canary and batch splitting."""

from __future__ import annotations

from mendflow.campaigns.rollout import split_batches


def test_canary_then_cumulative_percentages() -> None:
    """1 canary, then 10% / 50% / 100% of the remaining nine (cumulative, rounded up)."""
    assert split_batches(list(range(10)), canary=1, batches=["10%", "50%", "100%"]) == [
        [0],
        [1],
        [2, 3, 4, 5],
        [6, 7, 8, 9],
    ]


def test_counts_and_remainder() -> None:
    """Counts are batch sizes; anything left after the last batch forms a final batch."""
    assert split_batches(list(range(7)), canary=2, batches=[2]) == [[0, 1], [2, 3], [4, 5, 6]]


def test_every_item_exactly_once_for_small_campaigns() -> None:
    """A campaign of one is just the canary; no empty batches ever."""
    assert split_batches(["a"], canary=1, batches=["10%", "100%"]) == [["a"]]
    for n in range(1, 30):
        batches = split_batches(list(range(n)), canary=3, batches=["10%", "50%", "100%"])
        assert [x for b in batches for x in b] == list(range(n)) and all(batches)
