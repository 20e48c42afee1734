"""The approval card: content for each state, buttons only while decidable, Block Kit limits, no secrets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mendflow.integrations.cards import (
    APPROVE_ACTION,
    DECIDABLE,
    REASON_BLOCK,
    REJECT_ACTION,
    CampaignCard,
    CardResource,
    CardState,
    Progress,
    Rollout,
    render_blocks,
    render_text,
)
from mendflow.models import Channel, Decision, Severity, Verdict
from mendflow.redaction import MASK, register_secret
from tests.plans import secret_scanning_plan

from .conftest import sample_card


def _buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def _mrkdwn(value: Any) -> list[str]:
    """The text of every mrkdwn object (plain_text is shown literally by Slack)."""
    if isinstance(value, dict):
        own = [value["text"]] if value.get("type") == "mrkdwn" else []
        return own + [t for v in value.values() for t in _mrkdwn(v)]
    if isinstance(value, list):
        return [t for v in value for t in _mrkdwn(v)]
    return []


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


@pytest.mark.parametrize("state", list(CardState))
def test_every_state_renders_a_labelled_card_with_buttons_only_when_decidable(state: CardState) -> None:
    """Each state has its own label; Approve/Reject (value = campaign id) and the reason box only while decidable."""
    card = sample_card(state=state, progress=Progress(total=3, changed=1, batch=2, batches=3))
    blocks = render_blocks(card)
    buttons = _buttons(blocks)
    if state in DECIDABLE:
        assert [b["action_id"] for b in buttons] == [APPROVE_ACTION, REJECT_ACTION]
        assert {b["value"] for b in buttons} == {"camp-1"}
        assert any(b.get("block_id") == REASON_BLOCK for b in blocks)
    else:
        assert buttons == []
        assert not any(b.get("block_id") == REASON_BLOCK for b in blocks)
    state_text = next(b for b in blocks if b.get("block_id") == "mendflow_state")["text"]["text"]
    assert card.state_label() in state_text.replace("&amp;", "&")
    assert card.state_label() in render_text(card)


def test_rolling_out_shows_batch_k_of_n_and_progress_counts() -> None:
    """`batch k of n` and the changed/verified/failed counts appear while rolling out."""
    card = sample_card(
        state=CardState.rolling_out, progress=Progress(total=3, changed=2, verified=2, batch=2, batches=3)
    )
    flat = json.dumps(render_blocks(card), ensure_ascii=False)
    assert "batch 2 of 3" in flat
    assert "changed 2/3 · verified 2 · failed 0" in flat


def test_card_carries_what_the_engineer_needs_at_3am() -> None:
    """Severity, tenant, risk, compliance, resources with links, before → after, plan, rollback, approvers."""
    card = sample_card()
    flat = json.dumps(render_blocks(card), ensure_ascii=False)
    for expected in (
        "HIGH",
        "github:acme",
        "7.5/10",
        "SOC2:CC6.7",
        "<https://github.com/acme/api/settings/hooks/1|/repos/acme/api/hooks/1>",
        'insecure_ssl: \\"1\\" → \\"0\\"',
        "canary 1, then 50%, 100%; no bake; stop after 0 failures",
        "`mendflow rollback camp-1`",
        "0 of 1 needed, from group:secops-oncall",
    ):
        assert expected in flat, expected


def test_decisions_so_far_show_who_what_where_when_and_why() -> None:
    """Each decision is a context line with verdict, channel, a Slack date (UTC fallback) and the reason."""
    at = datetime(2025, 3, 4, 3, 12, tzinfo=UTC)
    card = sample_card(
        required_approvals=2,
        decisions=(Decision(approver="alice", verdict=Verdict.approve, channel=Channel.slack, reason="ok", at=at),),
    )
    blocks = render_blocks(card)
    line = next(b for b in blocks if b.get("block_id") == "mendflow_decisions")["elements"][0]["text"]
    assert "*alice* approved via slack" in line
    assert f"<!date^{int(at.timestamp())}^" in line and "2025-03-04 03:12 UTC" in line
    assert "“ok”" in line
    assert "1 of 2 needed" in json.dumps(blocks)
    assert "alice approved via slack 2025-03-04 03:12 UTC — ok" in render_text(card)


def test_many_resources_are_truncated_with_a_count_of_the_rest() -> None:
    """Only the first few resources are listed, then `+N more`; many changed fields end in `+N more fields`."""
    resources = tuple(
        CardResource(
            id=f"/repos/acme/r{n}", before={f"f{i}": i for i in range(5)}, after={f"f{i}": -i for i in range(5)}
        )
        for n in range(40)
    )
    card = sample_card(resources=resources)
    changes = next(b for b in render_blocks(card) if b.get("block_id") == "mendflow_changes")["text"]["text"]
    assert "+35 more" in changes
    assert "+1 more fields" in changes
    assert changes.count("/repos/acme/r") == 5


def test_block_kit_limits_hold_for_huge_values() -> None:
    """Header ≤ 150, section text ≤ 3000, fields ≤ 10 × 2000, context ≤ 10 elements, button value = campaign id."""
    long = "x" * 10_000
    decisions = tuple(
        Decision(approver=f"p{n}", verdict=Verdict.reject, channel=Channel.cli, reason=long) for n in range(15)
    )
    card = sample_card(
        title=long,
        risk=long,
        compliance=tuple(long[:50] for _ in range(100)),
        note=long,
        decisions=decisions,
        resources=(CardResource(id="/x", before={"a": long}, after={"a": "b"}),),
    )
    blocks = render_blocks(card)
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
        if block["type"] == "context":
            assert len(block["elements"]) <= 10


def test_mrkdwn_control_characters_are_escaped() -> None:
    """`<`, `>` and `&` from data cannot forge links or mentions (`<!channel>`)."""
    card = sample_card(title="a", tenant="<!channel> & co", note="<https://evil.example|click>")
    mrkdwn = json.dumps(_mrkdwn(render_blocks(card)))
    assert "<!channel>" not in mrkdwn and "&lt;!channel&gt; &amp; co" in mrkdwn
    assert "<https://evil.example|click>" not in mrkdwn


def test_no_secret_reaches_any_text_of_the_card() -> None:
    """A registered canary secret in titles, values, reasons and notes is masked everywhere in blocks and text."""
    canary = "canary-S3CRET-value-0042"
    register_secret(canary)
    card = sample_card(
        title=f"title {canary}",
        note=canary,
        risk=canary,
        resources=(CardResource(id="/repos/acme/api/hooks/1", before={"secret": canary}, after={"url": canary}),),
        decisions=(Decision(approver="alice", verdict=Verdict.reject, channel=Channel.slack, reason=canary),),
        state=CardState.rejected,
    )
    blocks = render_blocks(card)
    text = render_text(card)
    assert canary not in json.dumps(blocks) and canary not in text
    assert MASK in text
    assert all(canary not in t for t in _texts(blocks))


def test_irreversible_actions_say_so_instead_of_promising_rollback() -> None:
    """A card for an action that cannot be undone does not offer `mendflow rollback`."""
    card = sample_card(reversible=False)
    assert "cannot be undone" in render_text(card)
    assert "mendflow rollback" not in render_text(card)


def test_card_from_a_campaign_plan() -> None:
    """`CampaignCard.from_plan` takes the workflow's plan: targets become before → after, policy becomes text."""
    plan = secret_scanning_plan(
        "camp-9",
        severity=Severity.critical,
        compliance=["SOC2:CC7.1"],
        required_approvals=2,
        bake=timedelta(minutes=10),
    )
    card = CampaignCard.from_plan(plan, resource_url=lambda ref: "https://github.com" + ref.id.removeprefix("/repos"))
    assert card.resources[0].url == "https://github.com/acme/api"
    assert card.rollout.describe() == "canary 1, then 100%; bake 10m; stop after 0 failures"
    assert card.required_approvals == 2 and card.decidable
    assert 'secret_scanning: "disabled" → "enabled"' in render_text(card)


def test_rollout_description_formats_durations() -> None:
    """Bake times read as 10m / 2h / 1d / 90s."""
    assert Rollout(bake=timedelta(minutes=10)).describe().endswith("bake 10m; stop after 0 failures")
    assert "bake 2h" in Rollout(bake=timedelta(hours=2)).describe()
    assert "bake 90s" in Rollout(bake=timedelta(seconds=90)).describe()
