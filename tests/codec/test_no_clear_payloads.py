"""Whole system: a scan, an approval and a rollback on the embedded stack leave only ciphertext in Temporal.

Canary secrets are planted in every credential (GitHub, Slack, Jira, the operator's API token, the payload key) and
canary values in resources (a repository's name, a webhook URL with a token in it). Afterwards the raw histories,
fetched without the codec, the dev server's SQLite file, the logs, the Slack and Jira simulators' records and an
evidence bundle of the run are searched for each value, its base64 and its URL-encoded forms.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.message import Message
from mendflow.workflows import WORKFLOWS
from mendflow.workflows.remediation import CHUNKED_CHANGES, IDLE_ONCE_SETTLED, PIPELINED_ROLLOUT
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from mendflow.auth.tokens import Role, StoredTokens
from mendflow.codec import ENCODING, KEY_FILE, AesGcmCodec, PayloadKeys, data_converter
from mendflow.config import TenantConnection, TenantRegistry
from mendflow.data import demo_tenant_path
from mendflow.demo import DEMO_APPROVAL, ONCALL, simulated_collaboration
from mendflow.evidence import export_evidence
from mendflow.playbooks.model import Playbook
from mendflow.redaction import register_secret
from mendflow.runtime.devserver import DevServer
from mendflow.runtime.loopback import serve_in_thread
from mendflow.runtime.ports import free_port
from mendflow.runtime.scans import run_scan_and_wait, wait_idle
from mendflow.runtime.stack import embedded_stack
from mendflow.secrets import SecretRef
from mendflow.sim.github import create_github_app
from mendflow.store import Database, database_url
from mendflow.tenant import load_tenant_file
from mendflow.worker_context import WorkerContext

pytestmark = pytest.mark.slow

PAYLOAD = Payload.DESCRIPTOR.full_name
CLEAR_BY_DESIGN = ("header", "search_attributes")
"""Payload fields Temporal must read (indexing, interceptors' context): checked for canaries, not for encryption."""
PATCH_MARKER = "core_patch"
"""`workflow.patched` markers: the SDK core writes the patch id itself, in clear, past the data converter."""
PATCHES = {IDLE_ONCE_SETTLED, CHUNKED_CHANGES, PIPELINED_ROLLOUT}
"""Every patch id our workflows use (a marker holding anything else fails the test)."""


def forms(value: str) -> set[bytes]:
    """The value, its URL-encoded forms and its base64 at every alignment (as it would sit inside longer data)."""
    raw = value.encode()
    found = {raw, quote(value, safe="").encode(), quote_plus(value).encode()}
    for pad in range(3):  # drop the 4-character groups that mix in the bytes around the value
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            found.add(encode(b"\0" * pad + raw)[4 if pad else 0 : -4])
    return found


def leaks(blob: bytes, canaries: dict[str, str]) -> list[str]:
    """Names of the canaries found in `blob` in any of their forms."""
    return [name for name, value in canaries.items() if any(form in blob for form in forms(value))]


def payloads_in(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """Every Payload inside a protobuf message, with the field path that holds it."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            inner = field.message_type.fields_by_name["value"]
            items = list(value.values()) if inner.message_type is not None else []
        else:
            items = [value] if isinstance(value, Message) else list(value)
        for item in items:
            where = f"{path}.{field.name}"
            if item.DESCRIPTOR.full_name == PAYLOAD:
                yield where, item
            else:
                yield from payloads_in(item, where)


async def ui_codec_endpoint(server: DevServer) -> str:
    """The codec endpoint the dev server's UI tells browsers to use (its settings API)."""
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(100):
            try:
                settings = (await http.get(f"{server.ui_url}/api/v1/settings")).json()
                return str(settings["Codec"]["Endpoint"])
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise AssertionError("the dev server's UI never answered")


def canary_tenant(tmp_path: Path, repo: str, hook_url: str) -> Path:
    """The demo tenant with one repository renamed to `repo` and the org webhook's URL set to `hook_url`."""
    text = demo_tenant_path().read_text(encoding="utf-8").replace("acme/infra", f"acme/{repo}")
    data = json.loads(text.replace('"name": "infra"', f'"name": "{repo}"'))
    for hook in data["github"]["hooks"]:
        hook["config"]["url"] = hook_url
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


async def test_temporal_holds_only_ciphertext_of_inventories_findings_and_secrets(
    tmp_path: Path,
    shipped_playbooks: list[Playbook],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No canary in raw histories, the Temporal database, logs or simulators; with the codec the values are there."""
    caplog.set_level(logging.DEBUG)
    mark = secrets.token_hex(6)
    repo, hook_url = f"vault-c4n4ry{mark}", f"http://legacy-siem.acme.example/ingest?key=c4n4ryhook{mark}"
    github_token = f"ghp_c4n4ry{secrets.token_hex(16)}"
    register_secret(github_token)
    monkeypatch.setenv("MF_CANARY_GITHUB_TOKEN", github_token)
    tenant = load_tenant_file(canary_tenant(tmp_path, repo, hook_url))
    data_dir = tmp_path / "data"
    server = DevServer(data_dir=data_dir / "temporal", port=free_port(), ui_port=free_port())

    with serve_in_thread(create_github_app(tenant, token=github_token)) as github, simulated_collaboration() as collab:
        registry = TenantRegistry()
        registry.add(TenantConnection(key="github:acme", provider="github", tenant="acme", base_url=github.base_url,
                                      token=SecretRef(ref="env:MF_CANARY_GITHUB_TOKEN")))  # fmt: skip
        context = WorkerContext(registry=registry, data_dir=data_dir, playbooks={p.id: p for p in shipped_playbooks},
                                settings=collab.settings)  # fmt: skip
        async with embedded_stack(server, context) as stack:
            assert stack.api is not None
            assert await ui_codec_endpoint(server) == f"{stack.api.base_url}/codec"
            db = Database.open(database_url(data_dir))
            api_token, _ = StoredTokens(db).create(person=ONCALL, role=Role.admin, name="canary", ttl_seconds=600)
            db.dispose()
            scan, campaigns = await run_scan_and_wait(stack.client, "github:acme")
            gated = next(c for c in campaigns if c.playbook_id == DEMO_APPROVAL and c.state == "awaiting_approval")
            auth = {"Authorization": f"Bearer {api_token}"}
            async with httpx.AsyncClient(base_url=stack.api.base_url, headers=auth, timeout=60) as api:
                url = f"/v1/campaigns/{gated.campaign_id}"
                approved = await api.post(f"{url}/approve", json={"reason": "canary run"})
                assert approved.status_code == 200, approved.text
                assert (await wait_idle(stack.client, gated.campaign_id)).state in ("completed", "verified")
                rolled = await api.post(f"{url}/rollback", json={"reason": "canary rollback"})
                assert rolled.status_code == 200, rolled.text
                await wait_idle(stack.client, gated.campaign_id)
            raw = await Client.connect(server.address)  # no codec: what anyone with Temporal access sees
            histories: list[WorkflowHistory] = []
            async for execution in raw.list_workflows():
                handle = raw.get_workflow_handle(execution.id, run_id=execution.run_id)
                histories.append(await handle.fetch_history())
        db = Database.open(database_url(data_dir))
        since = datetime.now(UTC) - timedelta(hours=1)
        bundle = export_evidence(db, since=since, until=since + timedelta(hours=2), framework=None,
                                 key=Ed25519PrivateKey.generate())  # fmt: skip
        db.dispose()
        key_text = (data_dir / KEY_FILE).read_text(encoding="utf-8").strip()
        slack, jira = collab.settings.slack, collab.settings.jira
        assert slack is not None and jira is not None
        secrets_planted = {
            "github token": github_token,
            "operator API token": api_token,
            "payload key": key_text,
            "slack bot token": slack.bot_token.resolve(),
            "slack signing secret": slack.signing_secret.resolve(),
            "jira token": jira.token.resolve(),
        }
        simulators = repr(collab.slack.messages).encode() + repr(collab.jira.issues).encode()  # what they received

    assert len(histories) >= 3 and scan.campaigns_started
    canaries = {**secrets_planted, "repository name": repo, "webhook URL": hook_url}
    codec = AesGcmCodec.from_keys(PayloadKeys.parse(f"local-1=file:{data_dir / KEY_FILE}"))
    clear_texts: list[bytes] = []
    for history in histories:
        for event in history.events:
            assert leaks(event.SerializeToString(), canaries) == [], (history.workflow_id, event.event_type)
            patch = event.marker_recorded_event_attributes.marker_name == PATCH_MARKER
            for where, payload in payloads_in(event):
                if patch:  # nothing but a patch id of our workflows' code may sit there
                    assert json.loads(payload.data)["id"] in PATCHES, (history.workflow_id, payload.data)
                elif not any(part in where for part in CLEAR_BY_DESIGN):
                    assert payload.metadata.get("encoding") == ENCODING, (history.workflow_id, where)
                    clear_texts.append(codec.decrypt(payload).SerializeToString())
        assert leaks(json.dumps(history.to_json_dict()).encode(), canaries) == [], history.workflow_id
    decoded = b"".join(clear_texts)
    assert repo.encode() in decoded, "the canary repository never reached Temporal: the search proves nothing"
    assert not leaks(decoded, secrets_planted), "a credential travelled through Temporal, even encrypted"

    sqlite = b"".join(p.read_bytes() for p in (data_dir / "temporal").glob("temporal.sqlite*"))
    assert b"remediate/github:acme" in sqlite, "the database file holds the workflows (else the search is moot)"
    assert leaks(sqlite, canaries) == []

    captured = capsys.readouterr()
    logs = (captured.out + captured.err + caplog.text).encode()
    assert b"collect_inventory" in logs, "the worker's log lines were not captured: the search proves nothing"
    logs += server.log_path.read_bytes()
    assert leaks(logs, {**secrets_planted, "webhook URL": hook_url}) == []  # resource ids may be logged, not values
    assert leaks(simulators, secrets_planted) == []
    assert bundle.counts["changes"] and bundle.counts["decisions"], bundle.counts  # the bundle has the campaign
    assert leaks(b"".join(bundle.files.values()), secrets_planted) == []

    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=data_converter(PayloadKeys.parse(
        f"local-1=file:{data_dir / KEY_FILE}")))  # fmt: skip
    for history in histories:
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, (history.workflow_id, result.replay_failure)
