"""The registered providers, and the lookups provider-neutral code asks instead of naming a vendor."""

from __future__ import annotations

from mendflow.actions import ACTIONS
from mendflow.errors import InputError
from mendflow.providers.model import Provider

_PROVIDERS: dict[str, Provider] = {}
RESOURCE_TYPES: dict[str, str] = {}
"""Every registered resource type → the canonical path shape of its ids (one table, kept up to date here)."""


def register(provider: Provider) -> Provider:
    """Make `provider` known to mendflow (tenant files, connections, playbooks, actions, offline scans)."""
    if provider.name in _PROVIDERS and _PROVIDERS[provider.name] is not provider:
        raise ValueError(f"provider {provider.name!r} is registered twice")
    named = [*provider.resource_types, *(spec.name for spec in provider.action_specs)]
    foreign = [name for name in named if name.split(".", 1)[0] != provider.name]
    if foreign:
        raise ValueError(
            f"provider {provider.name!r}: resource types and actions start with '{provider.name}.': {foreign}"
        )
    _PROVIDERS[provider.name] = provider
    RESOURCE_TYPES.update(provider.resource_types)
    ACTIONS.update({spec.name: spec for spec in provider.action_specs})
    return provider


def unregister(name: str) -> None:
    """Forget a provider (tests that register a fixture provider clean up with this)."""
    provider = _PROVIDERS.pop(name, None)
    if provider is not None:
        for resource_type in provider.resource_types:
            RESOURCE_TYPES.pop(resource_type, None)
        for spec in provider.action_specs:
            ACTIONS.pop(spec.name, None)


def names() -> tuple[str, ...]:
    """The registered providers' names, in registration order."""
    return tuple(_PROVIDERS)


def providers() -> tuple[Provider, ...]:
    return tuple(_PROVIDERS.values())


def known(name: str) -> str:
    """`name` if a provider is registered under it; a pydantic validator's ValueError naming the known ones."""
    if name not in _PROVIDERS:
        raise ValueError(f"unknown provider {name!r} (known: {', '.join(_PROVIDERS)})")
    return name


def get(name: str) -> Provider:
    """The provider called `name`; an unknown name is bad input naming the known ones."""
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise InputError(f"unknown provider {name!r} (known: {', '.join(_PROVIDERS)})") from None


def provider_of(resource_type: str) -> Provider:
    """The provider a resource type (or action name) belongs to: the part before the first dot."""
    return get(resource_type.split(".", 1)[0])
