"""The Slack replay cache in the shared database: a replay is refused after an API restart and by another replica."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import httpx

from mendflow.api.app import create_api_app
from mendflow.audit import AuditLog
from mendflow.integrations.slack import SlackCards, SlackDirectory
from mendflow.sim.slack import SlackWorkspace
from mendflow.store import Database, StoredReplayCache
from tests.integrations.conftest import ALICE, Gate, sample_card, serve_here


def test_a_key_is_new_once_until_it_expires(db: Database) -> None:
    """first_time is True once; again False until the key's expiry passes, then True again."""
    now = [1000.0]
    seen = StoredReplayCache(db, clock=lambda: now[0])
    assert seen.first_time("k", 1300.0) and not seen.first_time("k", 1300.0)
    assert not StoredReplayCache(db, clock=lambda: now[0]).first_time("k", 1300.0)  # another process, same answer
    now[0] = 1301.0
    assert seen.first_time("k", 1601.0)


async def test_a_replay_is_refused_after_a_restart_and_by_another_replica(
    database_url: str, slack: SlackWorkspace, cards: SlackCards, directory: SlackDirectory, gate: Gate
) -> None:
    """One signed click: accepted by replica A; refused by A restarted and by replica B (same database)."""
    await cards.post("#sec-remediation", sample_card())
    body = urlencode({"payload": json.dumps(slack.build_click(user=ALICE, campaign_id="camp-1"))}).encode()
    headers = slack.signed(body)
    statuses = []
    databases = []
    for _replica in ("A", "A restarted", "B"):
        db = Database.open(database_url)  # each replica (or restart) builds its own engine and cache object
        databases.append(db)
        app = create_api_app(
            slack_signing_secret=slack.signing_secret,
            decide=gate,
            directory=directory,
            audit=AuditLog(db),
            cards=cards,
            replay=StoredReplayCache(db),
        )
        async with serve_here(app) as server, httpx.AsyncClient(timeout=5) as client:
            response = await client.post(f"{server.base_url}/slack/interactivity", content=body, headers=headers)
            statuses.append(response.status_code)
            await app.state.slack.drain()
    assert statuses == [200, 401, 401]
    assert len(gate.decisions) == 1
    refusals = [r for r in AuditLog(databases[0]).records() if r["outcome"] == "refused"]
    assert len(refusals) == 2 and all("replayed" in r["reason"] for r in refusals)
    assert AuditLog(databases[0]).verify() >= 3
    for db in databases:
        db.dispose()


def test_expired_keys_are_pruned(db: Database) -> None:
    """Keys whose signatures can no longer be accepted are deleted as new ones arrive."""
    import sqlalchemy as sa

    from mendflow.store.schema import replay_cache

    now = [time.time()]
    seen = StoredReplayCache(db, clock=lambda: now[0])
    for n in range(5):
        seen.first_time(f"old{n}", now[0] + 300)
    now[0] += 10_000
    StoredReplayCache(db, clock=lambda: now[0]).first_time("new", now[0] + 300)
    with db.read() as conn:
        assert list(conn.execute(sa.select(replay_cache.c.key)).scalars()) == ["new"]
