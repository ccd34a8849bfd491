"""`websocket_server`: detectors connect to `ws://host:port/ws` and stream signals.

One canonical JSON object per message; the bot answers every message, in order, with a JSON
reply sent only once what the message did is durably recorded: an ack
`{"signal_id", "source", "outcome", "status", ...}` or an error (`"error"`, `"reason"`,
`"problems"`). A bad message never closes the connection. Messages are taken as they arrive
and their replies sent in batches after one commit, so a fast sender is not held to one
commit per message.

Connecting needs the token (`Authorization: Bearer <token>` or `?token=`), compared in
constant time, unless the server listens on a loopback address without one. Pings keep idle
connections alive and drop dead ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import socket
from typing import Any
from urllib.parse import parse_qs

from loguru import logger
from pydantic import Field, SecretStr, field_validator, model_validator
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from trading_bot.intake.gate import IntakeOutcome, IntakeResult
from trading_bot.intake.http_auth import Refusal, RefusalLog, tokens_match
from trading_bot.intake.listener import (
    IpAllowlist,
    ListenerParams,
    bind_listener,
    bound_port,
    check_secret_length,
    optional_secret,
    url_host,
)
from trading_bot.intake.parsing import PayloadError, load_json
from trading_bot.intake.source import SignalSource

PATH = "/ws"
Taken = tuple[IntakeResult, str]  # what a message did, and its error code if it was refused
FRAME_LIMIT = 1024 * 1024  # frames up to this get an error reply; larger ones close (1009)


class WebSocketServerParams(ListenerParams):
    port: int = Field(default=8765, ge=0, le=65535, description="0: any free port")
    auth_token: SecretStr | None = Field(
        default=None, description="clients send `Authorization: Bearer <token>` or ?token="
    )
    ping_interval_s: float = Field(default=20, gt=0, le=3600, description="heartbeat period")
    ping_timeout_s: float = Field(
        default=20, gt=0, le=3600, description="a connection silent this long after a ping closes"
    )

    @field_validator("auth_token", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return optional_secret(value)

    @field_validator("auth_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        return check_secret_length(value)

    @model_validator(mode="after")
    def _authenticated_unless_loopback(self) -> WebSocketServerParams:
        if self.auth_token is None and not self.loopback:
            raise ValueError(
                f"a WebSocket server on {self.host!r} (not a loopback address) needs "
                "auth_token, e.g. auth_token: ${DETECTOR_TOKEN}; without one only host "
                "127.0.0.1 is allowed"
            )
        return self


class WebSocketServerSource(SignalSource):
    Params = WebSocketServerParams
    params: WebSocketServerParams

    def __init__(self, params: WebSocketServerParams, name: str) -> None:  # type: ignore[override]
        super().__init__(params, name)
        self.port = params.port
        token = params.auth_token
        self._token = token.get_secret_value() if token is not None else None
        self._allowlist = IpAllowlist(params.allowed_ips)
        self._refusals = RefusalLog(name)
        self._server: Server | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"ws://{url_host(self.params.host)}:{self.port}{PATH}"

    def describe(self) -> str:
        auth = "token required" if self._token else "NO token (loopback only)"
        return f"WebSocket server on {self.url} ({auth})"

    async def start(self) -> None:
        if self._token is None:
            logger.warning(
                "intake {}: the WebSocket server has no auth_token: anyone on this machine "
                "can send signals (fine for local tests; set auth_token for anything else)",
                self.name,
            )
        params = self.params
        self._socket = bind_listener(params.host, params.port)
        self.port = bound_port(self._socket)
        self._server = await serve(
            self._connection,
            sock=self._socket,
            process_request=self._admit,
            ping_interval=params.ping_interval_s,
            ping_timeout=params.ping_timeout_s,
            max_size=max(FRAME_LIMIT, 4 * params.max_message_bytes),
            server_header=None,
        )

    async def run(self) -> None:
        await self.stopping.wait()
        await self.close()

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()  # connections get 1001 "going away"; senders resend what was unacked
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 10)

    # -- handshake ------------------------------------------------------------------------------

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse the upgrade (with a JSON reason) for a wrong path, address or token."""
        path, _, query = request.path.partition("?")
        peer = _peer(connection)
        try:
            if path != PATH:
                raise Refusal(404, "not_found", f"no WebSocket endpoint at {path}; use {PATH}")
            if not self._allowlist.allows(peer):
                raise Refusal(403, "ip_not_allowed", f"client address {peer} not allowed")
            if self._token is not None:
                given = _bearer(request.headers) or parse_qs(query).get("token", [None])[0]
                if not given:
                    raise Refusal(
                        401,
                        "missing_token",
                        "send the token as 'Authorization: Bearer <token>' or ?token=",
                    )
                if not tokens_match(given, self._token):
                    raise Refusal(401, "bad_token", "the token does not match")
        except Refusal as refusal:
            self._refusals.note(refusal, peer, "a WebSocket connection")
            self.channel.counts[f"refused {refusal.error}"] += 1
            return _json_response(connection, refusal.status, refusal.body())
        return None

    # -- messages -------------------------------------------------------------------------------

    async def _connection(self, connection: ServerConnection) -> None:
        """Take each message at once; a writer task sends the replies in order, each batch
        after one wait for the store."""
        peer = _peer(connection)
        replies: asyncio.Queue[Taken | None] = asyncio.Queue()
        writer = asyncio.create_task(self._reply(connection, replies))
        count = 0
        try:
            async for message in connection:
                count += 1
                replies.put_nowait(self._take(message, f"{peer} message {count}"))
        except ConnectionClosed:
            pass
        finally:
            replies.put_nowait(None)
            with contextlib.suppress(ConnectionClosed):
                await writer

    def _take(self, message: str | bytes, location: str) -> Taken:
        """Parsed here rather than in `offer`, so a malformed message is told apart from an
        invalid signal, and the reply to an invalid one names its signal_id."""
        try:
            payload = load_json(message, self.channel.max_bytes)
        except PayloadError as error:
            raw = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
            return self.channel.dead_letter(raw, location, error.problems), "malformed_json"
        return self.channel.offer(payload, location), "invalid_signal"

    async def _reply(
        self, connection: ServerConnection, replies: asyncio.Queue[Taken | None]
    ) -> None:
        while True:
            batch = [await replies.get()]
            while not replies.empty():
                batch.append(replies.get_nowait())
            taken = [item for item in batch if item is not None]
            if any(result.outcome in _RECORDED for result, _ in taken):
                await self.channel.recorded()
            for result, error in taken:
                await connection.send(json.dumps(self._answer(result, error)))
            if len(taken) < len(batch):  # the connection ended
                return

    def _answer(self, result: IntakeResult, error: str) -> dict[str, Any]:
        body = result.to_dict()
        if result.outcome is IntakeOutcome.INVALID:
            body["error"] = error
            body["reason"] = "; ".join(result.problems) or "not a valid signal"
        elif result.outcome is IntakeOutcome.RATE_LIMITED:
            rate = self.channel.rate
            retry_s = max(1, math.ceil((rate.wait_ms() if rate else 1000) / 1000))
            body["error"] = "rate_limited"
            body["reason"] = "; ".join(result.problems)
            body["retry_after_s"] = retry_s
        elif result.outcome is IntakeOutcome.PAUSED:
            body["error"] = "paused"
            body["reason"] = "; ".join(result.problems)
            body["retry_after_s"] = 5
        return body


_RECORDED = {IntakeOutcome.ACCEPTED, IntakeOutcome.DUPLICATE}


def _peer(connection: ServerConnection) -> str:
    address = connection.remote_address
    return str(address[0]) if address else "unknown"


def _bearer(headers: Headers) -> str | None:
    value = headers.get("Authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _json_response(connection: ServerConnection, status: int, body: dict[str, Any]) -> Response:
    response = connection.respond(status, json.dumps(body) + "\n")
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response
