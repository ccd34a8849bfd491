"""WebSocket side: Binance market streams and the WebSocket API's user data stream.

- `/stream/ws[/{n}]` (and `/ws[/{n}]`): raw market streams. A client sends
  `{"method": "SUBSCRIBE", "params": ["btcusdt@trade", ...], "id": 1}` and gets
  `{"result": null, "id": 1}`, then the events: `<sym>@trade` (one print per bar as it
  closes), `<sym>@depth` / `<sym>@depth@100ms` (diffs whose `U`/`u` continue
  GET /api/v3/depth's `lastUpdateId`), `<sym>@miniTicker`, `<sym>@kline_<interval>`,
  `<sym>@bookTicker`.
- `/ws-api/v3`: `userDataStream.subscribe.signature` (what ccxt 4.5 sends), answered with a
  `subscriptionId`; then `{"subscriptionId": n, "event": {...}}` for every
  `executionReport` and `outboundAccountPosition`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from loguru import logger

from trading_bot.engine.clock import Clock
from trading_bot.venues.server.auth import RequestSigning
from trading_bot.venues.server.errors import BinanceError
from trading_bot.venues.server.faults import FaultInjector
from trading_bot.venues.server.formats import INTERVALS_MS, num
from trading_bot.venues.server.market_feed import BookDiff, SymbolFeed
from trading_bot.venues.server.venue import SpotVenue

HEARTBEAT_MS = 1_000  # an empty depth diff at least this often, so book watchers resolve
MAX_TRADES_PER_TURN = 100


class _Session:
    def __init__(self, socket: WebSocket) -> None:
        self.socket = socket
        self.streams: set[str] = set()
        self.queue: asyncio.Queue[dict[str, Any] | list[Any]] = asyncio.Queue()

    async def send_forever(self) -> None:
        while True:
            message = await self.queue.get()
            await self.socket.send_text(json.dumps(message))


class MarketHub:
    """Subscriptions per connection, and one task per market pushing what happens."""

    def __init__(self, venue: SpotVenue) -> None:
        self.venue = venue
        self.clock: Clock = venue.clock
        self.sessions: set[_Session] = set()
        self._tasks: list[asyncio.Task[None]] = []
        for feed in venue.feeds.values():
            feed.book_listeners.append(self._book_changed)

    def start(self) -> None:
        for feed in self.venue.feeds.values():
            self._tasks.append(asyncio.create_task(self._pump(feed), name=f"pump {feed.symbol}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def publish(self, stream: str, payload: dict[str, Any]) -> None:
        for session in self.sessions:
            if stream in session.streams:
                session.queue.put_nowait(payload)

    def wanted(self, stream: str) -> bool:
        return any(stream in s.streams for s in self.sessions)

    def _book_changed(self, feed: SymbolFeed, diff: BookDiff) -> None:
        name = feed.market_id.lower()
        event = {
            "e": "depthUpdate",
            "E": self.clock.now_ms(),
            "s": feed.market_id,
            "U": diff.first_id,
            "u": diff.last_id,
            "b": [[num(p), num(q)] for p, q in diff.bids],
            "a": [[num(p), num(q)] for p, q in diff.asks],
        }
        self.publish(f"{name}@depth", event)
        self.publish(f"{name}@depth@100ms", event)
        if feed.book.bids and feed.book.asks and self.wanted(f"{name}@bookTicker"):
            (bid, bid_qty), (ask, ask_qty) = feed.book.bids[0], feed.book.asks[0]
            self.publish(
                f"{name}@bookTicker",
                {
                    "u": diff.last_id,
                    "s": feed.market_id,
                    "b": num(bid),
                    "B": num(bid_qty),
                    "a": num(ask),
                    "A": num(ask_qty),
                },
            )

    async def _pump(self, feed: SymbolFeed) -> None:
        clock = self.clock
        name = feed.market_id.lower()
        last = feed.last_closed(clock.now_ms())
        last_book_ms = clock.now_ms()
        count = len(feed.close_ms)
        while True:
            now = clock.now_ms()
            index = feed.last_closed(now)
            if index > last:
                for i in range(max(last + 1, index - MAX_TRADES_PER_TURN + 1), index + 1):
                    trade = feed.trade(i)
                    self.publish(
                        f"{name}@trade",
                        {
                            "e": "trade",
                            "E": now,
                            "s": feed.market_id,
                            "t": trade.trade_id,
                            "p": num(trade.price),
                            "q": num(trade.qty),
                            "T": trade.time_ms,
                            "m": trade.buyer_is_maker,
                            "M": True,
                        },
                    )
                last = index
                self._publish_ticker(feed, name, now)
                self._publish_klines(feed, name, now)
            if feed.refresh_book(now) is not None:
                last_book_ms = now
            elif now - last_book_ms >= HEARTBEAT_MS:
                feed.touch_book()
                last_book_ms = now
            wait_ms = HEARTBEAT_MS
            if index + 1 < count:
                wait_ms = min(wait_ms, int(feed.close_ms[index + 1]) - now)
            await asyncio.sleep(max(wait_ms, 10) / 1000)

    def _publish_ticker(self, feed: SymbolFeed, name: str, now: int) -> None:
        stream = f"{name}@miniTicker"
        if not self.wanted(stream):
            return
        stats = feed.stats_24h(now)
        self.publish(
            stream,
            {
                "e": "24hrMiniTicker",
                "E": now,
                "s": feed.market_id,
                "c": num(stats["last"]),  # type: ignore[arg-type]
                "o": num(stats["open"]),  # type: ignore[arg-type]
                "h": num(stats["high"]),  # type: ignore[arg-type]
                "l": num(stats["low"]),  # type: ignore[arg-type]
                "v": num(stats["volume"]),  # type: ignore[arg-type]
                "q": num(stats["quote_volume"]),  # type: ignore[arg-type]
            },
        )

    def _publish_klines(self, feed: SymbolFeed, name: str, now: int) -> None:
        for interval, interval_ms in INTERVALS_MS.items():
            stream = f"{name}@kline_{interval}"
            if not self.wanted(stream):
                continue
            rows = feed.klines(interval_ms, now, start_ms=None, end_ms=None, limit=1)
            if not rows:
                continue
            row = rows[-1]
            self.publish(
                stream,
                {
                    "e": "kline",
                    "E": now,
                    "s": feed.market_id,
                    "k": {
                        "t": row[0],
                        "T": row[6],
                        "s": feed.market_id,
                        "i": interval,
                        "f": -1,
                        "L": -1,
                        "o": row[1],
                        "c": row[4],
                        "h": row[2],
                        "l": row[3],
                        "v": row[5],
                        "n": row[8],
                        "x": now > int(row[6]),  # type: ignore[call-overload]
                        "q": row[7],
                        "V": "0",
                        "Q": "0",
                        "B": "0",
                    },
                },
            )


def add_websocket_routes(
    app: FastAPI,
    venue: SpotVenue,
    hub: MarketHub,
    signing: RequestSigning,
    faults: FaultInjector,
) -> None:
    subscription_ids = itertools.count()

    async def market_streams(socket: WebSocket) -> None:
        await socket.accept()
        faults.track_websocket(socket)
        session = _Session(socket)
        hub.sessions.add(session)
        sender = asyncio.create_task(session.send_forever())
        try:
            while True:
                message = json.loads(await socket.receive_text())
                request_id = message.get("id")
                method = str(message.get("method", "")).upper()
                params = [str(p).lower() for p in message.get("params") or []]
                if method == "SUBSCRIBE":
                    unknown = [
                        p for p in params if p.split("@", 1)[0].upper() not in venue.by_market_id
                    ]
                    if unknown:
                        session.queue.put_nowait(
                            {
                                "error": {
                                    "code": 2,
                                    "msg": f"Invalid request: unknown stream {unknown[0]}",
                                },
                                "id": request_id,
                            }
                        )
                        continue
                    session.streams.update(params)
                    session.queue.put_nowait({"result": None, "id": request_id})
                elif method == "UNSUBSCRIBE":
                    session.streams.difference_update(params)
                    session.queue.put_nowait({"result": None, "id": request_id})
                elif method == "LIST_SUBSCRIPTIONS":
                    session.queue.put_nowait({"result": sorted(session.streams), "id": request_id})
                else:
                    session.queue.put_nowait(
                        {
                            "error": {"code": 1, "msg": "Invalid request: unknown method"},
                            "id": request_id,
                        }
                    )
        except (WebSocketDisconnect, RuntimeError, json.JSONDecodeError):
            pass
        finally:
            hub.sessions.discard(session)
            faults.untrack_websocket(socket)
            sender.cancel()

    for path in ("/stream/ws", "/stream/ws/{n}", "/ws", "/ws/{n}"):
        app.add_api_websocket_route(path, market_streams)

    @app.websocket("/ws-api/v3")
    async def websocket_api(socket: WebSocket) -> None:
        await socket.accept()
        faults.track_websocket(socket)
        session = _Session(socket)
        sender = asyncio.create_task(session.send_forever())
        listeners: dict[int, Any] = {}

        def reply(request_id: Any, result: Any) -> None:
            session.queue.put_nowait(
                {"id": request_id, "status": 200, "result": result, "rateLimits": []}
            )

        def fail(request_id: Any, error: BinanceError) -> None:
            session.queue.put_nowait(
                {
                    "id": request_id,
                    "status": error.status,
                    "error": {"code": error.code, "msg": error.msg},
                }
            )

        try:
            while True:
                message = json.loads(await socket.receive_text())
                request_id = message.get("id")
                method = message.get("method")
                params = message.get("params") or {}
                try:
                    if method == "userDataStream.subscribe.signature":
                        signing.verify_ws(params)
                        subscription = next(subscription_ids)

                        def forward(event: dict[str, Any], sid: int = subscription) -> None:
                            session.queue.put_nowait({"subscriptionId": sid, "event": event})

                        listeners[subscription] = forward
                        venue.ledger.listeners.append(forward)
                        reply(request_id, {"subscriptionId": subscription})
                    elif method == "userDataStream.unsubscribe":
                        wanted = params.get("subscriptionId")
                        for sid in [s for s in listeners if wanted is None or s == wanted]:
                            venue.ledger.listeners.remove(listeners.pop(sid))
                        reply(request_id, {})
                    elif method == "session.subscriptions":
                        reply(request_id, [{"subscriptionId": s} for s in listeners])
                    elif method == "ping":
                        reply(request_id, {})
                    elif method == "time":
                        reply(request_id, {"serverTime": venue.clock.now_ms()})
                    else:
                        raise BinanceError(-1100, f"Unknown method {method!r}.")
                except BinanceError as error:
                    fail(request_id, error)
        except (WebSocketDisconnect, RuntimeError, json.JSONDecodeError):
            pass
        except Exception:
            logger.exception("venue server: WebSocket API session failed")
        finally:
            for forward in listeners.values():
                with contextlib.suppress(ValueError):
                    venue.ledger.listeners.remove(forward)
            faults.untrack_websocket(socket)
            sender.cancel()
