"""Each provider's lazily imported fields name something that exists: a misspelt module or name in a `lazy(...)`
declaration would otherwise fail only when that field is first used."""

from __future__ import annotations

import pytest

from mendflow import providers
from mendflow.providers.model import lazy, lazy_call


@pytest.mark.parametrize("name", ["github", "okta"])
def test_every_object_field_resolves(name: str) -> None:
    provider = providers.get(name)
    assert provider.permissions is not None and provider.permissions().__class__.__name__ == "Permissions"
    assert provider.actions() and provider.targets()
    assert provider.tenant_section is not None and provider.tenant_section().__name__.endswith("Section")
    assert provider.app_auth_model is not None and provider.app_auth_model().__name__.endswith("Auth")
    assert provider.webhooks is not None and provider.webhooks().__class__.__name__ == "WebhookEndpoint"
    assert provider.spec is not None and f"{name}.{'repo' if name == 'github' else 'user'}" in provider.spec.types()
    assert list(provider.objects({}, next(iter(provider.resource_types)))) == []


def test_github_streams_repos_with_their_model() -> None:
    streamed = providers.get("github").streamed
    assert streamed is not None and streamed.item().__name__ == "GithubRepo"


def test_a_misspelt_name_fails_when_used_not_when_declared() -> None:
    table, call = lazy("mendflow.providers.okta.actions", "NO_SUCH"), lazy_call("mendflow.no_such_module", "f")
    with pytest.raises(AttributeError, match="NO_SUCH"):
        table()
    with pytest.raises(ModuleNotFoundError):
        call(1, key=2)


def test_a_call_passes_its_arguments() -> None:
    join = lazy_call("os.path", "join")
    assert join("a", "b") == "a/b"
