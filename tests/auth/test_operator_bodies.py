"""Operator API bodies: too large, not JSON or the wrong shape is a 400 naming the problem, before Temporal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mendflow.api.assemble import build_api
from mendflow.api.operator import MAX_BODY
from mendflow.auth.signing import DecisionSigner
from mendflow.auth.tokens import Role, StoredTokens
from mendflow.rbac import Person, RbacConfig
from mendflow.runtime.client import TemporalSettings
from mendflow.runtime.loopback import serve_in_thread
from mendflow.settings import Settings
from mendflow.store import Database, database_url


@pytest.fixture
def approve(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The approve URL of the real API on loopback (no Temporal behind it) and an approver's headers."""
    db = Database.open(database_url(tmp_path))
    settings = Settings(rbac=RbacConfig(people={"alice": Person(groups=("secops-oncall",))}))
    signer = DecisionSigner(Ed25519PrivateKey.generate())
    app = build_api(settings, TemporalSettings(address="127.0.0.1:1"), data_dir=tmp_path, signer=signer)
    secret, _ = StoredTokens(db).create(person="alice", role=Role.approver, name="t", ttl_seconds=3600)
    with serve_in_thread(app) as server:
        yield f"{server.base_url}/v1/campaigns/remediate/x/approve", {"Authorization": f"Bearer {secret}"}
    db.dispose()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"reason": "' + b"x" * MAX_BODY + b'"}', f"body larger than {MAX_BODY} bytes"),
        (b"\xff\xfe", "body is not UTF-8"),
        (b"{not json", "body is not JSON"),
        (b"[1, 2]", "body must be a JSON object"),
        (b'{"reason": "r", "as": "eve"}', "as: "),
    ],
)
def test_a_bad_body_is_a_400_naming_the_problem(
    approve: tuple[str, dict[str, str]], content: bytes, problem: str
) -> None:
    """Each bad body is refused with 400 and says what was wrong (the API never reaches Temporal)."""
    url, headers = approve
    answer = httpx.post(url, content=content, headers=headers | {"Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].startswith(problem), answer.text


def test_a_streamed_body_past_the_limit_is_refused(approve: tuple[str, dict[str, str]]) -> None:
    """Without a Content-Length the body is still read no further than the limit."""
    url, headers = approve

    def chunks() -> Iterator[bytes]:
        yield b'{"reason": "'
        for _ in range(MAX_BODY // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    answer = httpx.post(url, content=chunks(), headers=headers, timeout=30)
    assert answer.status_code == 400 and f"body larger than {MAX_BODY} bytes" in answer.json()["error"], answer.text
