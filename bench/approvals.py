"""Approval round trip through the API vs a raw Temporal update, in one run on the tuned embedded dev server.

API path (its own thread and Temporal client, as in `mendflow up`): HTTP POST with a personal token → token
lookup → groups from server config → redaction → Ed25519 signature → `decide` update → validator verifies the
proof + RBAC → handler → audit line → HTTP answer.
Raw path: the same `decide` update sent with a client, its proof made beforehand (what a round trip cost before
the trust boundary, plus verification, which the workflow cannot skip).
Each campaign needs two approvers (critical), so a first approval only records the vote and no rollout adds noise.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from harness import hook_playbook

from mendflow.api.assemble import build_api, trusting
from mendflow.auth.signing import DecisionSigner
from mendflow.auth.tokens import Role, StoredTokens
from mendflow.config import TenantRegistry
from mendflow.data import demo_tenant_path
from mendflow.demo import simulated_github
from mendflow.models import AuthMethod, Channel, Decision, DecisionOutcome, Finding, ResourceRef, Severity, Verdict
from mendflow.models import fingerprint as fingerprint_of
from mendflow.playbooks.model import Playbook
from mendflow.rbac import Person, RbacConfig
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.devserver import DevServer
from mendflow.runtime.loopback import serve_in_thread
from mendflow.runtime.ports import free_port
from mendflow.runtime.worker import build_worker
from mendflow.settings import Settings
from mendflow.store import Database, database_url
from mendflow.telemetry import configure_logging
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus, RemediationInput

ROUNDS = 40
RBAC = RbacConfig(people={"alice": Person(groups=("secops-oncall",)), "bob": Person(groups=("secops-oncall",))})
PLAYBOOK = Playbook.model_validate(hook_playbook("critical", mode="approval", approval={"timeout": "4h"}))


def _input(campaign: str) -> RemediationInput:
    rid = "/repos/acme/api/hooks/11"
    finding = Finding(
        fingerprint=fingerprint_of("acme", PLAYBOOK.id, rid), tenant="acme", provider="github", rule=PLAYBOOK.id,
        title=PLAYBOOK.title, severity=Severity.critical, resource=ResourceRef(type=PLAYBOOK.resource, id=rid),
        evidence={}, observed_at=datetime.now(UTC),
    )  # fmt: skip
    return RemediationInput(
        campaign_id=campaign,
        tenant_key="github:acme",
        playbook_id=PLAYBOOK.id,
        findings=[finding],
        requested_by="scan:bench",
        step_heartbeat=timedelta(seconds=5),
    )


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def measure() -> tuple[list[float], list[float], list[float]]:
    signer = DecisionSigner.generate()
    settings = trusting(Settings(rbac=RBAC), signer)
    with tempfile.TemporaryDirectory() as tmp, simulated_github(demo_tenant_path()) as (_, connection):
        root = Path(tmp)
        with DevServer(data_dir=root / "temporal", port=free_port(), headless=True) as server:
            client = await connect(TemporalSettings(address=server.address))
            queue = f"bench-approvals-{uuid.uuid4()}"
            registry = TenantRegistry(tenants={connection.key: connection})
            playbooks = {PLAYBOOK.id: PLAYBOOK}
            context = WorkerContext(registry=registry, data_dir=root / "data", playbooks=playbooks, settings=settings)
            # As in `mendflow up`: the API on its own thread and event loop, with its own Temporal client.
            temporal = TemporalSettings(address=server.address)
            app = build_api(settings, temporal, data_dir=root / "data", signer=signer, task_queue=queue)
            token, _ = StoredTokens(Database.open(database_url(root / "data"))).create(
                person="alice", role=Role.approver, name="bench", ttl_seconds=3600
            )
            with serve_in_thread(app) as api_server:
                async with build_worker(client, context, task_queue=queue), httpx.AsyncClient(
                    base_url=api_server.base_url, headers={"Authorization": f"Bearer {token}"}
                ) as http:  # fmt: skip
                    handles = []
                    for _ in range(2 * ROUNDS):
                        cid = f"remediate/bench/{uuid.uuid4()}"
                        handles.append(await client.start_workflow("RemediationWorkflow", _input(cid), id=cid,
                                                                   task_queue=queue))  # fmt: skip
                    for handle in handles:
                        await handle.execute_update("wait_idle", result_type=CampaignStatus)
                    raw, api, signing = [], [], []
                    for i in range(ROUNDS):
                        started = time.perf_counter()
                        proof = signer.sign(workflow_id=handles[i].id, verb="decide", verdict="approve",
                                            actor="bob", groups=("secops-oncall",), auth=AuthMethod.token,
                                            channel=Channel.api, reason="")  # fmt: skip
                        signing.append(time.perf_counter() - started)
                        decision = Decision(approver="bob", groups=("secops-oncall",), verdict=Verdict.approve,
                                            channel=Channel.api, proof=proof)  # fmt: skip
                        started = time.perf_counter()
                        outcome = await handles[i].execute_update("decide", decision, result_type=DecisionOutcome)
                        raw.append(time.perf_counter() - started)
                        assert outcome.accepted, outcome
                        started = time.perf_counter()
                        answer = await http.post(f"/v1/campaigns/{handles[ROUNDS + i].id}/approve", json={})
                        api.append(time.perf_counter() - started)
                        assert answer.status_code == 200, answer.text
                    for _ in range(ROUNDS):
                        started = time.perf_counter()
                        await http.get("/healthz")
                        signing.append(-(time.perf_counter() - started))  # negative: an HTTP-only round trip
                    return raw, api, signing


def main() -> None:
    configure_logging(level="ERROR")
    raw, api, measured = asyncio.run(measure())
    signing = [s for s in measured if s >= 0]
    http_only = [-s for s in measured if s < 0]
    p50_raw, p50_api = statistics.median(raw) * 1000, statistics.median(api) * 1000
    print(
        f"approval round trip ({ROUNDS} each, interleaved, tuned dev server): raw Temporal update p50 "
        f"{p50_raw:.1f} ms p99 {_pct(raw, 0.99):.1f} ms; through the API (token, signed, validated, audited) p50 "
        f"{p50_api:.1f} ms p99 {_pct(api, 0.99):.1f} ms; added p50 {p50_api - p50_raw:.1f} ms "
        f"(signing alone p50 {statistics.median(signing) * 1e6:.0f} µs; HTTP to the API thread's /healthz "
        f"p50 {statistics.median(http_only) * 1000:.1f} ms)"
    )


if __name__ == "__main__":
    main()
