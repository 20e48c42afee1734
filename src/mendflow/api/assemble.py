"""Build the whole API from config: signer, audit log, token store, OIDC, operator routes and Slack.

Used by `mendflow api` and the embedded stack (`mendflow up`, `mendflow demo`), so both serve the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from starlette.applications import Starlette
from temporalio.client import Client
from temporalio.converter import PayloadCodec

from mendflow.api.app import create_api_app, temporal_answerer, temporal_decider
from mendflow.api.operations import Operations
from mendflow.api.operator import OperatorApi
from mendflow.api.webhooks import WebhookReceiver
from mendflow.audit import AuditLog
from mendflow.auth.identity import Authenticator
from mendflow.auth.oidc import OidcVerifier
from mendflow.auth.signing import DecisionSigner, ensure_key_file
from mendflow.auth.tokens import StoredTokens
from mendflow.codec import AesGcmCodec
from mendflow.findings.store import FindingsLedger
from mendflow.integrations.slack import SlackCards, SlackDirectory
from mendflow.runtime.client import TASK_QUEUE, TemporalSettings
from mendflow.runtime.rescans import RescanRequests
from mendflow.secrets import SecretRef
from mendflow.settings import Settings
from mendflow.store import Database, StoredReplayCache, database_url

KEY_FILE = "api-signing.key"
"""The embedded default's signing key, generated in the data directory on first start."""


def signer_for(settings: Settings, data_dir: Path) -> DecisionSigner:
    """The configured signing key, else the data directory's own (created when missing)."""
    security = settings.security
    ref = security.signing_key or SecretRef(ref=f"file:{ensure_key_file(data_dir / KEY_FILE).resolve()}")
    return DecisionSigner.from_ref(ref, key_id=security.signing_key_id)


def trusting(settings: Settings, signer: DecisionSigner) -> Settings:
    """`settings` whose workers also trust `signer` (one host running both API and worker)."""
    keys = {**settings.security.trusted_keys, **signer.trusted}
    return settings.model_copy(update={"security": settings.security.model_copy(update={"trusted_keys": keys})})


def build_operator(settings: Settings, ops: Operations, db: Database) -> OperatorApi:
    """Operator endpoints: personal tokens and the findings ledger in the shared store `db`, OIDC JWTs when
    `security.oidc` is configured."""
    oidc = OidcVerifier(settings.security.oidc) if settings.security.oidc else None
    authenticator = Authenticator(rbac=settings.rbac, tokens=StoredTokens(db), oidc=oidc)
    return OperatorApi(ops, authenticator, settings.rbac, ledger=FindingsLedger(db))


def build_webhooks(
    settings: Settings, ops: Operations, db: Database, audit: AuditLog, *, task_queue: str = TASK_QUEUE
) -> WebhookReceiver | None:
    """The webhook endpoints of the `webhooks:` section (None without one): delivery ids in the shared store, the
    deliveries signals-with-start of the tenant's RescanWorkflow through the API's Temporal client (those that
    arrive while one is in flight coalesced into the next, `RescanRequests`)."""
    config = settings.webhooks
    if config is None or not config.tenants:
        return None
    debounce = timedelta(milliseconds=config.debounce_ms)
    requester: list[RescanRequests] = []  # made on first use, around the API's one client

    async def rescan(tenant: str, targets: list[str], source: str) -> None:
        client = await ops.client()
        if not requester:
            requester.append(RescanRequests(client, task_queue=task_queue, debounce=debounce))
        await requester[0].request(tenant, targets, source=source)

    return WebhookReceiver(config, audit=audit, deliveries=StoredReplayCache(db), rescan=rescan)


def payload_codec(temporal: Client | TemporalSettings) -> PayloadCodec | None:
    """The codec the API's Temporal client uses: what `/codec/*` serves (None: payloads are not encrypted)."""
    if isinstance(temporal, Client):
        codec = temporal.data_converter.payload_codec
        return codec if isinstance(codec, AesGcmCodec) else None
    return AesGcmCodec.from_keys(temporal.payload_keys) if temporal.payload_keys else None


def build_api(
    settings: Settings,
    temporal: Client | TemporalSettings,
    *,
    data_dir: Path,
    signer: DecisionSigner,
    audit_path: Path | None = None,
    task_queue: str = TASK_QUEUE,
    database: str | None = None,
    codec_origins: Sequence[str] = (),
) -> Starlette:
    """The API app: operator endpoints, the codec server when payloads are encrypted (CORS for `codec_origins`)
    and, with a `slack:` section, Slack interactivity. Every request ends in `Operations` (signed, answered,
    audited)."""
    db = Database.open(database_url(data_dir, database))
    audit = AuditLog(audit_path) if audit_path else AuditLog(db)  # the shared chain unless a file is asked for
    ops = Operations(temporal, signer, audit, task_queue=task_queue)
    operator = build_operator(settings, ops, db)
    codec = payload_codec(temporal)
    webhooks = build_webhooks(settings, ops, db, audit, task_queue=task_queue)
    slack = settings.slack
    if slack is None:
        return create_api_app(
            audit=audit, operator=operator, codec=codec, codec_origins=codec_origins, webhooks=webhooks
        )
    cards = SlackCards(slack.bot_token, base_url=slack.base_url, timeout=slack.timeout, max_retries=slack.max_retries)
    return create_api_app(
        slack_signing_secret=slack.signing_secret.resolve(),
        decide=temporal_decider(ops),
        answer=temporal_answerer(ops),
        directory=SlackDirectory.from_rbac(cards, settings.rbac, usergroups=slack.usergroups),
        audit=audit,
        cards=cards,
        operator=operator,
        replay=StoredReplayCache(db),  # a replay is refused after a restart and by every replica
        codec=codec,
        codec_origins=codec_origins,
        webhooks=webhooks,
    )


__all__ = ["KEY_FILE", "build_api", "build_operator", "build_webhooks", "payload_codec", "signer_for", "trusting"]
