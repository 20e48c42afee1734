"""mendflow's HTTP API: Slack interactivity (and, later, more) as one ASGI app; see `api.app`."""
