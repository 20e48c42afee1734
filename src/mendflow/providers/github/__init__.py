"""GitHub: the connector (collector, app auth, actions) in one package."""
