"""Fault injection and request-weight limits: the failures a live connector must survive.

Rules match a request by method and path (`*` matches any) and apply to the next `count`
matching requests (None: until cleared):

- `status`: answer at once with `status` (500, 502, 503, 504, 429, 418, ...) and the body
  Binance sends with it (JSON -1001 for 500, an HTML page for 502/503/504, -1003 for 429
  and 418); `code` / `msg` replace the JSON body. A 429 or 418 carries a `Retry-After`
  header, as Binance's do: `retry_after` (seconds, or any text: an HTTP date, or garbage a
  client must survive; None: no header), by default 1 s for a 429 and the default ban's
  length (`BAN_S`) for a 418.
- `delay`: hold the request `delay_s`, then process it: a client that gave up before may
  still find its order placed.
- `drop`: close the connection without reading or answering the request.
- `timeout_after_accept`: process the request (the order IS placed), then hold the reply
  `delay_s` (past the client's timeout) or, with `drop_connection`, close the connection
  instead of answering.

WebSockets: `FaultInjector.drop_websockets()` closes every open WebSocket connection now; a
`status` or `drop` rule whose path is a WebSocket route (`/ws-api/v3`, `/stream/ws/0`...)
refuses the handshake (HTTP 403), so a dropped stream cannot come back while it is in force.
`requests` lists the latest requests the API saw, `(method, path)` (`WS` for a handshake), and
`request_count` counts them all, so a test can tell that a client sent nothing.
Rules are set from Python (`server.faults.inject(FaultRule(...))`) or over HTTP
(`POST /_admin/faults` with the rule as JSON) for a server in another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trading_bot.venues.server.errors import INTERNAL

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
BAN_S = 120  # a 418's ban with the default body (and its Retry-After)
RETRY_AFTER_STATUSES = (418, 429)


class FaultRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["status", "delay", "drop", "timeout_after_accept"]
    method: str = "*"
    path: str = "*"
    count: int | None = Field(default=1, ge=1)
    status: int = 503
    code: int | None = None
    msg: str | None = None
    delay_s: float = Field(default=30.0, ge=0)
    drop_connection: bool = False
    # the Retry-After header sent with a 429 / 418 (None: none); unset: Binance's (see below)
    retry_after: int | str | None = 1

    @model_validator(mode="before")
    @classmethod
    def _binance_retry_after(cls, data: Any) -> Any:
        """Unset, `retry_after` is what Binance sends: the ban's length with a 418."""
        if isinstance(data, dict) and "retry_after" not in data and data.get("status") == 418:
            return {**data, "retry_after": BAN_S}
        return data

    def matches(self, method: str, path: str, *, exact_path: bool = False) -> bool:
        return (self.method == "*" or self.method.upper() == method) and (
            (self.path == "*" and not exact_path) or self.path == path
        )


def fault_headers(rule: FaultRule) -> list[tuple[bytes, bytes]]:
    """The headers Binance sends with `rule.status` besides the content type: Retry-After with
    a 429 or 418."""
    if rule.status not in RETRY_AFTER_STATUSES or rule.retry_after is None:
        return []
    return [(b"retry-after", str(rule.retry_after).encode())]


def fault_body(rule: FaultRule, now_ms: int) -> tuple[bytes, str]:
    """The body Binance (or its CDN) sends with `rule.status`, and its content type."""
    status = rule.status
    if rule.code is not None or rule.msg is not None:
        body = {"code": rule.code if rule.code is not None else -1000, "msg": rule.msg or ""}
        return json.dumps(body).encode(), "application/json"
    if status == 418:
        until = now_ms + BAN_S * 1000
        return json.dumps(
            {
                "code": -1003,
                "msg": f"Way too much request weight used; IP banned until {until}. Please use "
                "WebSocket Streams for live updates to avoid bans.",
            }
        ).encode(), "application/json"
    if status == 429:
        return json.dumps(
            {
                "code": -1003,
                "msg": "Too many requests; current limit of IP is 6000 requests per minute. "
                "Please use WebSocket Streams for live updates to avoid polling the API.",
            }
        ).encode(), "application/json"
    if status in (502, 503, 504):
        text = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Time-out"}[status]
        html = f"<html><head><title>{status} {text}</title></head><body><center><h1>{status} {text}</h1></center></body></html>"
        return html.encode(), "text/html"
    return json.dumps({"code": -1001, "msg": INTERNAL}).encode(), "application/json"


@dataclass
class FaultInjector:
    """The rules in force, the WebSockets to drop, and the request-weight limit."""

    rules: list[FaultRule] = field(default_factory=list)
    weight_limit: int | None = None
    hits: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, method, path)
    # the latest requests, (method or WS, path), and how many there were in all
    requests: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=10_000))
    request_count: int = 0
    _websockets: set[Any] = field(default_factory=set)
    _transports: dict[Any, asyncio.Transport] = field(default_factory=dict)
    _window: int = -1
    _used: int = 0

    def inject(self, rule: FaultRule | dict[str, Any]) -> FaultRule:
        rule = rule if isinstance(rule, FaultRule) else FaultRule.model_validate(rule)
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def take(self, method: str, path: str, *, exact_path: bool = False) -> FaultRule | None:
        """The first rule for this request (counted down), or None. `exact_path`: rules for
        any path (`*`) do not apply (WebSocket handshakes are refused only by name)."""
        for rule in self.rules:
            if rule.matches(method, path, exact_path=exact_path):
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self.rules.remove(rule)
                self.hits.append((rule.kind, method, path))
                return rule
        return None

    def note_request(self, method: str, path: str) -> None:
        self.requests.append((method, path))
        self.request_count += 1

    def use_weight(self, weight: int, now_ms: int) -> tuple[int, bool]:
        """Count `weight` in this minute's window: (weight used, over the limit?)."""
        window = now_ms // 60_000
        if window != self._window:
            self._window, self._used = window, 0
        self._used += weight
        return self._used, self.weight_limit is not None and self._used > self.weight_limit

    # -- WebSockets -----------------------------------------------------------------------------

    def track_websocket(self, socket: Any) -> None:
        self._websockets.add(socket)

    def untrack_websocket(self, socket: Any) -> None:
        self._websockets.discard(socket)

    async def drop_websockets(self, code: int = 1012) -> int:
        """Close every open WebSocket connection now (1012: service restart)."""
        sockets = list(self._websockets)
        for socket in sockets:
            with contextlib.suppress(Exception):  # already gone
                await socket.close(code=code)
        self._websockets.clear()
        return len(sockets)

    # -- connections (for `drop`) ---------------------------------------------------------------

    def connection_made(self, peer: Any, transport: asyncio.Transport) -> None:
        self._transports[peer] = transport

    def connection_lost(self, peer: Any) -> None:
        self._transports.pop(peer, None)

    def abort(self, peer: Any) -> None:
        transport = self._transports.pop(tuple(peer) if peer else None, None)
        if transport is not None:
            transport.abort()


ENDPOINT_WEIGHTS = {
    "/api/v3/exchangeInfo": 20,
    "/api/v3/account": 20,
    "/api/v3/depth": 5,
    "/api/v3/allOrders": 20,
    "/api/v3/myTrades": 20,
    "/api/v3/openOrders": 6,
    "/api/v3/ticker/24hr": 2,
}


class FaultMiddleware:
    """ASGI middleware in front of the API applying the injector's rules."""

    def __init__(self, app: ASGIApp, faults: FaultInjector, now_ms: Callable[[], int]) -> None:
        self.app = app
        self.faults = faults
        self._now_ms = now_ms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http" or scope["path"].startswith("/_admin"):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        faults = self.faults
        faults.note_request(method, path)
        now_ms = self._now_ms()
        used, over = faults.use_weight(ENDPOINT_WEIGHTS.get(path, 1), now_ms)
        weight_header = (b"x-mbx-used-weight-1m", str(used).encode())
        if over:
            body = json.dumps(
                {
                    "code": -1003,
                    "msg": f"Too much request weight used; current limit is "
                    f"{faults.weight_limit} request weight per 1 MINUTE. Please use WebSocket "
                    "Streams for live updates to avoid polling the API.",
                }
            ).encode()
            # Retry-After: the seconds until this minute's window ends, rounded up
            window_left_s = math.ceil((60_000 - now_ms % 60_000) / 1000)
            retry_after = (b"retry-after", str(window_left_s).encode())
            await _reply(send, 429, body, "application/json", [weight_header, retry_after])
            return
        rule = faults.take(method, path)
        if rule is None:
            await self.app(scope, receive, _with_header(send, weight_header))
            return
        if rule.kind == "status":
            body, content_type = fault_body(rule, now_ms)
            await _reply(
                send, rule.status, body, content_type, [weight_header, *fault_headers(rule)]
            )
        elif rule.kind == "drop":
            faults.abort(scope.get("client"))
        elif rule.kind == "delay":
            # the request has arrived: read it now, so it is processed even if the client
            # gives up (closes the connection) while it is held, as a venue would
            arrived = await _read_request(receive)
            await asyncio.sleep(rule.delay_s)
            await self.app(scope, arrived, _with_header(send, weight_header))
        else:  # timeout_after_accept: do it, then do not answer in time
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
            if rule.drop_connection:
                faults.abort(scope.get("client"))
                return
            await asyncio.sleep(rule.delay_s)
            for message in held:
                await send(message)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A handshake: refused while a `status` / `drop` rule names its path."""
        path = scope["path"]
        self.faults.note_request("WS", path)
        rule = self.faults.take("GET", path, exact_path=True)
        if rule is None or rule.kind not in ("status", "drop"):
            await self.app(scope, receive, send)
            return
        message = await receive()  # websocket.connect
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close", "code": 1013})  # before accept: HTTP 403


async def _read_request(receive: Receive) -> Receive:
    """Read the whole request body now; a `receive` that hands it to the app later."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body"):
            break

    async def replay() -> Message:
        if messages:
            return messages.pop(0)
        return await receive()  # the app waiting for a disconnect gets it from the server

    return replay


def _with_header(send: Send, header: tuple[bytes, bytes]) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), header]}
        await send(message)

    return wrapped


async def _reply(
    send: Send, status: int, body: bytes, content_type: str, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
