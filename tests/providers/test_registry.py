"""The provider registry: one table of providers, and the refusals that keep it consistent."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import ValidationError

from mendflow import providers
from mendflow.config import TenantConnection
from mendflow.errors import InputError
from mendflow.playbooks.model import RESOURCE_TYPES
from mendflow.secrets import SecretRef
from tests.providers.widgets import PROVIDER as WIDGETS


def test_github_and_okta_are_registered_and_their_types_are_the_playbooks_types() -> None:
    """The shipped providers' resource types are exactly the table playbooks are checked against."""
    assert providers.names()[:2] == ("github", "okta")
    declared = {t for p in providers.providers() for t in p.resource_types}
    assert declared == set(RESOURCE_TYPES)
    assert providers.provider_of("okta.policy_rule").name == "okta"


def test_a_name_registered_twice_or_a_foreign_prefix_is_refused() -> None:
    """Two providers may not share a name, and a provider names only its own resource types and actions."""
    with pytest.raises(ValueError, match="registered twice"):
        providers.register(dataclasses.replace(providers.get("github")))
    stray = dataclasses.replace(WIDGETS, resource_types={"gadgets.widget": "/widgets/{id}"})
    with pytest.raises(ValueError, match=r"start with 'widgets\.'"):
        providers.register(stray)
    assert "widgets" not in providers.names() and "gadgets.widget" not in RESOURCE_TYPES


def test_an_unknown_provider_is_bad_input_naming_the_known_ones() -> None:
    """A connection or lookup naming an unregistered provider says which providers exist."""
    with pytest.raises(InputError, match=r"unknown provider 'gitlab' \(known: github, okta"):
        providers.get("gitlab")
    with pytest.raises(ValidationError, match="unknown provider 'gitlab'"):
        TenantConnection(key="gitlab:acme", provider="gitlab", tenant="acme", token=SecretRef(ref="env:X"))


def test_unregistering_removes_the_types_and_actions_it_added() -> None:
    """A fixture provider leaves nothing behind: its resource types and catalogue entries go with it."""
    from mendflow.actions import ACTIONS

    providers.register(WIDGETS)
    assert "widgets.gadget" in RESOURCE_TYPES and "widgets.gadget.set_visibility" in ACTIONS
    providers.unregister("widgets")
    assert "widgets.gadget" not in RESOURCE_TYPES and "widgets.gadget.set_visibility" not in ACTIONS
