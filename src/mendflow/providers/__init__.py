"""SaaS providers, one package each; this is the one place they are registered.

Adding a provider: write `mendflow/providers/<name>/` (see docs/providers.md) and add its line below.
"""

from mendflow.providers import github, okta
from mendflow.providers.model import Provider, Reader, Streamed
from mendflow.providers.registry import RESOURCE_TYPES, get, known, names, provider_of, providers, register, unregister

register(github.PROVIDER)
register(okta.PROVIDER)

__all__ = [
    "RESOURCE_TYPES",
    "Provider",
    "Reader",
    "Streamed",
    "get",
    "known",
    "names",
    "provider_of",
    "providers",
    "register",
    "unregister",
]
