"""Deterministic tenants, vendor-shaped: the demo Okta org and large orgs for scale tests and benchmarks.

`okta_tenant(users=20_000)` and `github_tenant(repos=300, members=1_500)` build tenant-file documents from a seed,
so the same arguments always give the same tenant. GitHub objects are cloned from the shipped demo org (renamed),
Okta objects are built here field by field in the shapes Okta's API returns.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from mendflow.data import demo_tenant_path
from mendflow.providers.github.installations import org_account
from mendflow.sim.okta_apps import complete_app

JSON = dict[str, Any]
EPOCH = "2026-11-20T00:00:00.000Z"


# ---- Okta -------------------------------------------------------------------------------------------------------
def okta_id(prefix: str, n: int) -> str:
    """Okta-style 20-character ids: `00u` users, `00g` groups, `00p` policies, `0pr` rules, `0oa` apps, `00T` …"""
    return f"{prefix}{n:0{20 - len(prefix) - 3}d}sim"


def okta_user(host: str, n: int, *, status: str = "ACTIVE", created: str, last_login: str | None) -> JSON:
    uid = okta_id("00u", n)
    login = f"user{n}@{host.split('.')[0]}.example"
    changed = last_login or created
    return {
        "id": uid, "status": status, "created": created, "activated": created, "statusChanged": changed,
        "lastLogin": last_login, "lastUpdated": changed, "passwordChanged": created,
        "type": {"id": "oty1simdefault000000"},
        "profile": {"firstName": "User", "lastName": str(n), "mobilePhone": None, "secondEmail": None,
                    "login": login, "email": login},
        "credentials": {"password": {}, "provider": {"type": "OKTA", "name": "OKTA"}},
        "_links": {"self": {"href": f"https://{host}/api/v1/users/{uid}"}},
    }  # fmt: skip


def okta_factor(host: str, uid: str, n: int, kind: str, *, status: str = "ACTIVE") -> JSON:
    fid = okta_id({"push": "opf", "sms": "mbl", "webauthn": "fwf", "token:software:totp": "ost"}[kind], n)
    provider = {"push": "OKTA", "sms": "OKTA", "webauthn": "FIDO", "token:software:totp": "GOOGLE"}[kind]
    return {
        "id": fid, "factorType": kind, "provider": provider, "vendorName": provider, "status": status,
        "created": "2025-02-01T10:00:00.000Z", "lastUpdated": "2025-02-01T10:00:00.000Z", "profile": {},
        "_links": {"self": {"href": f"https://{host}/api/v1/users/{uid}/factors/{fid}"}},
    }  # fmt: skip


ROLE_LABELS = {"SUPER_ADMIN": "Super Administrator", "ORG_ADMIN": "Organizational Administrator",
               "APP_ADMIN": "Application Administrator", "READ_ONLY_ADMIN": "Read Only Administrator"}  # fmt: skip


def okta_role(host: str, uid: str, n: int, kind: str, *, assignment: str = "USER") -> JSON:
    rid = okta_id("ra1", n)
    return {
        "id": rid, "label": ROLE_LABELS[kind], "type": kind, "status": "ACTIVE", "assignmentType": assignment,
        "created": "2024-06-01T09:00:00.000Z", "lastUpdated": "2024-06-01T09:00:00.000Z",
        "_links": {"assignee": {"href": f"https://{host}/api/v1/users/{uid}"}},
    }  # fmt: skip


def okta_group(host: str, n: int, name: str, kind: str = "OKTA_GROUP") -> JSON:
    gid = okta_id("00g", n)
    return {
        "id": gid, "created": "2024-01-05T08:00:00.000Z", "lastUpdated": "2024-01-05T08:00:00.000Z",
        "lastMembershipUpdated": "2026-10-01T08:00:00.000Z", "objectClass": ["okta:user_group"], "type": kind,
        "profile": {"name": name, "description": f"{name} team"},
        "_links": {"self": {"href": f"https://{host}/api/v1/groups/{gid}"}},
    }  # fmt: skip


def okta_app(host: str, n: int, name: str, label: str, mode: str, *, status: str = "ACTIVE") -> JSON:
    aid = okta_id("0oa", n)
    return {
        "id": aid, "name": name, "label": label, "status": status, "signOnMode": mode,
        "created": "2024-03-01T12:00:00.000Z", "lastUpdated": "2026-09-01T12:00:00.000Z", "features": [],
        "accessibility": {"selfService": False},
        "visibility": {"autoSubmitToolbar": False, "hide": {"iOS": False, "web": False}, "appLinks": {}},
        "_links": {"self": {"href": f"https://{host}/api/v1/apps/{aid}"},
                   "accessPolicy": {"href": f"https://{host}/api/v1/policies/{okta_id('rst', n)}"}},
    }  # fmt: skip


def okta_token(host: str, n: int, name: str, owner: str, *, created: str, connection: str = "ANYWHERE") -> JSON:
    # No `tokenWindow`: the spec's TimeDuration pattern (`^P(?:$)…`) rejects every real ISO-8601 duration.
    tid = okta_id("00T", n)
    network: JSON = {"connection": connection}
    if connection == "ZONE":
        network["include"] = ["nzo1simcorporate0000"]
    return {
        "id": tid, "name": name, "clientName": "Okta API", "userId": owner, "created": created,
        "lastUpdated": created, "expiresAt": "2027-06-01T00:00:00.000Z", "network": network,
        "_link": {"self": {"href": f"https://{host}/api/v1/api-tokens/{tid}"}},
    }  # fmt: skip


def _policy(host: str, pid: str, kind: str, name: str, settings: JSON | None, rules: list[JSON], **extra: Any) -> JSON:
    policy: JSON = {
        "id": pid, "type": kind, "name": name, "description": f"{name} ({kind})", "status": "ACTIVE",
        "priority": 1, "system": extra.pop("system", False), "created": "2024-01-02T00:00:00.000Z",
        "lastUpdated": "2026-08-01T00:00:00.000Z", "conditions": extra.pop("conditions", None),
        "_links": {"self": {"href": f"https://{host}/api/v1/policies/{pid}"},
                   "rules": {"href": f"https://{host}/api/v1/policies/{pid}/rules"}},
        "_rules": rules,
    }  # fmt: skip
    if settings is not None:
        policy["settings"] = settings
    return policy


def _rule(host: str, pid: str, rid: str, kind: str, name: str, actions: JSON, *, priority: int = 1) -> JSON:
    return {
        "id": rid, "type": kind, "name": name, "status": "ACTIVE", "priority": priority, "system": False,
        "created": "2024-01-02T00:00:00.000Z", "lastUpdated": "2026-08-01T00:00:00.000Z",
        "conditions": {"people": {"users": {"exclude": []}}, "network": {"connection": "ANYWHERE"}},
        "actions": actions,
        "_links": {"self": {"href": f"https://{host}/api/v1/policies/{pid}/rules/{rid}"}},
    }  # fmt: skip


def okta_policies(host: str) -> list[JSON]:
    """One policy of each scanned type, each with a misconfiguration a playbook finds."""
    pw, so, mfa, admin = (okta_id("00p", n) for n in (1, 2, 3, 4))
    password = {
        "password": {
            "complexity": {"minLength": 8, "minLowerCase": 1, "minUpperCase": 1, "minNumber": 1, "minSymbol": 0,
                           "excludeUsername": True, "excludeAttributes": [],
                           "dictionary": {"common": {"exclude": False}}},
            "age": {"maxAgeDays": 0, "expireWarnDays": 0, "minAgeMinutes": 0, "historyCount": 0},
            "lockout": {"maxAttempts": 10, "autoUnlockMinutes": 0, "showLockoutFailures": False},
        },
        "recovery": {"factors": {"okta_email": {"status": "ACTIVE"}}},
        "delegation": {"options": {"skipUnlock": False}},
    }  # fmt: skip
    session = {"maxSessionIdleMinutes": 120, "maxSessionLifetimeMinutes": 0, "usePersistentCookie": True}
    enroll = {"type": "AUTHENTICATORS", "authenticators": [
        {"key": "okta_password", "enroll": {"self": "REQUIRED"}},
        {"key": "okta_verify", "enroll": {"self": "OPTIONAL"}},
        {"key": "webauthn", "enroll": {"self": "NOT_ALLOWED"}},
    ]}  # fmt: skip
    app_sign_on = {"appSignOn": {"access": "ALLOW", "verificationMethod": {
        "type": "ASSURANCE", "factorMode": "1FA", "reauthenticateIn": "PT12H", "constraints": []}}}  # fmt: skip
    return [
        _policy(host, pw, "PASSWORD", "Default Policy", password, [
            _rule(host, pw, okta_id("0pr", 1), "PASSWORD", "Default Rule",
                  {"passwordChange": {"access": "ALLOW"}, "selfServicePasswordReset": {"access": "ALLOW"},
                   "selfServiceUnlock": {"access": "DENY"}})], system=True),
        _policy(host, so, "OKTA_SIGN_ON", "Default Policy", None, [
            _rule(host, so, okta_id("0pr", 2), "SIGN_ON", "Corporate sessions",
                  {"signon": {"access": "ALLOW", "requireFactor": False, "session": session}}),
            _rule(host, so, okta_id("0pr", 3), "SIGN_ON", "Default Rule",
                  {"signon": {"access": "ALLOW", "requireFactor": False, "session": {
                      "maxSessionIdleMinutes": 15, "maxSessionLifetimeMinutes": 720, "usePersistentCookie": False}}},
                  priority=2)], system=True),
        _policy(host, mfa, "MFA_ENROLL", "Default Policy", enroll, [
            _rule(host, mfa, okta_id("0pr", 4), "MFA_ENROLL", "Default Rule", {"enroll": {"self": "CHALLENGE"}})],
            system=True),
        _policy(host, admin, "ACCESS_POLICY", "Okta Admin Console", None, [
            _rule(host, admin, okta_id("0pr", 5), "ACCESS_POLICY", "Admin Console access", app_sign_on)]),
    ]  # fmt: skip


def okta_tenant(*, users: int = 20_000, seed: int = 7, host: str = "bigcorp.okta.com") -> JSON:
    """A large Okta org: `users` users (about 1 in 10 inactive, 1 in 12 without factors), 25 admins, 50 apps (6
    of them OAuth clients holding two or three Okta API scope grants each)."""
    rng = random.Random(seed)
    apps = [_generated_app(host, n) for n in range(1, 51)]
    people: list[JSON] = []
    factors: dict[str, list[JSON]] = {}
    roles: dict[str, list[JSON]] = {}
    kinds = ("push", "webauthn", "sms", "token:software:totp")
    for n in range(1, users + 1):
        created = f"20{rng.randint(21, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T09:00:00.000Z"
        roll = rng.random()
        if roll < 0.02:
            status, last = "STAGED", None
        elif roll < 0.04:
            status, last = "SUSPENDED", "2026-01-15T10:00:00.000Z"
        elif roll < 0.13:
            status, last = "ACTIVE", f"2026-0{rng.randint(1, 6)}-{rng.randint(10, 28)}T10:00:00.000Z"
        else:
            status, last = "ACTIVE", f"2026-11-{rng.randint(1, 19):02d}T{rng.randint(10, 23)}:00:00.000Z"
        user = okta_user(host, n, status=status, created=created, last_login=last)
        people.append(user)
        if rng.random() > 0.08:
            factors[user["id"]] = [
                okta_factor(host, user["id"], n * 4 + i, kind) for i, kind in enumerate(rng.sample(kinds, 2))
            ]
        if n % (users // 25 or 1) == 0:
            kind = ("SUPER_ADMIN", "ORG_ADMIN", "APP_ADMIN", "READ_ONLY_ADMIN")[n % 4]
            roles[user["id"]] = [okta_role(host, user["id"], n, kind)]
    return {
        "format": "mendflow.tenant/v1",
        "provider": "okta",
        "tenant": host,
        "taken_at": "2026-11-20T00:00:00Z",
        "okta": {
            "users": people,
            "user_roles": roles,
            "user_factors": factors,
            "groups": [okta_group(host, n, f"team-{n}") for n in range(1, 201)],
            "policies": okta_policies(host),
            "api_tokens": [
                okta_token(host, n, f"integration-{n}", people[n]["id"], created=f"2025-0{n % 9 + 1}-01T00:00:00.000Z")
                for n in range(1, 11)
            ],
            "apps": apps,
            "grants": _generated_grants(host, apps),
        },
    }


# Mostly SAML, as in most orgs, with every other sign-on mode present: OIDC and basic-auth apps need `settings`
# and `credentials` that SAML apps do not, so a tenant of only SAML apps hides a simulator that omits them.
_OTHER_MODES = {5: "OPENID_CONNECT", 7: "BASIC_AUTH", 11: "BOOKMARK", 13: "BROWSER_PLUGIN", 17: "SECURE_PASSWORD_STORE",
                19: "WS_FEDERATION", 23: "AUTO_LOGIN", 29: "SAML_1_1"}  # fmt: skip


def _generated_app(host: str, n: int) -> JSON:
    """App `n` of a generated org, vendor-complete for its sign-on mode (so offline scans see what Okta serves)."""
    mode = next((m for every, m in _OTHER_MODES.items() if n % every == 0 and n // every == 1), None)
    if mode is None and n % 5 == 0:
        mode = "OPENID_CONNECT" if n % 10 == 0 else "BASIC_AUTH"
    app = okta_app(host, n, f"app_{n}", f"App {n}", mode or "SAML_2_0")
    if mode not in (None, "AUTO_LOGIN"):
        del app["name"]  # Okta names these by their template (`oidc_client`, `template_basic_auth`, …)
    return complete_app(app)


_GRANTED = (("okta.users.read", "okta.groups.read"), ("okta.users.read", "okta.users.manage"),
            ("okta.apps.read", "okta.apps.manage", "okta.logs.read"))  # fmt: skip


def okta_grant(host: str, n: int, app_id: str, scope: str, *, created: str = "2025-04-01T08:00:00.000Z") -> JSON:
    """An admin-consented Okta API scope grant of OAuth app `app_id` (`GET /api/v1/apps/{appId}/grants`)."""
    gid = okta_id("oag", n)
    return {
        "id": gid, "status": "ACTIVE", "issuer": f"https://{host}", "scopeId": scope, "clientId": app_id,
        "source": "ADMIN", "created": created, "lastUpdated": created,
        "createdBy": {"id": okta_id("00u", 1), "type": "User"},
        "_embedded": {"scope": {"id": scope}},
        "_links": {"self": {"href": f"https://{host}/api/v1/apps/{app_id}/grants/{gid}"},
                   "app": {"href": f"https://{host}/api/v1/apps/{app_id}"}},
    }  # fmt: skip


def _generated_grants(host: str, apps: list[JSON]) -> list[JSON]:
    """Scope grants of the generated OAuth apps: read-only for some, manage scopes for others."""
    grants: list[JSON] = []
    oauth = [app for app in apps if app.get("signOnMode") == "OPENID_CONNECT"]
    for index, app in enumerate(oauth):
        for scope in _GRANTED[index % len(_GRANTED)]:
            grants.append(okta_grant(host, len(grants) + 1, app["id"], scope))
    return grants


# ---- GitHub -----------------------------------------------------------------------------------------------------
def github_installation(org: str, n: int, slug: str, selection: str, permissions: dict[str, str]) -> JSON:
    """GitHub App installation `n` on `org`, as `GET /orgs/{org}/installations` lists it."""
    iid = 40_000_000 + n
    return {
        "id": iid, "client_id": f"Iv1.sim{n:010d}", "app_id": 900_000 + n, "app_slug": slug,
        "target_id": 1, "target_type": "Organization", "repository_selection": selection,
        "account": org_account(org, 1),
        "access_tokens_url": f"https://api.github.com/app/installations/{iid}/access_tokens",
        "repositories_url": "https://api.github.com/installation/repositories",
        "html_url": f"https://github.com/organizations/{org}/settings/installations/{iid}",
        "permissions": permissions, "events": ["push", "pull_request"] if "contents" in permissions else [],
        "created_at": "2025-03-01T10:00:00Z", "updated_at": "2026-06-01T10:00:00Z",
        "single_file_name": None, "has_multiple_single_files": False, "single_file_paths": [],
        "suspended_by": None, "suspended_at": None,
    }  # fmt: skip


def github_installations(org: str) -> list[JSON]:
    """A few apps of a generated org: a narrow one, one on every repository, one writing code and workflows."""
    return [
        github_installation(org, 1, "issue-labeler", "selected", {"metadata": "read", "issues": "write"}),
        github_installation(org, 2, "security-scanner", "all", {"metadata": "read", "security_events": "write"}),
        github_installation(org, 3, "release-bot", "selected",
                            {"metadata": "read", "contents": "write", "workflows": "write"}),
    ]  # fmt: skip


def _renamed(template: JSON, old: str, new: str) -> JSON:
    text = json.dumps(template).replace(f'"{old}"', f'"{new}"').replace(f"/{old}", f"/{new}")
    out: JSON = json.loads(text)
    return out


def github_tenant(*, repos: int = 300, members: int = 1_500, seed: int = 7) -> JSON:
    """A large GitHub org `acme`: the demo org's objects cloned into `repos` repositories and `members` members."""
    rng = random.Random(seed)
    demo = json.loads(demo_tenant_path().read_text(encoding="utf-8"))
    section = demo["github"]
    member_template = section["members"][0]
    people = []
    for n in range(members):
        login = f"dev{n:04d}"
        user = _renamed(member_template, member_template["login"], login)
        user.update(id=200_000 + n, node_id=f"U_sim{200_000 + n}")
        people.append(user)
    owner = next(iter(section["memberships"]))
    admins = {p["login"]: _renamed(section["memberships"][owner], owner, p["login"]) for p in people[:10]}
    for person, membership in zip(people, admins.values(), strict=False):
        membership.update(role="admin", user=copy.deepcopy(person))  # the member's own user, as GitHub answers
    out_repos = []
    for n in range(repos):
        template = section["repos"][n % len(section["repos"])]
        name = f"svc-{n:03d}"
        repo = _renamed(template, f"acme/{template['name']}", f"acme/{name}")
        repo.update(name=name, full_name=f"acme/{name}", id=500_000 + n, node_id=f"R_sim{500_000 + n}")
        for i, hook in enumerate(repo["_hooks"]):
            hook["id"] = 1_000_000 + n * 10 + i
        for i, key in enumerate(repo["_keys"]):
            key["id"] = 2_000_000 + n * 10 + i
            key["key"] = f"ssh-ed25519 AAAAsim{n:04d}{i}"
        if rng.random() < 0.3:
            repo["archived"] = False
        out_repos.append(repo)
    section = copy.deepcopy(section)
    section.update(
        members=people,
        members_2fa_disabled=[p["login"] for p in people if rng.random() < 0.05],
        memberships=admins,
        repos=out_repos,
        installations=github_installations(section["org"]["login"]),
    )
    return {**demo, "github": section}


def okta_demo(host: str = "acme.okta.com") -> JSON:
    """The demo Okta org (`src/mendflow/data/demo-okta.json`), seeded with one misconfiguration per playbook."""
    recent, stale = "2026-11-18T09:30:00.000Z", "2026-05-02T08:00:00.000Z"
    specs = [  # n, status, created, lastLogin, factor kinds, role (kind, assignment) or None
        (1, "ACTIVE", "2023-02-01T09:00:00.000Z", recent, ("push", "webauthn"), ("SUPER_ADMIN", "USER")),
        (2, "ACTIVE", "2023-03-01T09:00:00.000Z", stale, ("push",), None),
        (3, "ACTIVE", "2026-03-01T09:00:00.000Z", None, (), None),
        (4, "ACTIVE", "2024-01-10T09:00:00.000Z", recent, (), ("ORG_ADMIN", "USER")),
        (5, "ACTIVE", "2024-02-10T09:00:00.000Z", recent, ("sms",), ("SUPER_ADMIN", "GROUP")),
        (6, "SUSPENDED", "2023-05-01T09:00:00.000Z", "2025-12-01T09:00:00.000Z", ("push",), None),
        (7, "DEPROVISIONED", "2022-05-01T09:00:00.000Z", "2024-12-01T09:00:00.000Z", (), None),
        (8, "ACTIVE", "2025-06-01T09:00:00.000Z", recent, ("token:software:totp",), None),
        (9, "ACTIVE", "2022-09-01T09:00:00.000Z", recent, ("webauthn",), ("SUPER_ADMIN", "USER")),
    ]
    names = {1: "alice", 2: "bob", 3: "carol", 4: "dave", 5: "erin", 6: "frank", 7: "grace", 8: "heidi", 9: "ivan"}
    users, factors, roles = [], {}, {}
    for n, status, created, last, kinds, role in specs:
        user = okta_user(host, n, status=status, created=created, last_login=last)
        login = f"{names[n]}@acme.example"
        user["profile"].update(firstName=names[n].title(), lastName="Example", login=login, email=login)
        users.append(user)
        if kinds:
            factors[user["id"]] = [okta_factor(host, user["id"], n * 10 + i, k) for i, k in enumerate(kinds)]
        if role is not None:
            roles[user["id"]] = [okta_role(host, user["id"], n, role[0], assignment=role[1])]
    alice, dave, ivan = users[0]["id"], users[3]["id"], users[8]["id"]
    apps = [
        okta_app(host, 1, "saasure", "Okta Admin Console", "OPENID_CONNECT"),
        okta_app(host, 2, "okta_enduser", "Okta Dashboard", "OPENID_CONNECT"),
        okta_app(host, 3, "salesforce", "Salesforce", "SAML_2_0"),
        okta_app(host, 4, "legacy_hr", "Legacy HR", "BASIC_AUTH", status="INACTIVE"),
    ]
    grant = {
        "id": "oag1simgrant00000001", "status": "ACTIVE", "issuer": f"https://{host}", "scopeId": "okta.users.read",
        "clientId": apps[2]["id"], "userId": alice, "source": "END_USER",
        "created": "2026-02-01T00:00:00.000Z", "lastUpdated": "2026-02-01T00:00:00.000Z",
        "createdBy": {"id": alice, "type": "User"},
        "_links": {"self": {"href": f"https://{host}/api/v1/users/{alice}/grants/oag1simgrant00000001"}},
    }  # fmt: skip
    return {
        "format": "mendflow.tenant/v1",
        "provider": "okta",
        "tenant": host,
        "taken_at": "2026-11-20T00:00:00Z",
        "okta": {
            "users": users,
            "user_roles": roles,
            "user_factors": factors,
            "groups": [okta_group(host, 1, "Everyone", "BUILT_IN"), okta_group(host, 2, "Engineering"),
                       okta_group(host, 3, "Okta Admins")],
            "policies": okta_policies(host),
            "api_tokens": [
                okta_token(host, 1, "ci-sync", alice, created="2025-01-10T12:00:00.000Z"),
                okta_token(host, 2, "scim-provisioning", dave, created="2026-10-01T12:00:00.000Z", connection="ZONE"),
                okta_token(host, 3, "legacy-report", ivan, created="2024-02-02T12:00:00.000Z", connection="ZONE"),
            ],
            "apps": apps,
            "grants": [grant],
        },
    }  # fmt: skip
