"""Okta app objects are served vendor-complete for every sign-on mode, keeping what the tenant file says."""

from __future__ import annotations

from typing import Any

import pytest

from mendflow.sim.okta_apps import complete_app

# Required fields per sign-on mode in Okta Management OpenAPI 2026.06.3 (`<Mode>Application` and its
# `settings.app` schema), as dotted paths.
REQUIRED = {
    "OPENID_CONNECT": ["name", "settings", "credentials", "settings.oauthClient.grant_types"],
    "BASIC_AUTH": ["name", "settings", "settings.app.authURL", "settings.app.url"],
    "BOOKMARK": ["name", "settings", "settings.app.url"],
    "BROWSER_PLUGIN": ["name", "settings"] + [f"settings.app.{f}" for f in ("buttonField", "passwordField",
                                                                            "usernameField", "url")],
    "SECURE_PASSWORD_STORE": ["name", "settings"] + [f"settings.app.{f}" for f in ("passwordField", "url",
                                                                                   "usernameField")],
    "WS_FEDERATION": ["name", "settings"] + [f"settings.app.{f}" for f in (
        "audienceRestriction", "groupValueFormat", "wReplyURL", "nameIDFormat", "authnContextClassRef", "siteURL",
        "usernameAttribute")],
    "SAML_1_1": ["name"],
    "SAML_2_0": [],
    "AUTO_LOGIN": [],
}  # fmt: skip


def _at(obj: Any, path: str) -> Any:
    for part in path.split("."):
        assert isinstance(obj, dict) and part in obj, f"missing {path}"
        obj = obj[part]
    return obj


@pytest.mark.parametrize("mode", sorted(REQUIRED))
def test_every_sign_on_mode_gets_its_required_fields(mode: str) -> None:
    """A bare app of each mode gains the label, settings and every field Okta's schema requires for the mode."""
    app = complete_app({"id": "0oa1", "label": "Legacy HR", "signOnMode": mode, "status": "ACTIVE"})
    for path in ["label", "settings.notifications", *REQUIRED[mode]]:
        _at(app, path)
    assert app["signOnMode"] == mode and app["label"] == "Legacy HR"


def test_what_the_tenant_file_says_is_kept() -> None:
    """Completion only adds: names, URLs, nulls and nested values from the tenant file stay as they are."""
    app = complete_app({
        "id": "0oa2", "name": "saasure", "label": "Okta Admin Console", "signOnMode": "OPENID_CONNECT",
        "settings": {"oauthClient": {"grant_types": ["implicit"], "redirect_uris": None}},
        "credentials": {"oauthClient": {"token_endpoint_auth_method": "none"}},
    })  # fmt: skip
    assert app["name"] == "saasure"
    assert app["settings"]["oauthClient"]["grant_types"] == ["implicit"]
    assert app["settings"]["oauthClient"]["redirect_uris"] is None
    assert app["credentials"]["oauthClient"]["token_endpoint_auth_method"] == "none"
    assert app["credentials"]["oauthClient"]["client_id"] == "0oa2"


def test_served_urls_come_from_the_label() -> None:
    """A basic-auth app's sign-in URLs are plausible and differ per app."""
    hr = complete_app({"id": "0oa3", "label": "Legacy HR", "signOnMode": "BASIC_AUTH"})
    wiki = complete_app({"id": "0oa4", "label": "Team Wiki!", "signOnMode": "BASIC_AUTH"})
    assert hr["settings"]["app"]["url"] == "https://legacy-hr.example/login"
    assert wiki["settings"]["app"]["authURL"] == "https://team-wiki.example/login"
