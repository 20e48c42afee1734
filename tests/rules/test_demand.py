"""Three-valued rule evaluation for rule-driven collection: a sub-collection is skipped only when every rule that
reads it is false whatever it holds."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from mendflow.playbooks.model import Playbook
from mendflow.rules import Demand, compile_rules
from mendflow.rules.demand import upper_bound

F = ("related", "factors")


def _demand(*conditions: str) -> Demand:
    return Demand(compile_rules([_playbook(n, c) for n, c in enumerate(conditions)]))


def _playbook(n: int, when: str) -> Playbook:
    return Playbook.model_validate(
        {
            "apiVersion": "mendflow/v1",
            "id": f"test.rule{n}",
            "title": f"rule {n}",
            "resource": "okta.user",
            "detect": {"when": when, "severity": "high"},
        }
    )


def test_a_rule_false_without_the_field_does_not_need_it() -> None:
    """`ACTIVE && has roles && no factor` needs factors only for active role holders."""
    demand = _demand('resource.status == "ACTIVE" && size(related.roles) > 0 && !related.factors.exists(f, true)')
    assert demand.needs("okta.user", [F], data={"status": "ACTIVE"}, related={"roles": [{"type": "X"}]})
    assert not demand.needs("okta.user", [F], data={"status": "ACTIVE"}, related={"roles": []})
    assert not demand.needs("okta.user", [F], data={"status": "SUSPENDED"}, related={"roles": [{}]})


def test_undecidable_known_part_still_reads() -> None:
    """An error in the known part (status missing) could still become a rule error: the field is read."""
    demand = _demand('resource.status == "ACTIVE" && related.factors == null')
    assert demand.needs("okta.user", [F], data={}, related={})


@pytest.mark.parametrize(
    "when",
    [
        "related.factors == null",
        "!(related.factors != null)",
        'resource.status == "X" || size(related.factors) == 0',
        'resource.status == "ACTIVE" ? related.factors.exists(f, true) : false',
        "related.factors.exists(f, f.status == resource.status)",
        'related["fac" + "tors"] == null',
        "has(related.factors)",
        "related == {}",
        'now > timestamp("2000-01-01T00:00:00Z") && related.factors == null',
    ],
)
def test_any_rule_that_could_fire_reads_the_field(when: str) -> None:
    """Negation, disjunction, ternaries, loops, computed keys, `has`, the whole `related` and `now` all keep the
    field wanted when the rule could still be true."""
    assert _demand(when).needs("okta.user", [F], data={"status": "ACTIVE"}, related={})


def test_a_rule_that_does_not_read_the_field_never_asks_for_it() -> None:
    """Rules on other fields decide the same with or without the sub-collection."""
    assert not _demand('resource.status == "ACTIVE"').needs("okta.user", [F], data={"status": "ACTIVE"})


VALUES: list[Any] = [None, [], [{"status": "ACTIVE"}], [{"status": "X"}], 3, "s", {"a": 1}]
CONDITIONS = [
    'resource.status == "ACTIVE" && size(related.roles) > 0 && !related.factors.exists(f, f.status == "ACTIVE")',
    '!(size(related.roles) == 0 || related.factors.exists(f, f.status == "ACTIVE"))',
    'related.roles.exists(r, r.type == "A") ? related.factors == null : false',
    '!(related.factors != null && resource.status == "ACTIVE") && resource.status == "ACTIVE"',
    "size(related.roles) > 0 && (related.factors == [] || related.factors.size() > 5)",
]


@pytest.mark.parametrize("when", CONDITIONS)
def test_skipping_is_sound_for_every_value(when: str) -> None:
    """Whenever the bound says "not needed", the rule is false for every value the factors could hold
    (including absent, null and wrongly typed ones)."""
    rules = compile_rules([_playbook(0, when)])
    demand = Demand(rules)
    decide = rules.decider("okta.user", datetime(2026, 1, 1, tzinfo=UTC))
    assert decide is not None
    skipped = 0
    for status, roles in itertools.product(["ACTIVE", "SUSPENDED", None], [[], [{"type": "A"}], None, "x"]):
        data = {} if status is None else {"status": status}
        related = {"roles": roles}
        if demand.needs("okta.user", [F], data=data, related=related):
            continue
        skipped += 1
        outcomes = [decide(data, related)[0]] + [decide(data, {**related, "factors": v})[0] for v in VALUES]
        assert all(o is False for o in outcomes), (data, related, outcomes)
    assert skipped > 0


def test_the_bound_replaces_only_what_reads_the_unknown() -> None:
    """The known part of a rule is kept as it is; each unknown atom becomes the literal that maximises it."""
    rules = compile_rules([_playbook(0, "resource.a == 1 && !related.factors.exists(f, true)")])
    tree = upper_bound(rules.rules[0].condition.tree, [F])
    assert "factors" not in repr(tree) and "'a'" in repr(tree)
