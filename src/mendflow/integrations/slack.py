"""Slack through slack-sdk's `AsyncWebClient`: post and update approval cards, notify, answer privately.

Retries are slack-sdk's own retry handlers: 429 (honouring `Retry-After`), 5xx and dropped/refused/timed-out
connections are retried with exponential backoff up to `max_retries` times. Answers that retrying cannot fix
(`invalid_auth`, `missing_scope`, `channel_not_found`, …) come back HTTP 200 with `ok: false`; they are raised at
once as one clear error. An auth problem is `SlackAuthError`, naming the token *reference* (never its value) and,
for `missing_scope`, the scope Slack says is needed (its `needed` / `provided` response fields).

`SlackDirectory` maps a Slack user id to a mendflow identity (config, never Slack's changeable user names) and
adds the mendflow groups that the person's Slack user groups stand for (`usergroups.users.list`, cached).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
import httpx
from pydantic import BaseModel, ConfigDict
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from mendflow.errors import AuthError, ConnectionProblem, VendorError
from mendflow.integrations.cards import CampaignCard, render_blocks, render_text
from mendflow.redaction import redact, register_secret
from mendflow.secrets import SecretRef

DEFAULT_BASE_URL = "https://slack.com/api/"
SLACK_HOST_ERRORS = frozenset({"fatal_error", "internal_error", "service_unavailable", "request_timeout"})
AUTH_ERRORS = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "not_allowed_token_type",
        "no_permission",
        "missing_scope",
        "team_access_not_granted",
        "ekm_access_denied",
    }
)
CARD_SCOPES = ("chat:write",)
"""Scopes the bot token needs to post and update cards and answer privately."""
DM_SCOPES = ("chat:write", "im:write")
"""Scopes the bot token needs to direct-message a person (`conversations.open` needs `im:write`)."""
EMAIL_SCOPES = ("users:read.email",)
"""What a direct message to a person named by e-mail address needs as well (`users.lookupByEmail`)."""


class MessageRef(BaseModel):
    """Where a posted message lives: enough to update it later (store it in the workflow)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: str
    ts: str


class AuthInfo(BaseModel):
    """What `auth.test` says about the token."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    team: str
    team_id: str
    user: str
    user_id: str
    url: str
    bot_id: str | None = None
    scopes: tuple[str, ...] = ()
    """From the `x-oauth-scopes` response header (empty if Slack did not send it)."""


class SlackError(VendorError):
    """Slack answered an error; `retryable` says whether trying again later may help."""

    def __init__(self, message: str, *, method: str, status: int, error: str, retryable: bool) -> None:
        self.error = error
        self.retryable = retryable
        super().__init__(message, status=status, method="POST", path=method)


class SlackAuthError(AuthError):
    """The token is wrong, revoked or lacks a scope: retrying cannot help, a person must fix the app config."""

    def __init__(self, *, token_ref: str, method: str, error: str, needed: str = "", provided: str = "") -> None:
        self.token_ref = token_ref
        self.error = error
        self.needed = needed
        self.provided = provided
        self.status = 200
        self.method = "POST"
        self.path = method
        if error == "missing_scope":
            has = f" (it has: {provided})" if provided else ""
            what = (
                f"the token lacks scope {needed or '(Slack did not say which)'}{has}; add it under "
                "OAuth & Permissions and reinstall the app"
            )
        elif error == "not_allowed_token_type":
            what = "this kind of token cannot call this method (Web API: bot token xoxb-; Socket Mode: app token xapp-)"
        else:
            what = "the token is wrong, revoked, or belongs to another workspace"
        Exception.__init__(self, redact(f"Slack refused {token_ref} on {method}: {error}: {what}"))


# --- retries ------------------------------------------------------------------------------------------------


class _ServerErrorRetryHandler(AsyncServerErrorRetryHandler):
    """slack-sdk's server-error handler retries 500 and 503 only; gateways answer 502 and 504 too."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in (500, 502, 503, 504)


def retry_handlers(max_retries: int = 3, interval: RetryIntervalCalculator | None = None) -> list[AsyncRetryHandler]:
    """slack-sdk retry handlers for 429 (Retry-After), 5xx and connection failures/timeouts, with backoff."""
    calculator = interval or BackoffRetryIntervalCalculator(backoff_factor=0.5)
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=max_retries),
        _ServerErrorRetryHandler(max_retry_count=max_retries, interval_calculator=calculator),
        AsyncConnectionErrorRetryHandler(
            max_retry_count=max_retries,
            interval_calculator=calculator,
            error_types=[
                aiohttp.ServerConnectionError,
                aiohttp.ServerDisconnectedError,
                aiohttp.ClientOSError,
                asyncio.TimeoutError,
            ],
        ),
    ]


def _named_id(response: AsyncSlackResponse, key: str, method: str) -> str:
    """The `id` of the object an ok answer names `key`; an ok answer without one is an error not worth retrying."""
    named = response.get(key)
    found = str(named.get("id", "")) if isinstance(named, dict) else ""
    if not found:
        raise SlackError(
            f"Slack answered {method} without a {key} id", method=method, status=200, error=f"no_{key}", retryable=False
        )
    return found


def _token_value(token: str | SecretRef, token_ref: str) -> tuple[str, str]:
    if isinstance(token, SecretRef):
        return token.resolve(), token_ref or token.ref
    register_secret(token)
    return token, token_ref or "the configured Slack token"


# --- Web API ------------------------------------------------------------------------------------------------


class SlackCards:
    """Post, update and answer with approval cards through slack-sdk's AsyncWebClient."""

    def __init__(
        self,
        token: str | SecretRef,
        *,
        token_ref: str = "",
        base_url: str = DEFAULT_BASE_URL,
        timeout: int = 10,
        max_retries: int = 3,
        retry_interval: RetryIntervalCalculator | None = None,
    ) -> None:
        value, self.token_ref = _token_value(token, token_ref)
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.max_retries = max_retries
        self.client = AsyncWebClient(
            token=value,
            base_url=self.base_url,
            timeout=timeout,
            retry_handlers=retry_handlers(max_retries, retry_interval),
        )

    async def call(self, method: str, call: Callable[[], Awaitable[AsyncSlackResponse]]) -> AsyncSlackResponse:
        try:
            return await call()
        except SlackApiError as err:
            raise self._translate(method, err) from None
        except (aiohttp.ClientError, TimeoutError) as err:
            raise ConnectionProblem(
                f"Slack at {self.base_url} did not answer {method} after {self.max_retries} retries "
                f"({type(err).__name__}); check the network and https://slack-status.com"
            ) from None

    def _translate(self, method: str, err: SlackApiError) -> VendorError:
        response = err.response
        status = int(getattr(response, "status_code", 0) or 0)
        data = response.data if isinstance(getattr(response, "data", None), dict) else {}
        error = str(data.get("error", "")) or f"HTTP {status}"
        if error in AUTH_ERRORS or status in (401, 403):
            return SlackAuthError(
                token_ref=self.token_ref,
                method=method,
                error=error,
                needed=str(data.get("needed", "")),
                provided=str(data.get("provided", "")),
            )
        if status == 429 or error in ("ratelimited", "rate_limited"):
            retry_after = response.headers.get("Retry-After", "?") if response.headers else "?"
            message = f"Slack rate-limited {method} (Retry-After {retry_after} s) after {self.max_retries} retries"
            return SlackError(message, method=method, status=status, error=error, retryable=True)
        retryable = status >= 500 or error in SLACK_HOST_ERRORS
        return SlackError(
            f"Slack answered {method}: {error}", method=method, status=status, error=error, retryable=retryable
        )

    async def check_auth(self, required_scopes: Sequence[str] = CARD_SCOPES) -> AuthInfo:
        """`auth.test`, plus a check of the token's scopes (from `x-oauth-scopes`) against `required_scopes`."""
        response = await self.call("auth.test", self.client.auth_test)
        header = response.headers.get("x-oauth-scopes", "") if response.headers else ""
        scopes = tuple(s.strip() for s in str(header).split(",") if s.strip())
        missing = [s for s in required_scopes if scopes and s not in scopes]
        if missing:
            raise SlackAuthError(
                token_ref=self.token_ref,
                method="auth.test",
                error="missing_scope",
                needed=",".join(missing),
                provided=",".join(scopes),
            )
        data = response.data if isinstance(response.data, dict) else {}
        return AuthInfo.model_validate({**data, "scopes": scopes})

    async def post(self, channel: str, card: CampaignCard) -> MessageRef:
        """Post the card (`chat.postMessage`); keep the returned ref to update it."""
        response = await self.call(
            "chat.postMessage",
            lambda: self.client.chat_postMessage(
                channel=channel,
                text=render_text(card),
                blocks=render_blocks(card),
                unfurl_links=False,
                unfurl_media=False,
            ),
        )
        return MessageRef(channel=str(response["channel"]), ts=str(response["ts"]))

    async def update(self, ref: MessageRef, card: CampaignCard) -> None:
        """Replace the card in place (`chat.update`): new state, decisions, progress; buttons only if decidable."""
        await self.call(
            "chat.update",
            lambda: self.client.chat_update(
                channel=ref.channel, ts=ref.ts, text=render_text(card), blocks=render_blocks(card)
            ),
        )

    async def notify(
        self, channel_or_user: str, text: str, *, blocks: Sequence[dict[str, Any]] | None = None
    ) -> MessageRef:
        """A message to a channel, or to a person (a user id posts in the app's DM with them). `text` is redacted
        here; `blocks` (Block Kit, with `text` as the notification fallback) are the caller's to redact."""
        response = await self.call(
            "chat.postMessage",
            lambda: self.client.chat_postMessage(
                channel=channel_or_user, text=redact(text), blocks=blocks, unfurl_links=False
            ),
        )
        return MessageRef(channel=str(response["channel"]), ts=str(response["ts"]))

    async def direct_message(
        self, user: str, text: str, *, blocks: Sequence[dict[str, Any]] | None = None
    ) -> MessageRef:
        """A message (optionally a Block Kit card) in the app's DM with `user` (a Slack user id):
        `conversations.open`, then `chat.postMessage` to the DM channel it names — the way Slack documents it,
        rather than posting to the user id."""
        opened = await self.call("conversations.open", lambda: self.client.conversations_open(users=user))
        return await self.notify(_named_id(opened, "channel", "conversations.open"), text, blocks=blocks)

    async def user_by_email(self, email: str) -> str:
        """The Slack user id of the member with this e-mail address (`users.lookupByEmail`)."""
        response = await self.call("users.lookupByEmail", lambda: self.client.users_lookupByEmail(email=email))
        return _named_id(response, "user", "users.lookupByEmail")

    async def ephemeral(self, channel: str, user: str, text: str) -> None:
        """A message only `user` sees, in `channel` (`chat.postEphemeral`)."""
        await self.call(
            "chat.postEphemeral",
            lambda: self.client.chat_postEphemeral(channel=channel, user=user, text=redact(text)),
        )


async def respond_via_url(response_url: str, text: str, *, wait: float = 5.0) -> None:
    """Answer an interaction privately through its `response_url` (ephemeral, the original message untouched)."""
    body = {"response_type": "ephemeral", "replace_original": False, "text": redact(text)}
    try:
        async with httpx.AsyncClient(timeout=wait) as client:
            answer = await client.post(response_url, json=body)
    except httpx.HTTPError as err:
        raise ConnectionProblem(f"Slack's response_url did not answer ({type(err).__name__})") from None
    if answer.status_code >= 300:
        raise SlackError(
            f"Slack's response_url answered HTTP {answer.status_code}",
            method="response_url",
            status=answer.status_code,
            error=f"HTTP {answer.status_code}",
            retryable=answer.status_code >= 500,
        )


# --- people -------------------------------------------------------------------------------------------------


class SlackIdentity(BaseModel):
    """A Slack user as mendflow knows them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    identity: str
    groups: tuple[str, ...] = ()
    slack_user: str


class SlackDirectory:
    """Slack user id → mendflow identity (config), plus the groups their Slack user groups stand for.

    `users`: Slack user id → identity. `groups`: identity → mendflow groups from the RBAC config.
    `usergroups`: Slack user group id (`S…`) → mendflow group name; membership is read with
    `usergroups.users.list` and cached for `ttl` seconds (by `clock`, injectable for tests).
    """

    def __init__(
        self,
        slack: SlackCards | None,
        *,
        users: Mapping[str, str],
        groups: Mapping[str, Sequence[str]] | None = None,
        usergroups: Mapping[str, str] | None = None,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slack = slack
        self.users = dict(users)
        self.groups = {k: tuple(v) for k, v in (groups or {}).items()}
        self.usergroups = dict(usergroups or {})
        self.ttl = ttl
        self.clock = clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._names: dict[str, tuple[float, str]] = {}

    @classmethod
    def from_rbac(
        cls,
        slack: SlackCards | None,
        rbac: Any,
        *,
        usergroups: Mapping[str, str] | None = None,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> SlackDirectory:
        """From `rbac.RbacConfig`: each person's `slack` id and `groups`."""
        people: Mapping[str, Any] = rbac.people
        users = {p.slack: name for name, p in people.items() if getattr(p, "slack", None)}
        groups = {name: tuple(p.groups) for name, p in people.items()}
        return cls(slack, users=users, groups=groups, usergroups=usergroups, ttl=ttl, clock=clock)

    async def members(self, usergroup: str) -> frozenset[str]:
        """Slack user ids in `usergroup` (cached for `ttl`; a stale answer is used if Slack cannot be asked)."""
        now = self.clock()
        cached = self._members.get(usergroup)
        if cached and cached[0] > now:
            return cached[1]
        if self.slack is None:
            return frozenset()
        client = self.slack.client
        try:
            response = await self.slack.call(
                "usergroups.users.list", lambda: client.usergroups_users_list(usergroup=usergroup)
            )
        except (SlackError, ConnectionProblem):
            if cached:
                return cached[1]
            raise
        listed: list[Any] = response.get("users", []) or []
        users = frozenset(str(u) for u in listed)
        self._members[usergroup] = (now + self.ttl, users)
        return users

    async def resolve(self, slack_user: str) -> SlackIdentity | None:
        """The mendflow identity and groups of a Slack user, or None if the config does not know them."""
        identity = self.users.get(slack_user)
        if identity is None:
            return None
        groups = list(self.groups.get(identity, ()))
        for usergroup, group in sorted(self.usergroups.items()):
            if group not in groups and slack_user in await self.members(usergroup):
                groups.append(group)
        return SlackIdentity(identity=identity, groups=tuple(groups), slack_user=slack_user)

    async def display_name(self, slack_user: str) -> str:
        """The person's Slack display name (`users.info`, cached), or the id if Slack cannot say."""
        now = self.clock()
        cached = self._names.get(slack_user)
        if cached and cached[0] > now:
            return cached[1]
        if self.slack is None:
            return slack_user
        client = self.slack.client
        try:
            response = await self.slack.call("users.info", lambda: client.users_info(user=slack_user))
        except (SlackError, ConnectionProblem):
            return slack_user
        user = response.get("user") or {}
        profile = user.get("profile") or {}
        name = str(profile.get("display_name") or profile.get("real_name") or user.get("name") or slack_user)
        self._names[slack_user] = (now + self.ttl, name)
        return name


__all__ = [
    "CARD_SCOPES",
    "DEFAULT_BASE_URL",
    "DM_SCOPES",
    "EMAIL_SCOPES",
    "AuthInfo",
    "MessageRef",
    "SlackAuthError",
    "SlackCards",
    "SlackDirectory",
    "SlackError",
    "SlackIdentity",
    "respond_via_url",
    "retry_handlers",
]
