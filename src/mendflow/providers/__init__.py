"""SaaS providers, one package each (see docs/providers.md)."""
