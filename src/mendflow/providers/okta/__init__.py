"""Okta: the connector (collector, service-app auth, actions) in one package."""
