"""One scan and its campaigns on the real dev server: the span tree, the metrics and the log context they leave."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from mendflow.runtime.worker import build_worker
from mendflow.telemetry import configure_logging
from mendflow.telemetry.exposition import MetricsPipeline
from mendflow.telemetry.tracing import tracing_interceptor
from mendflow.worker_context import WorkerContext
from tests.conftest import SimulatedOrg
from tests.telemetry.conftest import scrape, total
from tests.workflows.helpers import campaign_results, run_scan

pytestmark = pytest.mark.slow

HOOK_RULE = "github.repo_hook.insecure_ssl"
HOOK_ACTION = "github.repo_hook.update_config"


def span_tree(spans: Sequence[ReadableSpan], root: ReadableSpan) -> list[str]:
    """The tree under `root` as indented names; siblings of one name are shown once (×count), expanding the one
    with the largest subtree."""
    children: dict[int, list[ReadableSpan]] = defaultdict(list)
    for span in spans:
        if span.parent is not None:
            children[span.parent.span_id].append(span)

    def size(span: ReadableSpan) -> int:
        assert span.context is not None
        return 1 + sum(size(kid) for kid in children[span.context.span_id])

    lines: list[str] = []

    def walk(span: ReadableSpan, depth: int, count: int) -> None:
        assert span.context is not None
        lines.append("  " * depth + span.name + (f"  ×{count}" if count > 1 else ""))
        groups: dict[str, list[ReadableSpan]] = defaultdict(list)
        for kid in sorted(children[span.context.span_id], key=lambda s: s.start_time or 0):
            groups[kid.name].append(kid)
        for group in groups.values():
            walk(max(group, key=size), depth + 1, len(group))

    walk(root, 0, 1)
    return lines


async def test_one_campaign_leaves_a_span_tree_metrics_and_log_context(
    dev_env: WorkflowEnvironment,
    github_org: SimulatedOrg,
    worker_context: WorkerContext,
    spans: InMemorySpanExporter,
    pipeline: MetricsPipeline,
) -> None:
    """scan → campaign → prepare/apply/verify → vendor calls in one trace; connector, activity and campaign
    metrics by vendor/operation/outcome; log lines with tenant, workflow, run, activity and trace ids."""
    client = Client(**{**dev_env.client.config(), "interceptors": [tracing_interceptor()]})
    queue = f"q-{uuid.uuid4()}"
    stream = io.StringIO()
    configure_logging(level="INFO", json_output=True, stream=stream)
    logging.getLogger("temporalio").setLevel(logging.DEBUG)  # the worker's own activity/workflow loggers
    before = scrape(pipeline)
    async with build_worker(client, worker_context, task_queue=queue):
        scan = await run_scan(client, queue)
        results = await campaign_results(client, scan)
    after = scrape(pipeline)
    assert results[HOOK_RULE].state == "completed"

    finished = spans.get_finished_spans()
    (root,) = [s for s in finished if s.name == "StartWorkflow:ScanWorkflow"]
    assert root.context is not None
    mine = [s for s in finished if s.context is not None and s.context.trace_id == root.context.trace_id]
    tree = span_tree(mine, root)
    print("\n".join(tree))  # the closing note quotes this tree
    names = {s.name for s in mine}
    for name in (
        "RunWorkflow:ScanWorkflow",
        "RunActivity:collect_inventory",
        "github GET /orgs/{id}/repos",
        "StartChildWorkflow:RemediationWorkflow",
        "RunWorkflow:RemediationWorkflow",
        "RunActivity:prepare_changes",
        f"prepare {HOOK_ACTION}",
        "RunActivity:apply_changes",
        f"apply {HOOK_ACTION}",
        "github PATCH /repos/{id}/{id}/hooks/{id}/config",
        f"verify {HOOK_ACTION}",
        "github GET /repos/{id}/{id}/hooks/{id}",  # the re-read that verifies (rule and fields at once)
    ):
        assert name in names, f"{name} not in the trace:\n" + "\n".join(tree)
    # the PATCH hangs under apply, under apply_changes, under the campaign, under the scan
    by_id = {s.context.span_id: s for s in mine if s.context is not None}
    (patch, *_) = [s for s in mine if s.name == "github PATCH /repos/{id}/{id}/hooks/{id}/config"]
    chain = []
    span: ReadableSpan | None = patch
    while span is not None:
        chain.append(span.name)
        span = by_id.get(span.parent.span_id) if span.parent is not None else None
    assert chain.index(f"apply {HOOK_ACTION}") < chain.index("RunActivity:apply_changes")
    assert chain.index("RunActivity:apply_changes") < chain.index("StartChildWorkflow:RemediationWorkflow")
    assert chain[-1] == "StartWorkflow:ScanWorkflow"
    assert patch.attributes is not None and patch.attributes["mendflow.playbook"] == HOOK_RULE

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert (
        grew("mendflow_connector_requests_total", vendor="github", operation="PATCH /repos/{id}/{id}/hooks/{id}/config")
        >= 2
    )
    assert grew("mendflow_activity_duration_seconds_count", activity="apply_changes", outcome="completed") >= 2
    assert grew("mendflow_campaigns_total", playbook=HOOK_RULE, outcome="completed") == 1

    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    in_activities = [line for line in lines if line.get("activity")]
    assert in_activities, lines[:5]
    assert all(line.get("workflow_id") and line.get("run_id") for line in in_activities)
    assert any(line.get("tenant") == "github:acme" and line.get("trace_id") for line in in_activities)
    in_workflows = [line for line in lines if line.get("event") == "scan done"]
    assert in_workflows and in_workflows[0]["workflow_id"].startswith("scan-")
    assert in_workflows[0]["tenant"] == "github:acme" and in_workflows[0]["workflow_type"] == "ScanWorkflow"
