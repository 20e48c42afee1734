"""Every metric and label the Grafana dashboards query is one mendflow exports (names as Prometheus sees them)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mendflow.connectors.http import VendorHttp
from mendflow.errors import VendorError
from mendflow.findings.store import FindingsLedger
from mendflow.store import Database
from mendflow.telemetry import metrics, scan_facts
from mendflow.telemetry.exposition import MetricsPipeline, install_metrics
from tests.findings import T0, hook_finding

DASHBOARDS = sorted((Path(__file__).parents[2] / "deploy" / "grafana").glob("*.json"))
NAME = re.compile(r"\b(mendflow_[a-z0-9_]+)\b")
SELECTOR = re.compile(r"\b(mendflow_[a-z0-9_]+)\{([^}]*)\}")
MATCHER = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
LEGEND = re.compile(r"{{\s*(\w+)\s*}}")


async def _exported(tmp_path: Path) -> dict[str, set[str]]:
    """Metric name → label names, after the production code recorded every instrument once."""
    pipeline: MetricsPipeline = install_metrics()
    db = Database.open(f"sqlite:///{tmp_path / 'm.db'}")
    pipeline.observe_store(db)
    tenant = "github:dashboards"
    finding, fixed = hook_finding("/repos/acme/api/hooks/1"), hook_finding("/repos/acme/web/hooks/2")
    scan_facts.record_inventory(db, tenant, resources=3, expected=2, read=2)
    FindingsLedger(db).reconcile(tenant, [finding, fixed], rules=[finding.rule], seen_at=T0)
    scan_facts.record_reconciled(db, tenant, seen_at=T0)
    FindingsLedger(db).reconcile(tenant, [], rules=[finding.rule], seen_at=T0 + timedelta(hours=1),
                                 read={finding.resource.id, fixed.resource.id})  # fmt: skip
    scan_facts.record_reconciled(db, tenant, seen_at=T0 + timedelta(hours=1))
    FindingsLedger(db).reconcile(tenant, [finding], rules=[finding.rule], seen_at=T0 + timedelta(hours=2))
    scan_facts.record_reconciled(db, tenant, seen_at=T0 + timedelta(hours=2))  # regressed: time to detect
    metrics.record_campaign(playbook="p", outcome="completed")
    metrics.record_approval_wait(1.0, playbook="p", verdict="approve")
    metrics.record_evidence_export(1.0, framework="SOC2")
    metrics.record_activity(0.1, activity="a", outcome="completed")
    answers = iter([httpx.Response(429, headers={"retry-after": "0"}), httpx.Response(200, json={})])

    async def no_sleep(seconds: float) -> None:
        return None

    transport = httpx.MockTransport(lambda request: next(answers, httpx.Response(400, json={"message": "no"})))
    async with VendorHttp(base_url="https://x", auth_header="Bearer t", vendor="v", transport=transport,
                          sleep=no_sleep) as http:  # fmt: skip
        await http.get_json("/orgs/acme")
        with pytest.raises(VendorError):
            await http.get_json("/orgs/acme")
    out: dict[str, set[str]] = {}
    for line in pipeline.render().decode().splitlines():
        match = re.match(r"(\w+)(?:\{(.*)\})? ", line)
        if match and not line.startswith("#"):
            labels = set(re.findall(r'(\w+)="', match.group(2) or "")) - {"otel_scope_name", "otel_scope_version",
                                                                       "otel_scope_schema_url"}  # fmt: skip
            out.setdefault(match.group(1), set()).update(labels)
    db.dispose()
    return out


def _queries(board: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(where, expression, legend) of every query in a dashboard: panel targets and template variables."""
    found = []
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            found.append((f"panel {panel['title']!r}", target["expr"], target.get("legendFormat", "")))
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"]
            name, label = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query).groups()  # type: ignore[union-attr]
            found.append((f"variable {variable['name']!r}", f"{name}{{{label}=~'x'}}", ""))
    return found


async def test_dashboards_query_only_what_mendflow_exports(tmp_path: Path) -> None:
    """Each query's metrics exist, each label it matches, groups by or shows in a legend is one of theirs."""
    exported = await _exported(tmp_path)
    assert len(DASHBOARDS) == 3, DASHBOARDS
    problems = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for where, expr, legend in _queries(board):
            names = set(NAME.findall(expr))
            if not names:
                problems.append(f"{path.name} {where}: queries no mendflow metric: {expr}")
            unknown = names - set(exported)
            problems += [f"{path.name} {where}: {n} is not exported" for n in sorted(unknown)]
            known = set().union(*(exported.get(n, set()) for n in names))
            for name, matchers in SELECTOR.findall(expr):
                bad = set(MATCHER.findall(matchers)) - exported.get(name, set())
                problems += [f"{path.name} {where}: {name} has no label {b}" for b in sorted(bad)]
            grouped = {g.strip() for group in GROUPING.findall(expr) for g in group.split(",") if g.strip()}
            bad = grouped - known - ({"le"} if any(n.endswith("_bucket") for n in names) else set())
            problems += [f"{path.name} {where}: groups by unknown label {b}" for b in sorted(bad)]
            shown = set(LEGEND.findall(legend)) - (grouped or known)
            problems += [f"{path.name} {where}: legend shows unknown label {b}" for b in sorted(shown)]
    assert not problems, "\n".join(problems)


def test_the_check_catches_a_wrong_metric_and_label() -> None:
    """The patterns above find what a typo would break (so the test above can fail)."""
    expr = 'sum by (severty) (mendflow_findings_opne{tenant=~"$tenant", sevrity="critical"})'
    assert NAME.findall(expr) == ["mendflow_findings_opne"]
    assert SELECTOR.findall(expr)[0][0] == "mendflow_findings_opne"
    assert MATCHER.findall(SELECTOR.findall(expr)[0][1]) == ["tenant", "sevrity"]
    assert GROUPING.findall(expr) == ["severty"]
