"""Slack Socket Mode: receive button clicks over a WebSocket instead of a public HTTPS endpoint.

Uses slack-sdk's aiohttp `SocketModeClient` with the app-level token (`xapp-…`, scope `connections:write`).
Each `interactive` envelope is acknowledged at once and its payload goes to the same `SlackInteractions` handler
as `POST /slack/interactivity` — minus the signature check, since the socket is authenticated by the app token.

The first `apps.connections.open` is made here, so a wrong or under-scoped app token is one `SlackAuthError` at
start instead of the SDK's endless reconnect loop; reconnects after that are the SDK's business.
"""

from __future__ import annotations

from types import TracebackType

from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from mendflow.api.slack_interactivity import PayloadError, SlackInteractions
from mendflow.integrations.slack import DEFAULT_BASE_URL, SlackCards
from mendflow.secrets import SecretRef


class SlackSocketMode:
    """A running Socket Mode connection that feeds clicks to `interactions` (use `async with`)."""

    def __init__(
        self,
        *,
        app_token: str | SecretRef,
        interactions: SlackInteractions,
        token_ref: str = "",
        base_url: str = DEFAULT_BASE_URL,
        ping_interval: float = 10.0,
        timeout: int = 10,
    ) -> None:
        # A SlackCards for the app token gives us its error translation (SlackAuthError naming the reference).
        self._web = SlackCards(
            app_token, token_ref=token_ref or "the Slack app-level token", base_url=base_url, timeout=timeout
        )
        self.interactions = interactions
        self.ping_interval = ping_interval
        self.client: SocketModeClient | None = None
        self.acked = 0

    async def start(self) -> None:
        """Open the connection (raises SlackAuthError / ConnectionProblem if Slack refuses or is unreachable)."""
        web = self._web.client
        token = web.token or ""
        web.token = None  # the app token travels only as apps.connections.open's Authorization header
        opened = await self._web.call("apps.connections.open", lambda: web.apps_connections_open(app_token=token))
        client = SocketModeClient(app_token=token, web_client=web, ping_interval=self.ping_interval)
        client.socket_mode_request_listeners.append(self._on_request)
        client.wss_uri = str(opened["url"])
        self.client = client
        await client.connect()  # type: ignore[no-untyped-call]

    async def _on_request(self, client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        self.acked += 1
        if request.type != "interactive":
            return
        try:
            self.interactions.accept(request.payload, transport="socket")
        except PayloadError as err:
            self.interactions.refuse_request("socket", f"malformed payload: {err}", field=err.path)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()  # type: ignore[no-untyped-call]
            self.client = None

    async def __aenter__(self) -> SlackSocketMode:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()


__all__ = ["SlackSocketMode"]
