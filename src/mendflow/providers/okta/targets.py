"""Okta's targeted reads: one object by its path (through the collector's `fetch`), or a policy's rules.

| target | requests |
|---|---|
| `/api/v1/users/{id}` | the user, its roles, its factors |
| `/api/v1/api-tokens/{id}` | the token, its owner's roles |
| `/api/v1/policies/{id}` · `/api/v1/policies/{id}/rules` | the policy · the policy and its rules |
| `/api/v1/groups/{id}` · `/api/v1/apps/{id}` | that object |
| `/api/v1/apps/{appId}/grants/{id}` | the app, the grant |
"""

from __future__ import annotations

import re

from mendflow.connectors.targeted import SEGMENT as _SEGMENT
from mendflow.connectors.targeted import TargetedRead, gone
from mendflow.models import Resource, ResourceRef
from mendflow.providers.model import Reader
from mendflow.providers.okta.collector import OktaCollector, _policy_summary
from mendflow.rules.demand import Demand


async def _okta_fetch(c: OktaCollector, m: re.Match[str], kind: str) -> TargetedRead:
    found = await c.fetch(ResourceRef(type=kind, id=m[0]))
    return TargetedRead([found]) if found is not None else gone(m[0])


async def _okta_rules(c: OktaCollector, m: re.Match[str], demand: Demand | None) -> TargetedRead:
    policy_path = m["policy"]
    policy = await c.http.get_optional(policy_path)
    if policy is None:
        return gone(policy_path)
    rules = await c._list(m[0], template="/api/v1/policies/{id}/rules")
    resources = [
        Resource(type="okta.policy_rule", id=f"{m[0]}/{r['id']}", data=r, related={"policy": _policy_summary(policy)})
        for r in rules or []
    ]
    return TargetedRead(resources, [] if rules is None else [m[0]])


def _okta(kind: str) -> Reader:
    async def read(c: OktaCollector, m: re.Match[str], demand: Demand | None) -> TargetedRead:
        # everything, whatever the demand: fetch by demand reads a user's factors with its roles, where a full scan
        # by demand may read the roles alone, so the resource would not be the full scan's
        return await _okta_fetch(c, m, kind)

    return read


OKTA_TARGETS: list[tuple[re.Pattern[str], Reader]] = [
    (re.compile(rf"/api/v1/users/{_SEGMENT}"), _okta("okta.user")),
    (re.compile(rf"/api/v1/api-tokens/{_SEGMENT}"), _okta("okta.api_token")),
    (re.compile(rf"/api/v1/groups/{_SEGMENT}"), _okta("okta.group")),
    (re.compile(rf"/api/v1/apps/{_SEGMENT}"), _okta("okta.app")),
    (re.compile(rf"/api/v1/apps/{_SEGMENT}/grants/{_SEGMENT}"), _okta("okta.oauth_grant")),
    (re.compile(rf"(?P<policy>/api/v1/policies/{_SEGMENT})"), _okta("okta.policy")),
    (re.compile(rf"(?P<policy>/api/v1/policies/{_SEGMENT})/rules"), _okta_rules),
]
