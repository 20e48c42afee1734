"""Webhook signatures and event mapping (pure): GitHub's published test vector, every mapped event, and
malformed payloads named by field."""

from __future__ import annotations

from typing import Any

import pytest

from mendflow.connectors.targeted import is_target
from mendflow.providers.github.webhooks import github_signature, github_targets, signature_matches, well_formed
from mendflow.providers.okta.webhooks import okta_targets
from mendflow.webhooks import PayloadError

REPO = {"name": "web", "full_name": "acme/web", "owner": {"login": "acme"}}
ORG = {"login": "acme"}


def test_github_signature_matches_the_published_test_vector() -> None:
    """GitHub's docs: secret "It's a Secret to Everybody", payload "Hello, World!"."""
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert github_signature("It's a Secret to Everybody", b"Hello, World!") == expected
    assert signature_matches("It's a Secret to Everybody", b"Hello, World!", expected)
    assert not signature_matches("another secret", b"Hello, World!", expected)
    assert well_formed(expected) and not well_formed("sha1=" + "0" * 40) and not well_formed("sha256=XYZ")


@pytest.mark.parametrize(
    ("event", "payload", "targets"),
    [
        ("repository", {"action": "edited", "repository": REPO, "organization": ORG}, ["/repos/acme/web"]),
        (
            "repository",
            {"action": "renamed", "repository": REPO, "changes": {"repository": {"name": {"from": "old"}}}},
            ["/repos/acme/web", "/repos/acme/old"],
        ),
        ("security_and_analysis", {"repository": REPO}, ["/repos/acme/web"]),
        ("branch_protection_rule", {"action": "deleted", "repository": REPO}, ["/repos/acme/web"]),
        ("repository_ruleset", {"action": "edited", "repository": REPO}, ["/repos/acme/web"]),
        ("repository_ruleset", {"action": "edited", "organization": ORG}, []),
        (
            "member",
            {"action": "added", "repository": REPO, "member": {"login": "eve"}},
            ["/repos/acme/web/collaborators"],
        ),
        (
            "organization",
            {"action": "member_added", "organization": ORG, "membership": {"user": {"login": "eve"}}},
            ["/orgs/acme/memberships/eve"],
        ),
        ("organization", {"action": "renamed", "organization": ORG}, ["/orgs/acme"]),
        (
            "membership",
            {"action": "added", "organization": ORG, "member": {"login": "eve"}},
            ["/orgs/acme/memberships/eve"],
        ),
        (
            "meta",
            {"action": "deleted", "hook": {"type": "Repository", "id": 1}, "repository": REPO},
            ["/repos/acme/web/hooks"],
        ),
        (
            "meta",
            {"action": "deleted", "hook": {"type": "Organization", "id": 1}, "organization": ORG},
            ["/orgs/acme/hooks"],
        ),
        ("deploy_key", {"action": "created", "repository": REPO, "key": {"id": 3}}, ["/repos/acme/web/keys"]),
        ("push", {"repository": REPO}, []),
    ],
)
def test_github_events_map_to_the_resources_they_are_about(
    event: str, payload: dict[str, Any], targets: list[str]
) -> None:
    """Each mapped event names paths a targeted rescan can read; others name none."""
    assert github_targets(event, payload) == targets
    assert all(is_target("github", t) for t in targets)


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"action": "edited"}, "repository"),
        ({"repository": {"name": "web"}}, "repository.owner"),
        ({"repository": {"name": "../x", "owner": {"login": "acme"}}}, "repository.name"),
        ({"repository": {"name": "a?b", "owner": {"login": "acme"}}}, "repository.name"),
    ],
)
def test_a_malformed_github_payload_names_the_field(payload: dict[str, Any], path: str) -> None:
    """A missing field, or one that is not a plain name (it becomes a path segment), is refused by name."""
    with pytest.raises(PayloadError) as caught:
        github_targets("repository", payload)
    assert caught.value.path == path


def _okta(*events: dict[str, Any]) -> dict[str, Any]:
    return {"eventType": "com.okta.event_hook", "eventId": "e1", "data": {"events": list(events)}}


def test_okta_events_map_to_users_policies_tokens_apps_and_groups() -> None:
    """User lifecycle/role/factor, policy, policy rule, API token, app and group events; others are skipped."""
    payload = _okta(
        {"eventType": "user.lifecycle.suspend", "target": [{"id": "00u1", "type": "User"}]},
        {"eventType": "user.account.privilege.grant", "target": [{"id": "00u2", "type": "User"}]},
        {"eventType": "user.mfa.factor.deactivate", "target": [{"id": "00u1", "type": "User"}]},
        {"eventType": "policy.lifecycle.update", "target": [{"id": "00p1", "type": "PolicyEntity"}]},
        {
            "eventType": "policy.rule.update",
            "target": [{"id": "0pr1", "type": "PolicyRule"}, {"id": "00p2", "type": "PolicyEntity"}],
        },
        {"eventType": "system.api_token.create", "target": [{"id": "00T1", "type": "Token"}]},
        {"eventType": "application.lifecycle.update", "target": [{"id": "0oa1", "type": "AppInstance"}]},
        {"eventType": "group.lifecycle.create", "target": [{"id": "00g1", "type": "UserGroup"}]},
        {"eventType": "user.session.start", "target": [{"id": "00u9", "type": "User"}]},
    )
    targets = okta_targets(payload)
    assert targets == [
        "/api/v1/users/00u1",
        "/api/v1/users/00u2",
        "/api/v1/policies/00p1",
        "/api/v1/policies/00p2/rules",
        "/api/v1/api-tokens/00T1",
        "/api/v1/apps/0oa1",
        "/api/v1/groups/00g1",
    ]
    assert all(is_target("okta", t) for t in targets)


def test_a_malformed_okta_payload_names_the_field() -> None:
    """No events list, or an event without a type, is refused by name."""
    with pytest.raises(PayloadError, match=r"data\.events"):
        okta_targets({"eventId": "e1"})
    with pytest.raises(PayloadError, match=r"data\.events\[0\]\.eventType"):
        okta_targets(_okta({"target": []}))
