"""The trust boundary under attack, on a real worker, Temporal dev server and the API on loopback.

Each case proves two things: nothing changed (campaign state, decisions, the simulated org) and the refusal is
in the hash-chained audit log.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from mendflow.api.assemble import build_api, trusting
from mendflow.audit import AuditLog
from mendflow.auth.refusals import audit_refusals
from mendflow.auth.signing import DecisionSigner
from mendflow.auth.tokens import Role, StoredTokens
from mendflow.models import Channel, Decision, DecisionOutcome, Verdict
from mendflow.runtime.worker import build_worker
from mendflow.settings import Settings
from mendflow.store import Database, database_url
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus
from tests.conftest import SimulatedOrg
from tests.integrations.conftest import serve_here
from tests.signing import signed_decision, signed_request
from tests.workflows.campaigns import RBAC, hook_configs, hook_playbook, start_campaign

pytestmark = pytest.mark.slow


@dataclass
class Stack:
    env: WorkflowEnvironment
    org: SimulatedOrg
    api: httpx.AsyncClient
    audit: AuditLog
    tokens: StoredTokens
    signer: DecisionSigner
    queue: str

    def token(self, person: str, role: Role = Role.approver, ttl: float = 3600) -> dict[str, str]:
        secret, _ = self.tokens.create(person=person, role=role, name="t", ttl_seconds=ttl)
        return {"Authorization": f"Bearer {secret}"}

    def refusals(self) -> str:
        return " | ".join(f"{r['kind']}:{r['reason']}" for r in self.audit.records() if r["outcome"] == "refused")


@pytest.fixture
async def stack(dev_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path) -> AsyncIterator[Stack]:
    signer = DecisionSigner(Ed25519PrivateKey.generate())
    settings = trusting(Settings(rbac=RBAC), signer)
    playbook = hook_playbook()
    context = WorkerContext(
        registry=github_org.registry(), data_dir=tmp_path / "data", playbooks={playbook.id: playbook}, settings=settings
    )
    queue = f"q-{uuid.uuid4()}"
    db = Database.open(database_url(tmp_path / "data"))
    audit_refusals(queue, context.audit)
    app = build_api(settings, dev_env.client, data_dir=tmp_path / "data", signer=signer, task_queue=queue)
    tokens = StoredTokens(db)
    async with (
        serve_here(app) as server,
        build_worker(dev_env.client, context, task_queue=queue),
        httpx.AsyncClient(base_url=server.base_url, timeout=30) as api,
    ):
        yield Stack(dev_env, github_org, api, AuditLog(db), tokens, signer, queue)


async def waiting(stack: Stack, requested_by: str = "scan:test") -> tuple[WorkflowHandle[Any, Any], CampaignStatus]:
    handle = await start_campaign(stack.env.client, stack.queue, hook_playbook(), requested_by=requested_by)
    status: CampaignStatus = await handle.execute_update("wait_idle", result_type=CampaignStatus)
    assert status.state == "awaiting_approval"
    return handle, status


async def unchanged(stack: Stack, handle: WorkflowHandle[Any, Any], before: CampaignStatus) -> None:
    now = await handle.query("status", result_type=CampaignStatus)
    assert now.state == "awaiting_approval" and now.decisions == [] and now.timeline == before.timeline


def decoded_history(node: Any) -> str:
    """Every payload of a history as text (payload `data` is base64 in the JSON form)."""
    if isinstance(node, dict):
        parts = [decoded_history(v) for k, v in node.items() if k != "data"]
        if isinstance(node.get("data"), str):
            parts.append(base64.b64decode(node["data"]).decode("utf-8", "replace"))
        return "\n".join(parts)
    if isinstance(node, list):
        return "\n".join(decoded_history(v) for v in node)
    return str(node)


def url(handle: WorkflowHandle[Any, Any], verb: str) -> str:
    return f"/v1/campaigns/{handle.id}/{verb}"


async def test_a_direct_temporal_update_with_a_hand_made_decision_is_refused_and_audited(stack: Stack) -> None:
    """Someone who can reach Temporal sends `decide` with an approver's name and groups: refused, audited."""
    handle, before = await waiting(stack)
    hooks = hook_configs(stack.org.state)
    forged = Decision(approver="alice", groups=("secops-oncall",), verdict=Verdict.approve, channel=Channel.cli)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update("decide", forged, result_type=DecisionOutcome)
    assert "unsigned request" in str(err.value.cause)
    await unchanged(stack, handle, before)
    assert hook_configs(stack.org.state) == hooks
    assert "workflow.refusal:unsigned request" in stack.refusals()


async def test_a_decision_signed_by_an_unknown_key_is_refused_and_audited(stack: Stack) -> None:
    """A key the worker was not configured with (an attacker's own 'API') counts for nothing."""
    handle, before = await waiting(stack)
    rogue = DecisionSigner(Ed25519PrivateKey.generate())
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update("decide", signed_decision(handle.id, "alice", RBAC, signer=rogue))
    assert "unknown key" in str(err.value.cause)
    await unchanged(stack, handle, before)
    assert "unknown key" in stack.refusals()


async def test_a_replayed_signed_request_is_refused_and_audited(stack: Stack) -> None:
    """A signed `pause` counts once: after a resume, sending the same proof again is refused, still running."""
    handle, _ = await waiting(stack)
    pause = signed_request(handle.id, "pause", "alice", RBAC, signer=stack.signer)
    await handle.execute_update("pause", pause, result_type=str)
    await handle.execute_update("resume", signed_request(handle.id, "resume", "alice", RBAC, signer=stack.signer))
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update("pause", pause, result_type=str)
    assert "replayed proof" in str(err.value.cause)
    status = await handle.query("status", result_type=CampaignStatus)
    assert not status.paused and status.state == "awaiting_approval"
    assert "replayed proof" in stack.refusals()


async def test_request_supplied_groups_are_not_accepted_and_a_non_approver_is_refused(stack: Stack) -> None:
    """The API takes no groups from the caller (400) and refuses mallory by the server's RBAC (409), audited."""
    handle, before = await waiting(stack)
    mallory = stack.token("mallory")
    claim = await stack.api.post(url(handle, "approve"), json={"groups": ["secops-oncall"]}, headers=mallory)
    assert claim.status_code == 400 and "groups" in claim.json()["error"]
    refused = await stack.api.post(url(handle, "approve"), json={"reason": "trust me"}, headers=mallory)
    assert refused.status_code == 409 and "mallory may not approve" in refused.json()["message"]
    await unchanged(stack, handle, before)
    assert "decision:mallory may not approve" in stack.refusals()


async def test_the_requester_cannot_approve_their_own_change(stack: Stack) -> None:
    """Four-eyes on a person-started campaign: alice asked for it, alice cannot approve it; bob can."""
    handle, before = await waiting(stack, requested_by="alice")
    own = await stack.api.post(url(handle, "approve"), json={}, headers=stack.token("alice"))
    assert own.status_code == 409 and "four-eyes" in own.json()["message"]
    await unchanged(stack, handle, before)
    other = await stack.api.post(url(handle, "approve"), json={}, headers=stack.token("bob"))
    assert other.status_code == 200 and other.json()["state"] == "approved"
    assert "four-eyes" in stack.refusals()


@pytest.mark.parametrize(
    ("case", "expect"),
    [("expired", "expired"), ("revoked", "revoked"), ("viewer", "needs approver"), ("unknown", "unknown token")],
)
async def test_bad_tokens_are_refused_and_audited(stack: Stack, case: str, expect: str) -> None:
    """Expired, revoked, wrong-role and unknown tokens: 401/403 with the reason, audited, nothing changed."""
    handle, before = await waiting(stack)
    if case == "expired":
        headers = stack.token("alice", ttl=0.01)
        import asyncio

        await asyncio.sleep(0.05)
    elif case == "revoked":
        secret, info = stack.tokens.create(person="alice", role=Role.approver, name="t", ttl_seconds=60)
        stack.tokens.revoke(info.token_id)
        headers = {"Authorization": f"Bearer {secret}"}
    elif case == "viewer":
        headers = stack.token("alice", Role.viewer)
    else:
        headers = {"Authorization": "Bearer mfp_" + "A" * 43}
    answer = await stack.api.post(url(handle, "approve"), json={}, headers=headers)
    assert answer.status_code in (401, 403) and expect in answer.json()["error"]
    await unchanged(stack, handle, before)
    assert expect in stack.refusals()


async def test_repeated_authentication_failures_are_slowed_down(stack: Stack) -> None:
    """After five failures in a minute the client gets 429 with Retry-After before any credential is checked."""
    bad = {"Authorization": "Bearer mfp_" + "B" * 43}
    codes = [(await stack.api.get("/v1/campaigns", headers=bad)).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    good = await stack.api.get("/v1/campaigns", headers=stack.token("alice", Role.viewer))
    assert good.status_code == 429 and int(good.headers["retry-after"]) > 0


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe\x00binary", "reason=caf\xe9".encode("latin-1"), b'{"reason": "trunc', b"[1, 2]", b"x" * 70_000],
    ids=["binary", "latin-1", "truncated", "not-an-object", "oversized"],
)
async def test_hostile_bodies_get_a_4xx_never_a_500(stack: Stack, body: bytes) -> None:
    """Binary, non-UTF-8, truncated, wrongly shaped or oversized bodies: 400 and nothing changed."""
    handle, before = await waiting(stack)
    answer = await stack.api.post(url(handle, "approve"), content=body, headers=stack.token("alice"))
    assert 400 <= answer.status_code < 500 and "error" in answer.json()
    await unchanged(stack, handle, before)


async def test_a_secret_typed_into_a_reason_never_reaches_temporal_history(stack: Stack) -> None:
    """A token pasted into --reason is redacted before it is signed, sent or audited."""
    handle, _ = await waiting(stack)
    secret = "ghp_" + "Z" * 36
    answer = await stack.api.post(url(handle, "approve"), json={"reason": f"ok {secret}"}, headers=stack.token("bob"))
    assert answer.status_code == 200
    history = decoded_history(json.loads((await handle.fetch_history()).to_json()))
    assert "ok [REDACTED]" in history and secret not in history
    assert secret not in json.dumps(stack.audit.records())


async def test_operator_controls_go_through_the_api_with_roles(stack: Stack) -> None:
    """An operator token may abort; a viewer may only look; each answer is the workflow's."""
    handle, _ = await waiting(stack)
    viewer = stack.token("alice", Role.viewer)
    assert (await stack.api.get(f"/v1/campaigns/{handle.id}", headers=viewer)).json()["state"] == "awaiting_approval"
    assert (await stack.api.post(url(handle, "abort"), json={}, headers=viewer)).status_code == 403
    aborted = await stack.api.post(
        url(handle, "abort"), json={"reason": "wrong org"}, headers=stack.token("bob", Role.operator)
    )
    assert aborted.status_code == 200 and aborted.json()["accepted"]
    again = await stack.api.post(url(handle, "abort"), json={}, headers=stack.token("bob", Role.operator))
    # Refused either by the validator or, once the aborted campaign has closed, because it is no longer running.
    assert again.status_code == 409 and any(
        why in again.json()["message"] for why in ("nothing to abort", "is not running")
    )
    kinds = [(r["kind"], r["outcome"]) for r in stack.audit.records()]
    assert ("control", "accepted") in kinds and ("control", "refused") in kinds


@pytest.mark.parametrize(
    ("person", "fingerprint", "why"),
    [("carol", "0" * 64, "no finding"), ("mallory", "0" * 64, "may not accept risks")],
    ids=["unknown-fingerprint", "not-a-suppressor"],
)
async def test_suppress_reports_the_workers_refusal(stack: Stack, person: str, fingerprint: str, why: str) -> None:
    """`suppress` waits for the worker's verdict: an unknown finding or a person not allowed is a 409, audited."""
    answer = await stack.api.post(
        f"/v1/findings/{fingerprint}/suppress",
        json={"reason": "accepted by the board", "expires_at": "2099-01-01T00:00:00+00:00"},
        headers=stack.token(person, Role.operator),
    )
    assert answer.status_code == 409 and why in answer.json()["message"], answer.json()
    assert any(r["kind"] == "suppression" and why in r["reason"] for r in stack.audit.records())


@pytest.mark.parametrize("campaign", ["%FF%FE%00", "x" * 5000, "..%2F..%2Fetc"], ids=["bytes", "long", "dots"])
async def test_hostile_campaign_ids_get_a_4xx_never_a_500(stack: Stack, campaign: str) -> None:
    """Odd bytes, a 5,000-character id or path tricks in the campaign id: a clear 4xx, for reads and verbs."""
    viewer, approver = stack.token("alice", Role.viewer), stack.token("alice")
    read = await stack.api.get(f"/v1/campaigns/{campaign}", headers=viewer)
    assert 400 <= read.status_code < 500, read.text
    verb = await stack.api.post(f"/v1/campaigns/{campaign}/approve", json={}, headers=approver)
    assert 400 <= verb.status_code < 500, verb.text
