"""Vendor webhooks, provider-neutral: the `webhooks:` settings, the endpoint contract and payload field access.

Each provider's endpoint (signatures or shared secrets, event → paths) lives in its package
(`mendflow.providers.github.webhooks`, `mendflow.providers.okta.webhooks`); the shared pipeline in
`mendflow.api.webhooks`.
"""

from mendflow.webhooks.config import MAX_BODY, WebhookSettings, WebhookTenant
from mendflow.webhooks.endpoint import Pipeline, Refused, WebhookEndpoint
from mendflow.webhooks.payload import PayloadError

__all__ = ["MAX_BODY", "PayloadError", "Pipeline", "Refused", "WebhookEndpoint", "WebhookSettings", "WebhookTenant"]
