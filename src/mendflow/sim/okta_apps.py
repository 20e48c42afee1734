"""Vendor-complete Okta app objects: what a tenant file leaves out, the simulator fills in when it serves an app.

Okta's schema picks an app's shape by `signOnMode` and requires more of some shapes than of the base
`Application`: an OIDC app has `name`, `settings` (with `oauthClient.grant_types`) and `credentials`; basic-auth,
bookmark, SWA, secure-password-store and WS-Federation apps have `settings.app` with their required fields. The
official Okta SDK refuses an app without them, so tenant files that omit them (hand-written or older exports)
are completed here with plausible defaults, as Okta itself would have them. What the tenant file says is kept.
Source of the required fields: Okta Management OpenAPI 2026.06.3 (`*Application`, `*ApplicationSettings*`).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from mendflow.sim.common import JSON

USERNAME_TEMPLATE: JSON = {"template": "${source.login}", "type": "BUILT_IN"}
_NOTIFICATIONS: JSON = {"vpn": {"network": {"connection": "DISABLED"}, "message": None, "helpUrl": None}}
SETTINGS_BASE: JSON = {
    "app": {},
    "implicitAssignment": False,
    "manualProvisioning": False,
    "notes": {"admin": None, "enduser": None},
    "notifications": _NOTIFICATIONS,
}
"""`ApplicationSettings`, which every sign-on mode's settings extend."""


def _site(app: JSON) -> str:
    """A plausible site for the app's URLs, from its label (`Legacy HR` → `https://legacy-hr.example`)."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(app.get("label") or app.get("name") or "app").lower()).strip("-")
    return f"https://{slug or 'app'}.example"


def _oidc(app: JSON, site: str) -> JSON:
    client_id = app.get("id", "")
    return {
        "name": "oidc_client",
        "credentials": {
            "userNameTemplate": USERNAME_TEMPLATE,
            "signing": {"kid": f"sim-{client_id}"},
            "oauthClient": {
                "autoKeyRotation": True,
                "client_id": client_id,
                "token_endpoint_auth_method": "client_secret_basic",
                "pkce_required": False,
            },
        },
        "settings": {
            "oauthClient": {
                "client_uri": site,
                "redirect_uris": [f"{site}/oauth/callback"],
                "post_logout_redirect_uris": [],
                "response_types": ["code"],
                "grant_types": ["authorization_code"],
                "application_type": "web",
                "consent_method": "REQUIRED",
                "issuer_mode": "DYNAMIC",
            }
        },
    }


def _scheme_credentials() -> JSON:
    return {"scheme": "EDIT_USERNAME_AND_PASSWORD", "userNameTemplate": USERNAME_TEMPLATE, "revealPassword": False,
            "signing": {}}  # fmt: skip


def _by_mode(mode: str, app: JSON) -> JSON:
    """The required fields (and their usual companions) Okta serves for one sign-on mode."""
    site = _site(app)
    plain: JSON = {"credentials": {"userNameTemplate": USERNAME_TEMPLATE, "signing": {}}}
    if mode == "OPENID_CONNECT":
        return _oidc(app, site)
    if mode == "BASIC_AUTH":
        return {"name": "template_basic_auth", "credentials": _scheme_credentials(),
                "settings": {"app": {"url": f"{site}/login", "authURL": f"{site}/login"}}}  # fmt: skip
    if mode == "BOOKMARK":
        return {**plain, "name": "bookmark", "settings": {"app": {"url": site, "requestIntegration": False}}}
    if mode == "BROWSER_PLUGIN":
        app_settings = {"url": f"{site}/login", "usernameField": "username", "passwordField": "password",
                        "buttonField": "button[type=submit]", "loginUrlRegex": None}  # fmt: skip
        return {"name": "template_swa", "credentials": _scheme_credentials(), "settings": {"app": app_settings}}
    if mode == "SECURE_PASSWORD_STORE":
        app_settings = {"url": f"{site}/login", "usernameField": "username", "passwordField": "password"}
        return {"name": "template_sps", "credentials": _scheme_credentials(), "settings": {"app": app_settings}}
    if mode == "WS_FEDERATION":
        app_settings = {"audienceRestriction": site, "groupValueFormat": "windowsDomainQualifiedName",
                        "wReplyURL": f"{site}/wsfed", "siteURL": site, "realm": site,
                        "nameIDFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
                        "authnContextClassRef": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
                        "usernameAttribute": "username"}  # fmt: skip
        return {**plain, "name": "template_wsfed", "settings": {"app": app_settings}}
    if mode == "SAML_1_1":
        return {**plain, "name": "template_saml_1_1"}
    return plain  # SAML_2_0, AUTO_LOGIN and modes Okta may add: nothing beyond the base is required


def _fill(target: JSON, defaults: JSON) -> None:
    """Add what `target` lacks from `defaults`, recursively; a value the tenant file set (even null) is kept."""
    for key, value in defaults.items():
        if key not in target:
            target[key] = copy.deepcopy(value)
        elif isinstance(target[key], dict) and isinstance(value, dict):
            _fill(target[key], value)


def complete_app(app: JSON) -> JSON:
    """`app` (a served copy, changed in place and returned) with everything Okta's schema requires for its
    sign-on mode: `label`, `name`, `settings` (`ApplicationSettings` and the mode's `settings.app`) and
    `credentials`."""
    mode = str(app.get("signOnMode") or "")
    defaults: dict[str, Any] = _by_mode(mode, app)
    defaults["settings"] = {**copy.deepcopy(SETTINGS_BASE), **defaults.get("settings", {})}
    defaults.setdefault("label", app.get("name") or app.get("id") or "App")
    _fill(app, defaults)
    return app
