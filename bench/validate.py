"""Validation time of the shipped playbooks (`make bench`, or `python bench/validate.py`): prints, asserts nothing.

`mendflow playbooks validate` on the shipped rule packs: YAML, models, CEL, the field catalogue, the schema type
check (issue 14) and the test cases beside each file. Printed:

- the whole validation, cold (fresh caches: schemas not yet read, conditions not yet compiled) and warm (median);
- the schema type check alone over every shipped condition, cold and warm, per condition;
- with `--companions`: `mendflow playbooks test`'s cases and their generated value-shape companions, wall time.
"""

from __future__ import annotations

import argparse
import statistics
import time

from mendflow.playbooks import check_condition, typecheck, vendor_schema
from mendflow.playbooks.cases import run_playbook_tests
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.playbooks.shapes import run_shape_cases, shape_cases
from mendflow.rules import cel

LOOPS = 20


def _clear_caches() -> None:
    cel._compile_condition.cache_clear()
    typecheck._checked.cache_clear()
    vendor_schema.schemas.cache_clear()


def bench_validation() -> None:
    folder = bundled_playbook_dir()
    _clear_caches()
    started = time.perf_counter()
    result = load_playbooks([folder])
    cold = time.perf_counter() - started
    assert result.ok, [str(e) for e in result.errors]
    warm = []
    for _ in range(LOOPS):
        started = time.perf_counter()
        load_playbooks([folder])
        warm.append(time.perf_counter() - started)
    count = len(result.playbooks)
    files = count + sum(1 for _ in folder.rglob("*.tests.yaml"))
    print(
        f"validate: {count} shipped playbooks ({files} files with their test cases): cold {cold * 1000:.0f} ms, "
        f"warm median {statistics.median(warm) * 1000:.0f} ms ({statistics.median(warm) / count * 1000:.1f} ms each)"
    )
    conditions = [(p.detect.when, p.resource) for p in result.playbooks]
    _clear_caches()
    started = time.perf_counter()
    for when, resource in conditions:
        check_condition(when, resource)
    cold_check = time.perf_counter() - started
    warm_check = []
    for _ in range(LOOPS):
        started = time.perf_counter()
        for when, resource in conditions:
            check_condition(when, resource)
        warm_check.append(time.perf_counter() - started)
    per = statistics.median(warm_check) / len(conditions) * 1e6
    uncached = []
    for _ in range(LOOPS):
        typecheck._checked.cache_clear()
        started = time.perf_counter()
        for when, resource in conditions:
            check_condition(when, resource)
        uncached.append(time.perf_counter() - started)
    fresh = statistics.median(uncached) / len(conditions) * 1e6
    print(
        f"  of which the schema type check: cold {cold_check * 1000:.0f} ms (reads the packaged schemas, parses), "
        f"schemas loaded but results not cached {fresh:.0f} µs per condition, "
        f"cached {per:.1f} µs per condition"
    )


def bench_companions() -> None:
    playbooks = load_playbooks([bundled_playbook_dir()]).playbooks
    started = time.perf_counter()
    cases = run_playbook_tests(playbooks)
    case_seconds = time.perf_counter() - started
    started = time.perf_counter()
    generated = sum(len(shape_cases(p)) for p in playbooks)
    generate_seconds = time.perf_counter() - started
    started = time.perf_counter()
    companions = run_shape_cases(playbooks)
    companion_seconds = time.perf_counter() - started
    failed = sum(1 for r in cases + companions if not r.passed)
    print(
        f"playbooks test: {len(cases)} cases in {case_seconds:.1f} s; {generated} value-shape companions generated in "
        f"{generate_seconds * 1000:.0f} ms and run in {companion_seconds:.1f} s "
        f"({companion_seconds / max(1, len(companions)) * 1000:.0f} ms each); {failed} failed"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companions", action="store_true", help="also time the cases and their companions")
    args = parser.parse_args(argv)
    bench_validation()
    if args.companions:
        bench_companions()


if __name__ == "__main__":
    main()
