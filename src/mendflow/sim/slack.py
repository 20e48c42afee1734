"""A Slack simulator (ASGI, Starlette): the Web API methods mendflow uses, Socket Mode, and a clicking user.

Web API (`{base}/api/METHOD`, form, query or JSON arguments, `Authorization: Bearer` or a `token` argument):
`auth.test`, `chat.postMessage`, `chat.update`, `chat.postEphemeral`, `users.info`, `users.lookupByEmail`,
`usergroups.users.list`, `conversations.open`, `apps.connections.open`. Answers use Slack's envelope
(`{"ok": false, "error": "invalid_auth"}`, `missing_scope` with `needed`/`provided`, `x-oauth-scopes` headers),
429 + `Retry-After` once a configured per-minute budget is spent, and injectable faults (5xx, slow answers) for
retry tests. Every message, update and private answer is recorded (`SlackWorkspace.history`, `.messages`) so
tests can read the card history.

The other direction — Slack calling the app — is `SlackWorkspace.click(...)`: it builds a `block_actions`
payload as Slack documents it, signs it with the signing secret exactly as Slack does (v0 HMAC) and POSTs it
form-encoded to the interactivity URL, or pushes it as an `interactive` envelope to a Socket Mode connection
(opened with `apps.connections.open`, served at `ws://…/socket-mode/TICKET`). A response_url endpoint accepts
the app's private answers.

The shapes follow tests/specs/slack-subset.oas31.json (checked by tests/sim/test_slack_contract.py).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from mendflow.integrations.cards import ACTIONS_BLOCK, APPROVE_ACTION, REASON_ACTION, REASON_BLOCK, REJECT_ACTION

JSON = dict[str, Any]

BOT_SCOPES = ("chat:write", "users:read", "users:read.email", "usergroups:read", "im:write")
APP_SCOPES = ("connections:write",)

# method → (needed scope, token kind)
METHODS: dict[str, tuple[str, str]] = {
    "auth.test": ("", "bot"),
    "chat.postMessage": ("chat:write", "bot"),
    "chat.update": ("chat:write", "bot"),
    "chat.postEphemeral": ("chat:write", "bot"),
    "users.info": ("users:read", "bot"),
    "users.lookupByEmail": ("users:read.email", "bot"),
    "usergroups.users.list": ("usergroups:read", "bot"),
    "conversations.open": ("im:write", "bot"),
    "apps.connections.open": ("connections:write", "app"),
}


class SimError(Exception):
    """The test asked the simulator for something Slack could not do (e.g. click a button that is not there)."""


@dataclass
class SimUser:
    id: str
    name: str
    real_name: str = ""
    display_name: str = ""
    email: str = ""


@dataclass
class Sent:
    """One thing the app made Slack show: a post, an update, a private answer."""

    kind: str
    """`post`, `update`, `ephemeral` or `response_url`."""
    channel: str
    ts: str
    text: str
    blocks: list[JSON] = field(default_factory=list)
    user: str = ""
    """For `ephemeral` / `response_url`: who sees it."""
    at: float = 0.0


@dataclass
class Fault:
    """Make the next `count` calls (of `methods`, or any) fail with `status`, or answer only after `delay` s."""

    status: int = 0
    delay: float = 0.0
    count: int = 1
    methods: frozenset[str] = frozenset()
    retry_after: int = 1


@dataclass
class _Socket:
    websocket: WebSocket
    loop: asyncio.AbstractEventLoop


def _dm_channel(user: str) -> str:
    return "D" + (user[1:] + "00000000")[: max(8, len(user) - 1)]


class SlackWorkspace:
    """The simulated workspace: tokens, people, channels, messages — and the user who clicks."""

    def __init__(
        self,
        *,
        bot_token: str,
        signing_secret: str,
        app_token: str = "",
        bot_scopes: Sequence[str] = BOT_SCOPES,
        app_scopes: Sequence[str] = APP_SCOPES,
        users: Mapping[str, str] | None = None,
        usergroups: Mapping[str, Sequence[str]] | None = None,
        channels: Mapping[str, str] | None = None,
        interactivity_url: str = "",
        rate_limit: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.team_id = "T0MENDFLOW"
        self.team_name = "mendflow-sim"
        self.bot_user = "U0MENDBOT0"
        self.bot_id = "B0MENDFLOW"
        self.app_id = "A0MENDFLOW"
        self.bot_token = bot_token
        self.app_token = app_token
        self.bot_scopes = list(bot_scopes)
        self.app_scopes = list(app_scopes)
        self.signing_secret = signing_secret
        self.interactivity_url = interactivity_url
        self.base_url = ""
        """Set by whoever serves the app (`http://127.0.0.1:PORT`); needed for response_url."""
        self.users: dict[str, SimUser] = {}
        for uid, name in (users or {}).items():
            self.add_user(uid, name)
        self.usergroups: dict[str, list[str]] = {k: list(v) for k, v in (usergroups or {}).items()}
        self.channels: dict[str, str] = dict(channels or {"sec-remediation": "C0SECREMED1"})
        """name → id."""
        self.messages: dict[tuple[str, str], list[Sent]] = {}
        """(channel, ts) → the message's versions, first post first."""
        self.history: list[Sent] = []
        self.calls: list[tuple[str, JSON]] = []
        """Every Web API call: (method, arguments without the token)."""
        self.faults: deque[Fault] = deque()
        self.abandoned = 0
        """Delayed calls whose client hung up before the answer (and which therefore changed nothing)."""
        self.rate_limit = rate_limit
        """Calls per minute before 429 (0: unlimited)."""
        self.clock = clock
        self._window = (0, 0)
        self._seq = 0
        self._lock = threading.Lock()
        self._tickets: set[str] = set()
        self.sockets: list[_Socket] = []
        self.acks: list[str] = []
        self.envelopes: list[JSON] = []
        self._responses: dict[str, tuple[str, str]] = {}
        self.open_dms: set[str] = set()
        """DM channel ids `conversations.open` has opened (its `already_open` answer)."""

    # --- setup ---

    def add_user(self, uid: str, name: str, *, real_name: str = "", display_name: str = "", email: str = "") -> SimUser:
        """A member; their e-mail address (for `users.lookupByEmail`) is NAME@acme.example unless given."""
        user = SimUser(uid, name, real_name or name.title(), display_name or name, email or f"{name}@acme.example")
        self.users[uid] = user
        return user

    def fail_next(
        self, count: int = 1, *, status: int = 503, methods: Sequence[str] = (), retry_after: int = 1
    ) -> None:
        self.faults.append(Fault(status=status, count=count, methods=frozenset(methods), retry_after=retry_after))

    def delay_next(self, seconds: float, count: int = 1, *, methods: Sequence[str] = ()) -> None:
        self.faults.append(Fault(delay=seconds, count=count, methods=frozenset(methods)))

    # --- inspection ---

    def cards(self, channel: str | None = None) -> list[list[Sent]]:
        """Each posted message's versions (post, then updates), oldest message first."""
        return [v for (ch, _), v in self.messages.items() if channel is None or ch == channel]

    def latest(self, channel: str, ts: str) -> Sent:
        return self.messages[(channel, ts)][-1]

    def private(self, user: str | None = None) -> list[Sent]:
        """Ephemeral and response_url answers (to `user`)."""
        return [s for s in self.history if s.kind in ("ephemeral", "response_url") and (user is None or s.user == user)]

    def all_text(self) -> str:
        """Everything the app made Slack show, as one string (for secret scans)."""
        return "\n".join(s.text + json.dumps(s.blocks) for s in self.history)

    # --- helpers used by the routes ---

    def next_ts(self) -> str:
        with self._lock:
            self._seq = (self._seq + 1) % 1_000_000
            return f"{int(self.clock()):010d}.{self._seq:06d}"

    def take_rate(self) -> int | None:
        """None if the call may proceed, else the seconds until the budget refills."""
        if not self.rate_limit:
            return None
        with self._lock:
            minute = int(self.clock() // 60)
            start, used = self._window
            if start != minute:
                start, used = minute, 0
            if used >= self.rate_limit:
                self._window = (start, used)
                return max(1, (minute + 1) * 60 - int(self.clock()))
            self._window = (start, used + 1)
            return None

    def take_fault(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if not fault.methods or method in fault.methods:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def resolve_channel(self, channel: str) -> str | None:
        name = channel.lstrip("#")
        if channel in self.channels.values():
            return channel
        if name in self.channels:
            return self.channels[name]
        if channel in self.users:
            return _dm_channel(channel)
        if channel.startswith("D") and any(_dm_channel(u) == channel for u in self.users):
            return channel
        return None

    def record(self, sent: Sent) -> None:
        sent.at = self.clock()
        self.history.append(sent)
        if sent.kind in ("post", "update"):
            self.messages.setdefault((sent.channel, sent.ts), []).append(sent)

    def issue_ticket(self) -> str:
        ticket = secrets.token_urlsafe(12)
        self._tickets.add(ticket)
        return ticket

    def response_url_for(self, channel: str, user: str) -> str:
        token = secrets.token_urlsafe(12)
        self._responses[token] = (channel, user)
        return f"{self.base_url}/_sim/response/{token}"

    # --- the clicking user ---

    def find_card(self, campaign_id: str) -> Sent | None:
        """The newest card whose latest version has a button for `campaign_id`."""
        for versions in reversed(list(self.messages.values())):
            current = versions[-1]
            if _buttons(current.blocks, campaign_id):
                return current
        return None

    def build_click(
        self,
        *,
        user: str,
        campaign_id: str,
        verdict: str = "approve",
        reason: str | None = None,
        card: Sent | None = None,
        require_button: bool = True,
    ) -> JSON:
        """A `block_actions` payload for `user` pressing Approve/Reject on the card (as Slack sends it)."""
        action_id = APPROVE_ACTION if verdict == "approve" else REJECT_ACTION
        card = card or self.find_card(campaign_id)
        if card is None:
            if require_button:
                raise SimError(f"no card with buttons for campaign {campaign_id}")
            card = Sent(kind="post", channel=next(iter(self.channels.values())), ts=self.next_ts(), text="")
        button = next((b for b in _buttons(card.blocks, campaign_id) if b.get("action_id") == action_id), None)
        if button is None and require_button:
            raise SimError(f"the card {card.channel}/{card.ts} has no {action_id} button for {campaign_id}")
        person = self.users.get(user) or SimUser(user, user.lower())
        name = next((n for n, i in self.channels.items() if i == card.channel), "direct")
        values: JSON = {}
        if any(b.get("block_id") == REASON_BLOCK for b in card.blocks) or reason is not None:
            values = {REASON_BLOCK: {REASON_ACTION: {"type": "plain_text_input", "value": reason or None}}}
        action_ts = f"{time.time():.6f}"
        action: JSON = {
            "type": "button",
            "action_id": action_id,
            "block_id": ACTIONS_BLOCK,
            "value": campaign_id,
            "text": {"type": "plain_text", "text": "Approve" if verdict == "approve" else "Reject", "emoji": True},
            "action_ts": action_ts,
        }
        if button is not None and button.get("style"):
            action["style"] = button["style"]
        return {
            "type": "block_actions",
            "user": {"id": person.id, "username": person.name, "name": person.name, "team_id": self.team_id},
            "api_app_id": self.app_id,
            "token": "sim-verification-token",
            "container": {"type": "message", "message_ts": card.ts, "channel_id": card.channel, "is_ephemeral": False},
            "trigger_id": f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}",
            "team": {"id": self.team_id, "domain": self.team_name},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": card.channel, "name": name},
            "message": {
                "type": "message",
                "ts": card.ts,
                "text": card.text,
                "user": self.bot_user,
                "bot_id": self.bot_id,
                "blocks": card.blocks,
            },
            "state": {"values": values},
            "response_url": self.response_url_for(card.channel, person.id),
            "actions": [action],
        }

    def signed(self, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        """The headers Slack adds: `X-Slack-Request-Timestamp` and the v0 `X-Slack-Signature`."""
        ts = str(int(self.clock()) if timestamp is None else timestamp)
        signature = SignatureVerifier(self.signing_secret).generate_signature(timestamp=ts, body=body) or ""
        return {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
        }

    async def post_payload(
        self, payload: JSON, *, timestamp: int | None = None, url: str = "", wait: float = 10.0
    ) -> httpx.Response:
        """POST a payload to the interactivity URL exactly as Slack does (form field `payload`, signed)."""
        body = urlencode({"payload": json.dumps(payload)}).encode()
        target = url or self.interactivity_url
        if not target:
            raise SimError("no interactivity URL configured")
        async with httpx.AsyncClient(timeout=wait) as client:
            return await client.post(target, content=body, headers=self.signed(body, timestamp=timestamp))

    async def click(
        self,
        *,
        user: str,
        campaign_id: str,
        verdict: str = "approve",
        reason: str | None = None,
        via: str = "http",
        require_button: bool = True,
    ) -> httpx.Response | str:
        """`user` presses Approve/Reject on the campaign's card. HTTP: returns the app's response (Slack would
        show an error to the user on anything but a 200 within 3 s). Socket Mode: returns the envelope id."""
        payload = self.build_click(
            user=user, campaign_id=campaign_id, verdict=verdict, reason=reason, require_button=require_button
        )
        if via == "socket":
            return await self.push("interactive", payload)
        return await self.post_payload(payload)

    async def push(self, kind: str, payload: JSON) -> str:
        """Send an envelope to the newest Socket Mode connection; returns its envelope id."""
        if not self.sockets:
            raise SimError("no Socket Mode connection is open")
        socket = self.sockets[-1]
        envelope = {
            "envelope_id": str(uuid.uuid4()),
            "type": kind,
            "payload": payload,
            "accepts_response_payload": False,
        }
        self.envelopes.append(envelope)
        future = asyncio.run_coroutine_threadsafe(socket.websocket.send_text(json.dumps(envelope)), socket.loop)
        await asyncio.wrap_future(future)
        return str(envelope["envelope_id"])


def _buttons(blocks: list[JSON], campaign_id: str) -> list[JSON]:
    return [
        element
        for block in blocks
        if block.get("type") == "actions"
        for element in block.get("elements", [])
        if element.get("type") == "button" and element.get("value") == campaign_id
    ]


# --- the Web API ---------------------------------------------------------------------------------------------


def _ok(body: JSON, *, scopes: Sequence[str] = (), accepted: str = "") -> JSONResponse:
    headers = {"x-oauth-scopes": ",".join(scopes), "x-accepted-oauth-scopes": accepted}
    return JSONResponse({"ok": True, **body}, headers=headers)


def _error(
    error: str, *, status: int = 200, scopes: Sequence[str] = (), accepted: str = "", **extra: Any
) -> JSONResponse:
    headers = {"x-oauth-scopes": ",".join(scopes), "x-accepted-oauth-scopes": accepted}
    return JSONResponse({"ok": False, "error": error, **extra}, status_code=status, headers=headers)


def _rate_limited(retry_after: int) -> JSONResponse:
    """Slack's answer over a rate limit (https://docs.slack.dev/apis/web-api/rate-limits)."""
    return JSONResponse(
        {"ok": False, "error": "ratelimited"}, status_code=429, headers={"Retry-After": str(retry_after)}
    )


async def _arguments(request: Request) -> JSON:
    args: JSON = dict(request.query_params)
    if request.method == "POST":
        raw = await request.body()
        kind = request.headers.get("content-type", "")
        if raw and "application/json" in kind:
            try:
                body = json.loads(raw)
            except ValueError:
                raise _Answer(_error("invalid_json")) from None
            if not isinstance(body, dict):
                raise _Answer(_error("json_not_object"))
            args.update(body)
        elif raw:
            args.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return args


class _Answer(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _blocks(value: Any) -> list[JSON]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _Answer(_error("invalid_blocks")) from None
    if not isinstance(value, list) or not all(isinstance(b, dict) and "type" in b for b in value):
        raise _Answer(_error("invalid_blocks"))
    return value


def _user_object(ws: SlackWorkspace, user: SimUser) -> JSON:
    return {
        "id": user.id,
        "team_id": ws.team_id,
        "name": user.name,
        "deleted": False,
        "color": "9f69e7",
        "real_name": user.real_name,
        "tz": "Europe/Amsterdam",
        "tz_label": "Central European Summer Time",
        "tz_offset": 7200,
        "profile": {
            "avatar_hash": "g0000000000",
            "status_text": "",
            "status_emoji": "",
            "real_name": user.real_name,
            "display_name": user.display_name,
            "real_name_normalized": user.real_name,
            "display_name_normalized": user.display_name,
            "title": "",
            "phone": "",
            "skype": "",
            "fields": None,
            "team": ws.team_id,
        },
        "is_admin": False,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": False,
        "is_app_user": False,
        "updated": 1700000000,
        "has_2fa": True,
    }


def _api(ws: SlackWorkspace) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        method = request.path_params["method"]
        if method not in METHODS:
            return _error("unknown_method", status=404)
        needed, kind = METHODS[method]
        fault = ws.take_fault(method)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
            if await request.is_disconnected():
                ws.abandoned += 1  # the client gave up waiting: like Slack's edge, do not act on it
                return Response(status_code=499)
        elif fault is not None and fault.status == 429:
            return _rate_limited(fault.retry_after)
        elif fault is not None:
            return _error("fatal_error", status=fault.status)
        try:
            args = await _arguments(request)
        except _Answer as answer:
            return answer.response
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        token = presented.strip() if scheme.lower() == "bearer" else str(args.pop("token", "") or "")
        args.pop("token", None)
        ws.calls.append((method, dict(args)))
        if not token:
            return _error("not_authed")
        is_bot = bool(ws.bot_token) and hmac.compare_digest(token.encode(), ws.bot_token.encode())
        is_app = bool(ws.app_token) and hmac.compare_digest(token.encode(), ws.app_token.encode())
        if not (is_bot or is_app):
            return _error("invalid_auth")
        scopes = ws.bot_scopes if is_bot else ws.app_scopes
        if (kind == "app") != is_app:
            return _error("not_allowed_token_type", scopes=scopes, accepted=needed)
        if needed and needed not in scopes:
            return _error("missing_scope", scopes=scopes, accepted=needed, needed=needed, provided=",".join(scopes))
        retry = ws.take_rate()
        if retry is not None:
            return _rate_limited(retry)
        try:
            body = _HANDLERS[method](ws, request, args)
        except _Answer as answer:
            answer.response.headers["x-oauth-scopes"] = ",".join(scopes)
            answer.response.headers["x-accepted-oauth-scopes"] = needed
            return answer.response
        return _ok(body, scopes=scopes, accepted=needed)

    return endpoint


def _auth_test(ws: SlackWorkspace, request: Request, args: JSON) -> JSON:
    return {
        "url": f"https://{ws.team_name}.slack.com/",
        "team": ws.team_name,
        "user": "mendflow",
        "team_id": ws.team_id,
        "user_id": ws.bot_user,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def _channel(ws: SlackWorkspace, args: JSON) -> str:
    raw = str(args.get("channel") or "")
    if not raw:
        raise _Answer(_error("channel_not_found"))
    channel = ws.resolve_channel(raw)
    if channel is None:
        raise _Answer(_error("channel_not_found"))
    return channel


def _text_and_blocks(args: JSON) -> tuple[str, list[JSON]]:
    text = str(args.get("text") or "")
    blocks = _blocks(args.get("blocks"))
    if not text and not blocks:
        raise _Answer(_error("no_text"))
    if len(text) > 40_000:
        raise _Answer(_error("msg_too_long"))
    return text, blocks


def _post_message(ws: SlackWorkspace, request: Request, args: JSON) -> JSON:
    channel = _channel(ws, args)
    text, blocks = _text_and_blocks(args)
    ts = ws.next_ts()
    ws.record(Sent("post", channel, ts, text, blocks))
    message: JSON = {
        "type": "message",
        "text": text,
        "user": ws.bot_user,
        "bot_id": ws.bot_id,
        "ts": ts,
        "team": ws.team_id,
    }
    if blocks:
        message["blocks"] = blocks
    return {"channel": channel, "ts": ts, "message": message}


def _update(ws: SlackWorkspace, request: Request, args: JSON) -> JSON:
    channel = _channel(ws, args)
    ts = str(args.get("ts") or "")
    if (channel, ts) not in ws.messages:
        raise _Answer(_error("message_not_found"))
    text, blocks = _text_and_blocks(args)
    ws.record(Sent("update", channel, ts, text, blocks))
    # The description types chat.update's `message.blocks` as an object (Slack sends an array), so it is left out.
    return {"channel": channel, "ts": ts, "text": text, "message": {"text": text}}


def _post_ephemeral(ws: SlackWorkspace, request: Request, args: JSON) -> JSON:
    channel = _channel(ws, args)
    user = str(args.get("user") or "")
    if user not in ws.users:
        raise _Answer(_error("user_not_in_channel"))
    text, blocks = _text_and_blocks(args)
    ts = ws.next_ts()
    ws.record(Sent("ephemeral", channel, ts, text, blocks, user=user))
    return {"message_ts": ts}


def _users_info(ws: SlackWorkspace, request: Request, args: JSON) -> JSON:
    user = ws.users.get(str(args.get("user") or ""))
    if user is None:
        raise _Answer(_error("user_not_found"))
    return {"user": _user_object(ws, user)}


def _lookup_by_email(ws: SlackWorkspace, request: Request, args: JSON) -> JSON:
    """The member with this e-mail address (case-insensitive); Slack answers `users_not_found` otherwise."""
    wanted = str(args.get("email") or "").strip().casefold()
    user = next((u for u in ws.users.values() if wanted and u.email.casefold() == wanted), None)
    if user is None:
        raise _Answer(_error("users_not_found"))
    found = _user_object(ws, user)
    found["profile"]["email"] = user.email
    return {"user": found}


def _usergroup_users(ws: SlackWorkspace, request: Request, args: JSON) -> JSON:
    group = str(args.get("usergroup") or "")
    if group not in ws.usergroups:
        raise _Answer(_error("no_such_subteam"))
    return {"users": list(ws.usergroups[group])}


def _conversations_open(ws: SlackWorkspace, request: Request, args: JSON) -> JSON:
    """Open (or resume) the app's DM with one person. Group DMs (several `users`) are not simulated."""
    users = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
    channel = str(args.get("channel") or "")
    if not users and not channel:
        raise _Answer(_error("users_list_not_supplied"))
    if len(users) > 1:
        raise _Answer(_error("method_not_supported_for_channel_type"))
    if users:
        if users[0] not in ws.users:
            raise _Answer(_error("user_not_found"))
        dm = _dm_channel(users[0])
    else:
        if not channel.startswith("D") or ws.resolve_channel(channel) != channel:
            raise _Answer(_error("channel_not_found"))
        dm = channel
    already = dm in ws.open_dms
    ws.open_dms.add(dm)
    return {"channel": {"id": dm}, "already_open": already, "no_op": already}


def _connections_open(ws: SlackWorkspace, request: Request, args: JSON) -> JSON:
    host = request.url.netloc
    return {"url": f"ws://{host}/socket-mode/{ws.issue_ticket()}"}


_HANDLERS: dict[str, Callable[[SlackWorkspace, Request, JSON], JSON]] = {
    "auth.test": _auth_test,
    "conversations.open": _conversations_open,
    "chat.postMessage": _post_message,
    "chat.update": _update,
    "chat.postEphemeral": _post_ephemeral,
    "users.info": _users_info,
    "users.lookupByEmail": _lookup_by_email,
    "usergroups.users.list": _usergroup_users,
    "apps.connections.open": _connections_open,
}


def _socket(ws: SlackWorkspace) -> Callable[[WebSocket], Any]:
    async def endpoint(websocket: WebSocket) -> None:
        ticket = websocket.path_params["ticket"]
        if ticket not in ws._tickets:
            await websocket.close(code=4001)
            return
        await websocket.accept()
        entry = _Socket(websocket, asyncio.get_running_loop())
        ws.sockets.append(entry)
        hello = {
            "type": "hello",
            "num_connections": len(ws.sockets),
            "debug_info": {"host": "mendflow-sim", "approximate_connection_time": 3600},
            "connection_info": {"app_id": ws.app_id},
        }
        try:
            await websocket.send_text(json.dumps(hello))
            while True:
                message = await websocket.receive_text()
                try:
                    ack = json.loads(message)
                except ValueError:
                    continue
                if isinstance(ack, dict) and "envelope_id" in ack:
                    ws.acks.append(str(ack["envelope_id"]))
        except WebSocketDisconnect:
            pass
        finally:
            ws.sockets.remove(entry)

    return endpoint


def _response_url(ws: SlackWorkspace) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        target = ws._responses.get(request.path_params["token"])
        if target is None:
            return JSONResponse({"ok": False, "error": "expired_url"}, status_code=404)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"ok": False, "error": "invalid_payload"}, status_code=400)
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return JSONResponse({"ok": False, "error": "no_text"}, status_code=400)
        channel, user = target
        ws.record(
            Sent("response_url", channel, "", str(body.get("text") or ""), list(body.get("blocks") or []), user=user)
        )
        return JSONResponse({"ok": True})

    return endpoint


async def _sim_click(request: Request) -> Response:
    """`POST /_sim/click {"user", "campaign", "verdict", "reason"}`: a person clicks (for demos with curl)."""
    ws: SlackWorkspace = request.app.state.slack
    try:
        body = json.loads(await request.body())
        result = await ws.click(
            user=str(body["user"]),
            campaign_id=str(body["campaign"]),
            verdict=str(body.get("verdict", "approve")),
            reason=body.get("reason"),
            via=str(body.get("via", "http")),
        )
    except (ValueError, KeyError, TypeError) as err:
        return JSONResponse({"ok": False, "error": f"bad request: {err}"}, status_code=400)
    except SimError as err:
        return JSONResponse({"ok": False, "error": str(err)}, status_code=409)
    except httpx.HTTPError as err:
        return JSONResponse({"ok": False, "error": f"the app did not answer: {type(err).__name__}"}, status_code=502)
    if isinstance(result, str):
        return JSONResponse({"ok": True, "envelope_id": result})
    return JSONResponse({"ok": True, "app_status": result.status_code})


async def _sim_messages(request: Request) -> Response:
    ws: SlackWorkspace = request.app.state.slack
    return JSONResponse(
        [{"kind": s.kind, "channel": s.channel, "ts": s.ts, "user": s.user, "text": s.text} for s in ws.history]
    )


def create_slack_app(workspace: SlackWorkspace) -> Starlette:
    """The simulator app for `workspace` (also `app.state.slack`). Serve it and set `workspace.base_url`."""
    app = Starlette(
        routes=[
            Route("/api/{method}", _api(workspace), methods=["GET", "POST"]),
            WebSocketRoute("/socket-mode/{ticket}", _socket(workspace)),
            Route("/_sim/response/{token}", _response_url(workspace), methods=["POST"]),
            Route("/_sim/click", _sim_click, methods=["POST"]),
            Route("/_sim/messages", _sim_messages, methods=["GET"]),
        ]
    )
    app.state.slack = workspace
    return app


__all__ = ["BOT_SCOPES", "METHODS", "Fault", "Sent", "SimError", "SimUser", "SlackWorkspace", "create_slack_app"]
