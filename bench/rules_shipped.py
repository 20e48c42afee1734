"""The shipped playbooks over realistic GitHub and Okta resources: the CEL engine against hand-written Python
(`.venv/bin/python bench/rules_shipped.py [--baseline REV | --no-baseline]`; `bench/rules.py` runs it too).

Resources are what production evaluates: generated tenants (`mendflow.sim.generate`: a 300-repository GitHub
org and a 2,000-user Okta org, whose timestamps carry milliseconds) served on loopback by the simulators and read
by the production connectors. Each pass evaluates every shipped playbook on every resource of its type through
the engine's inner loop (`RuleSet.decider`) and through hand-written functions of the same conditions, timed
separately; the decisions (true, false or undecidable) must agree on every one. Passes repeat until about a
million rule evaluations; the parsed-timestamp cache (if the engine has one) is emptied before each pass, so no
pass profits from the one before.

The baseline is the engine as of another commit (`--baseline REV`, default BASELINE), loaded from git into a
private package and measured in the same run on the same resources, so before and after share the machine's
load. A playbook without a hand-written twin of its current condition below (new, or changed) is left out, by name.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mendflow.config import TenantConnection
from mendflow.connectors.registry import open_session
from mendflow.models import Resource
from mendflow.offline import collect
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.playbooks.model import Playbook
from mendflow.rules import compile_rules, timefmt
from mendflow.runtime.loopback import serve_in_thread
from mendflow.secrets import SecretRef
from mendflow.sim.generate import github_tenant, okta_tenant
from mendflow.sim.github import create_github_app
from mendflow.sim.okta import create_okta_app
from mendflow.tenant import parse_tenant

BASELINE = "73f7c7c892cb4c8be8360a5513e73d7e55e4f92a"
"""The engine before issue 14's speed work (the last commit that changed src/mendflow/rules before it)."""
EVALUATIONS = 1_000_000
AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
"""The generated tenants' `taken_at`."""
ERROR = "error"

_ts = datetime.fromisoformat
_HTTP = re.compile(r"(?i)^http://")
_D90, _D180 = timedelta(days=90), timedelta(days=180)

Function = Callable[[Any, Any, datetime], bool]


def _active(rulesets: Any) -> bool:
    return any(rs["enforcement"] == "active" for rs in rulesets)


def _ruleset_has(rulesets: Any, test: Callable[[Any], bool]) -> bool:
    return any(rs["enforcement"] == "active" and "rules" in rs and any(test(x) for x in rs["rules"]) for rs in rulesets)


def _force_push(r: Any, rel: Any, now: datetime) -> bool:
    protection, rulesets = rel["default_branch_protection"], rel["default_branch_rulesets"]
    if r["archived"] is not False or (protection is None and not _active(rulesets)):
        return False
    if _ruleset_has(rulesets, lambda x: x["type"] == "non_fast_forward"):
        return False
    return protection is None or protection["allow_force_pushes"]["enabled"] is True


def _approvals(r: Any, rel: Any, now: datetime) -> bool:
    protection, rulesets = rel["default_branch_protection"], rel["default_branch_rulesets"]
    if r["archived"] is not False or (protection is None and not _active(rulesets)):
        return False
    strong = _ruleset_has(
        rulesets, lambda x: x["type"] == "pull_request" and x["parameters"]["required_approving_review_count"] >= 2
    )
    if strong:
        return False
    return (
        protection is None
        or "required_pull_request_reviews" not in protection
        or protection["required_pull_request_reviews"]["required_approving_review_count"] < 2
    )


def _insecure_ssl(h: Any, rel: Any, now: datetime) -> bool:
    value = h["config"]["insecure_ssl"]  # a string or a number (GitHub's schema); string(1) and string(1.0) are "1"
    if value is True or value is False:
        return False
    if value.__class__ in (str, int, float):
        return bool(value == "1" or (value.__class__ is not str and value == 1))
    raise TypeError("no string() of this value")


def _without_secret(h: Any, rel: Any, now: datetime) -> bool:
    config = h["config"]
    return h["active"] is True and ("secret" not in config or config["secret"] is None or config["secret"] == "")


def _session(r: Any, rel: Any, now: datetime) -> bool:
    if (
        rel["policy"]["type"] != "OKTA_SIGN_ON"
        or r["status"] != "ACTIVE"
        or r["actions"]["signon"]["access"] != "ALLOW"
    ):
        return False
    s = r["actions"]["signon"]["session"]
    return bool(
        s["usePersistentCookie"] is True
        or s["maxSessionIdleMinutes"] > 15
        or s["maxSessionLifetimeMinutes"] == 0
        or s["maxSessionLifetimeMinutes"] > 1080
    )


def _password_weak(p: Any, rel: Any, now: datetime) -> bool:
    if p["type"] != "PASSWORD" or p["status"] != "ACTIVE":
        return False
    password = p["settings"]["password"]
    attempts = password["lockout"]["maxAttempts"]
    return bool(
        password["complexity"]["minLength"] < 15 or password["age"]["historyCount"] < 5 or attempts == 0 or attempts > 3
    )


_BROAD_PERMISSIONS = (
    "administration", "contents", "workflows", "secrets", "actions", "environments", "organization_administration",
    "members", "organization_hooks", "repository_hooks", "organization_secrets", "organization_self_hosted_runners",
    "organization_personal_access_tokens",
)  # fmt: skip
"""The playbooks' default parameters (the bench evaluates with them)."""
_ALLOWED_SCOPES = frozenset(
    {
        "openid", "profile", "email", "address", "phone", "offline_access", "okta.users.read", "okta.groups.read",
        "okta.apps.read", "okta.logs.read", "okta.policies.read", "okta.roles.read", "okta.schemas.read",
        "okta.userTypes.read", "okta.factors.read", "okta.authenticators.read", "okta.orgs.read",
    }
)  # fmt: skip
_ALLOWED_APPS: frozenset[str] = frozenset()


def _installation_broad(i: Any, rel: Any, now: datetime) -> bool:
    if i["suspended_at"] is not None or i["app_slug"] in _ALLOWED_APPS:
        return False
    if i["repository_selection"] == "all":
        return True
    permissions = i["permissions"]
    return any(p in permissions and permissions[p] in ("write", "admin") for p in _BROAD_PERMISSIONS)


HAND_WRITTEN: dict[str, tuple[str, Function]] = {
    "github.app_installation.broad_access": (
        "resource.suspended_at == null && !(resource.app_slug in params.allowed_apps) && (resource.repository_selec"
        'tion == "all" || params.broad_permissions.exists(p, p in resource.permissions && resource.permissions[p] in'
        ' ["write", "admin"]))',
        _installation_broad,
    ),
    "okta.oauth_grant.scope_beyond_baseline": (
        'related.app.status == "ACTIVE" && resource.status == "ACTIVE" && !(resource.scopeId in params.allowed_scopes)',
        lambda g, rel, now: (
            rel["app"]["status"] == "ACTIVE" and g["status"] == "ACTIVE" and g["scopeId"] not in _ALLOWED_SCOPES
        ),
    ),
    "github.collaborator.outside_admin": (
        "related.outside == true && resource.permissions.admin == true",
        lambda c, rel, now: rel["outside"] is True and c["permissions"]["admin"] is True,
    ),
    "github.deploy_key.stale": (
        'timestamp(resource.last_used != null ? resource.last_used : resource.created_at) < now - duration("2160h")',
        lambda k, rel, now: _ts(k["last_used"] if k["last_used"] is not None else k["created_at"]) < now - _D90,
    ),
    "github.deploy_key.write_access": ("resource.read_only == false", lambda k, rel, now: k["read_only"] is False),
    "github.member.two_factor_disabled": (
        "related.two_factor_disabled == true",
        lambda u, rel, now: rel["two_factor_disabled"] is True,
    ),
    "github.org.base_permission_not_strict": (
        'resource.default_repository_permission in ["write", "admin"]',
        lambda o, rel, now: o["default_repository_permission"] in ("write", "admin"),
    ),
    "github.org.members_can_create_public_repos": (
        "resource.members_can_create_public_repositories == true && (resource.members_can_create_repositories =="
        " true || resource.members_can_create_repositories == null)",
        lambda o, rel, now: (
            o["members_can_create_public_repositories"] is True
            and (o["members_can_create_repositories"] is True or o["members_can_create_repositories"] is None)
        ),
    ),
    "github.org.two_factor_not_required": (
        "resource.two_factor_requirement_enabled == false",
        lambda o, rel, now: o["two_factor_requirement_enabled"] is False,
    ),
    "github.outside_collaborator.two_factor_disabled": (
        "related.two_factor_disabled == true",
        lambda u, rel, now: rel["two_factor_disabled"] is True,
    ),
    "github.repo.default_branch_force_push_allowed": (
        "resource.archived == false && !(related.default_branch_protection == null && !related.default_branch_rulesets"
        '.exists(r, r.enforcement == "active")) && (related.default_branch_protection == null || related.default_'
        "branch_protection.allow_force_pushes.enabled == true) && !related.default_branch_rulesets.exists(r, r.enforc"
        'ement == "active" && has(r.rules) && r.rules.exists(x, x.type == "non_fast_forward"))',
        _force_push,
    ),
    "github.repo.default_branch_insufficient_approvals": (
        "resource.archived == false && !(related.default_branch_protection == null && !related.default_branch_rulesets"
        '.exists(r, r.enforcement == "active")) && (related.default_branch_protection == null || !has(related.defaul'
        "t_branch_protection.required_pull_request_reviews) || related.default_branch_protection.required_pull_reque"
        "st_reviews.required_approving_review_count < 2) && !related.default_branch_rulesets.exists(r, r.enforcement"
        ' == "active" && has(r.rules) && r.rules.exists(x, x.type == "pull_request" && x.parameters.required_approvi'
        "ng_review_count >= 2))",
        _approvals,
    ),
    "github.repo.default_branch_unprotected": (
        "resource.archived == false && related.default_branch_protection == null"
        ' && !related.default_branch_rulesets.exists(r, r.enforcement == "active")',
        lambda r, rel, now: (
            r["archived"] is False
            and rel["default_branch_protection"] is None
            and not _active(rel["default_branch_rulesets"])
        ),
    ),
    "github.repo.dependabot_security_updates_disabled": (
        'resource.archived == false && resource.security_and_analysis.dependabot_security_updates.status == "disabled"',
        lambda r, rel, now: (
            r["archived"] is False and r["security_and_analysis"]["dependabot_security_updates"]["status"] == "disabled"
        ),
    ),
    "github.repo.inactive_not_archived": (
        "resource.archived == false && timestamp(resource.pushed_at != null ? resource.pushed_at : resource.created_at)"
        ' < now - duration("4320h")',
        lambda r, rel, now: (
            r["archived"] is False
            and _ts(r["pushed_at"] if r["pushed_at"] is not None else r["created_at"]) < now - _D180
        ),
    ),
    "github.repo.push_protection_disabled": (
        "resource.archived == false"
        ' && resource.security_and_analysis.secret_scanning_push_protection.status == "disabled"',
        lambda r, rel, now: (
            r["archived"] is False
            and r["security_and_analysis"]["secret_scanning_push_protection"]["status"] == "disabled"
        ),
    ),
    "github.repo.secret_scanning_disabled": (
        'resource.archived == false && resource.security_and_analysis.secret_scanning.status == "disabled"',
        lambda r, rel, now: (
            r["archived"] is False and r["security_and_analysis"]["secret_scanning"]["status"] == "disabled"
        ),
    ),
    "github.repo_hook.insecure_ssl": ('string(resource.config.insecure_ssl) == "1"', _insecure_ssl),
    "github.repo_hook.plain_http_url": (
        'resource.active == true && resource.config.url.matches("(?i)^http://")',
        lambda h, rel, now: h["active"] is True and _HTTP.search(h["config"]["url"]) is not None,
    ),
    "github.repo_hook.without_secret": (
        "resource.active == true"
        ' && (!has(resource.config.secret) || resource.config.secret == null || resource.config.secret == "")',
        _without_secret,
    ),
    "okta.api_token.stale": (
        'timestamp(resource.created) < now - duration("4320h")',
        lambda t, rel, now: _ts(t["created"]) < now - _D180,
    ),
    "okta.api_token.unrestricted_network": (
        'resource.network.connection == "ANYWHERE"',
        lambda t, rel, now: t["network"]["connection"] == "ANYWHERE",
    ),
    "okta.policy.mfa_enrollment_not_required": (
        'resource.type == "MFA_ENROLL" && resource.status == "ACTIVE" && !resource.settings.authenticators.exists(a,'
        ' a.key in ["okta_verify", "webauthn"] && a.enroll.self == "REQUIRED")',
        lambda p, rel, now: (
            p["type"] == "MFA_ENROLL"
            and p["status"] == "ACTIVE"
            and not any(
                a["key"] in ("okta_verify", "webauthn") and a["enroll"]["self"] == "REQUIRED"
                for a in p["settings"]["authenticators"]
            )
        ),
    ),
    "okta.policy.password_weak": (
        'resource.type == "PASSWORD" && resource.status == "ACTIVE" && (resource.settings.password.complexity.minLen'
        "gth < 15 || resource.settings.password.age.historyCount < 5 || resource.settings.password.lockout.maxAttempt"
        "s == 0 || resource.settings.password.lockout.maxAttempts > 3)",
        _password_weak,
    ),
    "okta.policy_rule.admin_console_mfa": (
        'related.policy.type == "ACCESS_POLICY" && related.policy.name == "Okta Admin Console" && resource.status =='
        ' "ACTIVE" && resource.actions.appSignOn.access == "ALLOW" && resource.actions.appSignOn.verificationMethod.'
        'factorMode != "2FA"',
        lambda r, rel, now: (
            rel["policy"]["type"] == "ACCESS_POLICY"
            and rel["policy"]["name"] == "Okta Admin Console"
            and r["status"] == "ACTIVE"
            and r["actions"]["appSignOn"]["access"] == "ALLOW"
            and r["actions"]["appSignOn"]["verificationMethod"]["factorMode"] != "2FA"
        ),
    ),
    "okta.policy_rule.session_lifetime": (
        'related.policy.type == "OKTA_SIGN_ON" && resource.status == "ACTIVE" && resource.actions.signon.access == "'
        'ALLOW" && (resource.actions.signon.session.usePersistentCookie == true || resource.actions.signon.session.m'
        "axSessionIdleMinutes > 15 || resource.actions.signon.session.maxSessionLifetimeMinutes == 0 || resource.act"
        "ions.signon.session.maxSessionLifetimeMinutes > 1080)",
        _session,
    ),
    "okta.user.admin_without_mfa": (
        'resource.status == "ACTIVE" && size(related.roles) > 0 && !related.factors.exists(f, f.status == "ACTIVE")',
        lambda u, rel, now: (
            u["status"] == "ACTIVE"
            and len(rel["roles"]) > 0
            and not any(f["status"] == "ACTIVE" for f in rel["factors"])
        ),
    ),
    "okta.user.inactive": (
        'resource.status == "ACTIVE" && timestamp(resource.lastLogin != null ? resource.lastLogin : resource.created)'
        ' < now - duration("2160h")',
        lambda u, rel, now: (
            u["status"] == "ACTIVE" and _ts(u["lastLogin"] if u["lastLogin"] is not None else u["created"]) < now - _D90
        ),
    ),
    "okta.user.super_admin_direct": (
        'related.roles.exists(r, r.type == "SUPER_ADMIN" && r.assignmentType == "USER")',
        lambda u, rel, now: any(r["type"] == "SUPER_ADMIN" and r["assignmentType"] == "USER" for r in rel["roles"]),
    ),
}
"""Playbook id → (its condition, as this twin was written for; the condition in Python, written by hand)."""
HAND_WRITTEN["github.org_hook.insecure_ssl"] = HAND_WRITTEN["github.repo_hook.insecure_ssl"]
HAND_WRITTEN["github.org_hook.plain_http_url"] = HAND_WRITTEN["github.repo_hook.plain_http_url"]
HAND_WRITTEN["github.org_hook.without_secret"] = HAND_WRITTEN["github.repo_hook.without_secret"]


def _same(condition: str, written_for: str) -> bool:
    return re.sub(r"\s+", "", condition) == re.sub(r"\s+", "", written_for)


def shipped() -> tuple[list[Playbook], list[str]]:
    """The shipped playbooks that have a hand-written twin of their current condition, and the ids of the rest."""
    kept, left_out = [], []
    for playbook in load_playbooks([bundled_playbook_dir()]).playbooks:
        twin = HAND_WRITTEN.get(playbook.id)
        if twin is not None and _same(playbook.detect.when, twin[0]):
            kept.append(playbook)
        else:
            left_out.append(playbook.id)
    return kept, left_out


def resources() -> list[Resource]:
    """Every resource of a generated GitHub org and Okta org, as the production connectors read them."""
    found: list[Resource] = []
    tenants = (
        (github_tenant(repos=300, members=1_500), create_github_app),
        (okta_tenant(users=2_000), create_okta_app),
    )
    for document, make_app in tenants:
        tenant = parse_tenant(document, source="generated")
        token = secrets.token_urlsafe(24)
        with serve_in_thread(make_app(tenant, token=token, rate_limit=10**9)) as server:
            connection = TenantConnection(
                key=f"{tenant.provider}:{tenant.tenant}",
                provider=tenant.provider,
                tenant=tenant.tenant,
                base_url=server.base_url,
                token=SecretRef(ref="env:MENDFLOW_BENCH_UNUSED"),
            )

            async def read(connection: TenantConnection = connection, token: str = token) -> list[Resource]:
                async with open_session(connection, token=token) as session:
                    return (await collect(session))[0]

            found += asyncio.run(read())
    return found


@contextmanager
def baseline_compiler(rev: str) -> Iterator[Callable[[list[Playbook]], Any]]:
    """`compile_rules` of the engine at `rev`: src/mendflow/rules read from git into a private package."""
    root = Path(__file__).resolve().parents[1]
    listing = subprocess.run(
        ["git", "-C", str(root), "ls-tree", "-r", "--name-only", rev, "src/mendflow/rules"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    name = "mendflow_rules_baseline"
    with tempfile.TemporaryDirectory() as folder:
        package = Path(folder) / name
        package.mkdir()
        for path in listing:
            if path.endswith(".py"):
                text = subprocess.run(
                    ["git", "-C", str(root), "show", f"{rev}:{path}"], capture_output=True, text=True, check=True
                ).stdout
                (package / Path(path).name).write_text(re.sub(r"\bmendflow\.rules\b", name, text), encoding="utf-8")
        sys.path.insert(0, folder)
        try:
            yield importlib.import_module(f"{name}.engine").compile_rules
        finally:
            sys.path.remove(folder)
            for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                del sys.modules[module]


def _clear_cache(module: Any) -> None:
    clear = getattr(module, "clear_cache", None)
    if clear is not None:
        clear()


def _hand_written(functions: list[Function], data: Any, related: Any, now: datetime) -> list[Any]:
    decisions: list[Any] = []
    for function in functions:
        try:
            decisions.append(function(data, related, now))
        except Exception:  # a missing field or a wrong type: the rule could not be decided
            decisions.append(ERROR)
    return decisions


Engine = tuple[str, Any, Any]
"""(label, its RuleSet for the playbooks, its timefmt module)."""
HAND = "hand-written"


def measure(engines: list[Engine], playbooks: list[Playbook], items: list[Resource]) -> dict[str, dict[str, float]]:
    """Evaluations/s per side (each engine and the hand-written functions) and per provider (and `all`), over
    passes of `items`; within a pass the sides run one after another on each provider, so they share the load."""
    functions: dict[str, list[Function]] = {}
    for playbook in playbooks:
        functions.setdefault(playbook.resource, []).append(HAND_WRITTEN[playbook.id][1])
    deciders = {label: {kind: rules.decider(kind, AS_OF) for kind in functions} for label, rules, _ in engines}
    work: dict[str, list[tuple[str, Any, Any]]] = {}
    for r in items:
        if r.type in functions:
            work.setdefault(r.type.split(".")[0], []).append((r.type, r.data, r.related))
    per_pass = {provider: sum(len(functions[kind]) for kind, _, _ in part) for provider, part in work.items()}
    sides = [label for label, _, _ in engines] + [HAND]
    seconds = {side: dict.fromkeys(work, 0.0) for side in sides}
    passes = -(-EVALUATIONS // sum(per_pass.values()))
    for _ in range(passes):
        for provider, part in work.items():
            gc.collect()
            started = time.perf_counter()
            python = [_hand_written(functions[kind], data, related, AS_OF) for kind, data, related in part]
            seconds[HAND][provider] += time.perf_counter() - started
            for label, _, module in engines:
                _clear_cache(module)
                decide = deciders[label]
                gc.collect()
                started = time.perf_counter()
                engine = [decide[kind](data, related) for kind, data, related in part]
                seconds[label][provider] += time.perf_counter() - started
                _agree(playbooks, part, engine, python)
    rates: dict[str, dict[str, float]] = {}
    for side in sides:
        rates[side] = {provider: per_pass[provider] * passes / seconds[side][provider] for provider in work}
        rates[side]["all"] = sum(per_pass.values()) * passes / sum(seconds[side].values())
    return rates


def _agree(playbooks: list[Playbook], part: list[tuple[str, Any, Any]], engine: list[Any], python: list[Any]) -> None:
    for (kind, data, _), ours, theirs in zip(part, engine, python, strict=True):
        normalised = [d if d is True or d is False else ERROR for d in ours]
        if normalised != theirs:
            names = [p.id for p in playbooks if p.resource == kind]
            diff = {n: (a, b) for n, a, b in zip(names, normalised, theirs, strict=True) if a != b}
            raise AssertionError(f"engine and hand-written Python disagree on {kind} {data.get('id')}: {diff}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--baseline", default=BASELINE, metavar="REV", help="git revision of the engine to compare")
    parser.add_argument("--no-baseline", action="store_true", help="measure the current engine only")
    args = parser.parse_args(argv)
    playbooks, left_out = shipped()
    items = resources()
    kinds = {p.resource for p in playbooks}
    print(
        f"shipped playbooks: {len(playbooks)} playbooks over {sum(r.type in kinds for r in items):,} generated GitHub"
        f" and Okta resources (read through the connectors), passes up to ~{EVALUATIONS:,} rule-evaluations"
    )
    if left_out:
        print(f"  left out (no hand-written twin of their current condition): {', '.join(left_out)}")
    engines: list[Engine] = [("this tree", compile_rules(playbooks), timefmt)]
    with ExitStack() as stack:
        if not args.no_baseline:
            try:
                baseline = stack.enter_context(baseline_compiler(args.baseline))
            except (subprocess.CalledProcessError, OSError, ImportError) as err:
                print(f"  baseline {args.baseline[:12]}: unavailable ({err})")
            else:
                module = sys.modules["mendflow_rules_baseline.timefmt"]
                engines.insert(0, (f"at {args.baseline[:12]}", baseline(playbooks), module))
        rates = measure(engines, playbooks, items)
    per_pass = sum(1 for r in items if r.type in kinds)
    print(f"  rule-evaluations/s (engines and hand-written agree on every decision; {per_pass:,} resources a pass):")
    providers = list(rates[HAND])
    print("    " + f"{'':<30}" + "".join(f"{p:>12}" for p in providers))
    for side, by_provider in rates.items():
        name = HAND if side == HAND else f"engine {side}"
        print("    " + f"{name:<30}" + "".join(f"{by_provider[p]:>12,.0f}" for p in providers))
    for label, _, _ in engines:
        ratios = "".join(f"{rates[label][p] / rates[HAND][p]:>12.2f}" for p in providers)
        print("    " + f"{'engine ' + label + ' / hand':<30}" + ratios)
    if len(engines) == 2:
        speedups = "".join(f"{rates[engines[1][0]][p] / rates[engines[0][0]][p]:>12.2f}" for p in providers)
        print("    " + f"{'this tree / baseline':<30}" + speedups)


if __name__ == "__main__":
    main()
