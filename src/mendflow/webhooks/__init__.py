"""Vendor webhooks: signatures and shared secrets, and the resources each event is about (targeted rescans)."""

from mendflow.webhooks.config import MAX_BODY, WebhookSettings, WebhookTenant
from mendflow.webhooks.github import MAPPED_EVENTS, github_signature, github_targets
from mendflow.webhooks.okta import CHALLENGE_HEADER, okta_targets
from mendflow.webhooks.payload import PayloadError

__all__ = [
    "CHALLENGE_HEADER",
    "MAPPED_EVENTS",
    "MAX_BODY",
    "PayloadError",
    "WebhookSettings",
    "WebhookTenant",
    "github_signature",
    "github_targets",
    "okta_targets",
]
