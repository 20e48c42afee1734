"""The credential age doctor records is a gauge per tenant on /metrics."""

from __future__ import annotations

from mendflow.credential_age import AGE_DAYS
from mendflow.telemetry.exposition import MetricsPipeline
from tests.telemetry.conftest import scrape


def test_credential_age_is_scraped_per_tenant(pipeline: MetricsPipeline) -> None:
    """Whatever `record` last published is what Prometheus reads, labelled by tenant."""
    AGE_DAYS["github:metric-test"] = 123.0
    try:
        samples = scrape(pipeline)
    finally:
        del AGE_DAYS["github:metric-test"]
    ages = {
        dict(labels)["tenant"]: v for (name, labels), v in samples.items() if name.startswith("mendflow_credential_age")
    }
    assert ages.get("github:metric-test") == 123.0, sorted(n for n, _ in samples)
