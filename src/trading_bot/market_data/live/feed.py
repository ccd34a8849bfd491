"""`LiveMarketFeed`: ccxt.pro streams into the bot's trades, closed bars, books and prices.

One asyncio task per (symbol, stream) calls the ccxt.pro `watch_*` method in a loop. ccxt
keeps the connection, the subscriptions and the order book (by update ids); this loop adds
what a bot needs on top:

- **Reconnection.** Any failure of a watch call (dropped connection, refused dial, a book that
  lost sync) is retried after a jittered exponential backoff; ccxt reconnects and resubscribes
  on the next call. An outage is logged once when it starts and once when it ends, with the
  exception's type and a text with URLs cut to scheme/host/path and the exchange's
  credentials masked.
- **Gaps.** Trades: Binance numbers them consecutively per symbol, so a jump in ids is a gap
  (counted, logged once with the missing range, optionally backfilled through REST
  `fetch_trades`). Order book: ccxt raises `ChecksumError` (an `InvalidNonce`) when an update
  does not follow the previous one, after dropping its book and subscription; here that is a
  gap: the book handed to consumers is cleared (a stale book is worse than none) and the next
  watch call subscribes again, which makes ccxt fetch a fresh snapshot. Staleness: a stream
  with no update for `stale_after_s` is a gap too; its connection is failed so ccxt dials a
  new one (other streams on that connection reconnect with it).
- **Bounded hand-over.** Consumers read through `LatestOnly` (books) or `DropOldest` (trades,
  bars) buffers, or synchronous callbacks: a slow consumer loses old data (counted), the feed
  never waits for it and memory never grows.

Time comes from the `Clock` (bar closing timers, the time a price became known); only the
reconnect backoff and the staleness timeout use asyncio's own timers. `stop()` cancels the
loops and closes the consumer buffers; the exchange belongs to the caller and stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

from ccxt.base.errors import ExchangeClosedByUser, InvalidNonce, RequestTimeout
from loguru import logger

from trading_bot.engine.clock import Clock
from trading_bot.intake.remote import safe_url
from trading_bot.intake.source import Backoff
from trading_bot.market_data.bars import Bar
from trading_bot.market_data.live.book import BookSnapshot, snapshot_from_ccxt
from trading_bot.market_data.live.buffers import DropOldest, LatestOnly
from trading_bot.market_data.live.prices import LivePrices
from trading_bot.market_data.live.sequence import TradeIdGap
from trading_bot.market_data.live.symbol_trades import SymbolTrades
from trading_bot.market_data.live.trades import LiveTrade, trade_from_ccxt
from trading_bot.monitoring.logging import SecretMasker

StreamKind = Literal["trades", "order_book", "ohlcv"]
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_MAX_ERROR_TEXT = 300


@dataclass(frozen=True, slots=True)
class ClosedBar:
    symbol: str
    bar: Bar
    # "trades": built here from the trade stream; "exchange": the exchange's own candle
    source: Literal["trades", "exchange"]


@dataclass(frozen=True, slots=True)
class FeedSettings:
    trades: bool = True
    order_book: bool = True
    # also watch the exchange's candles of this timeframe ("1m"); None: only bars from trades
    ohlcv_timeframe: str | None = None
    bar_interval_ms: int = 60_000
    # a bar is closed by time this long after its end, so trades stamped just before the end
    # that are still on the way are not late
    bar_close_delay_ms: int = 2_000
    book_depth: int = 20  # levels copied into each `BookSnapshot`
    order_book_limit: int | None = None  # passed to watch_order_book (None: ccxt's default)
    marks_from_book: bool = True  # book mids move `LivePrices` too (trades always do)
    stale_after_s: float | None = 60.0  # no update for this long: a gap, reconnect
    backfill_gaps: bool = False  # fetch missing trades through REST `fetch_trades`
    backfill_timeout_s: float = 10.0
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 30.0


@dataclass(slots=True)
class StreamStats:
    messages: int = 0  # updates taken (each trade of a batch counts)
    failures: int = 0  # watch calls that raised (each is followed by a retry)
    reconnects: int = 0  # times the stream worked again after failures
    gaps: int = 0  # trade-id jumps, order book resyncs, stale periods
    stale: int = 0  # of which: no update for `stale_after_s`
    last_update_ms: int | None = None


@dataclass(frozen=True, slots=True)
class FeedStats:
    """Counters of the whole feed, as plain numbers a metrics layer can read."""

    messages: int
    gaps: int
    reconnects: int
    failures: int
    stale: int
    dropped: int  # items consumers' buffers dropped unread
    coalesced: int  # book snapshots replaced unread
    late_trades: int  # trades for bars already closed, dropped
    missing_trades: int  # trade ids never received (gaps minus backfilled)
    backfilled_trades: int
    subscriber_errors: int
    streams: dict[str, StreamStats] = field(default_factory=dict)


@dataclass(eq=False, slots=True)
class _Stream:
    symbol: str
    kind: StreamKind
    message_hash: str  # ccxt's key for the subscription (to find its connection)
    stats: StreamStats = field(default_factory=StreamStats)

    @property
    def key(self) -> str:
        return f"{self.symbol} {self.kind}"


class StaleStream(Exception):
    """A subscribed stream sent nothing for `stale_after_s`."""


_Callback = Callable[[Any], None]


class LiveMarketFeed:
    def __init__(
        self,
        exchange: Any,
        symbols: Iterable[str],
        clock: Clock,
        prices: LivePrices | None = None,
        settings: FeedSettings | None = None,
    ) -> None:
        """`exchange`: a ccxt.pro exchange, configured by the caller (URLs, options) and
        closed by the caller. `prices`: the `LivePrices` to move (one is made if None)."""
        self.exchange = exchange
        self.symbols = list(dict.fromkeys(symbols))
        self.clock = clock
        self.prices = prices if prices is not None else LivePrices(clock)
        self.settings = settings or FeedSettings()
        self._streams = self._plan_streams()
        self._trades = {s: self._symbol_trades(s) for s in self.symbols}
        self._last_candle: dict[str, list[Any]] = {}
        self._trade_buffers: list[tuple[frozenset[str] | None, DropOldest[LiveTrade]]] = []
        self._bar_buffers: list[DropOldest[ClosedBar]] = []
        self._book_slots: dict[str, list[LatestOnly[BookSnapshot]]] = {s: [] for s in self.symbols}
        self._trade_callbacks: list[_Callback] = []
        self._bar_callbacks: list[_Callback] = []
        self._book_callbacks: list[_Callback] = []
        self._failed_callbacks: set[int] = set()
        self._subscriber_errors = 0
        self._backfilled = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._masker = SecretMasker(
            str(getattr(exchange, name, "") or "")
            for name in ("apiKey", "secret", "password", "uid", "privateKey", "token")
        )

    # ---- subscribing ---------------------------------------------------------------------

    def on_trade(self, callback: Callable[[LiveTrade], None]) -> None:
        """Call `callback` with every trade taken, in trade-id order (on the feed's task: it
        must not block; an exception is logged and counted, the feed goes on)."""
        self._trade_callbacks.append(callback)

    def on_bar(self, callback: Callable[[ClosedBar], None]) -> None:
        self._bar_callbacks.append(callback)

    def on_book(self, callback: Callable[[BookSnapshot], None]) -> None:
        self._book_callbacks.append(callback)

    def trade_buffer(
        self, symbols: Iterable[str] | None = None, maxlen: int = 10_000
    ) -> DropOldest[LiveTrade]:
        """Trades (of `symbols`, or all) for a consumer task; the oldest are dropped when the
        consumer falls `maxlen` behind."""
        buffer: DropOldest[LiveTrade] = DropOldest(maxlen)
        wanted = frozenset(symbols) if symbols is not None else None
        self._trade_buffers.append((wanted, buffer))
        return buffer

    def bar_buffer(self, maxlen: int = 1_000) -> DropOldest[ClosedBar]:
        buffer: DropOldest[ClosedBar] = DropOldest(maxlen)
        self._bar_buffers.append(buffer)
        return buffer

    def book_slot(self, symbol: str) -> LatestOnly[BookSnapshot]:
        """The newest book of `symbol` for a consumer task (older unread ones are skipped;
        cleared when the book had a gap)."""
        if symbol not in self._book_slots:
            raise KeyError(f"{symbol} is not one of the feed's symbols")
        slot: LatestOnly[BookSnapshot] = LatestOnly()
        self._book_slots[symbol].append(slot)
        return slot

    # ---- running -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start one watch task per stream (returns at once; data arrives as it comes)."""
        if self._tasks:
            return
        self._stopping.clear()
        for stream in self._streams:
            task = asyncio.create_task(self._watch(stream), name=f"feed {stream.key}")
            self._tasks.append(task)

    async def stop(self) -> None:
        """Cancel the watch loops and timers and end the consumer buffers. The exchange and
        its connections stay as they are: they belong to the caller."""
        self._stopping.set()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for flow in self._trades.values():
            flow.stop()
        for _, buffer in self._trade_buffers:
            buffer.close()
        for bars in self._bar_buffers:
            bars.close()
        for slots in self._book_slots.values():
            for slot in slots:
                slot.close()

    @property
    def running(self) -> bool:
        return any(not task.done() for task in self._tasks)

    def stats(self) -> FeedStats:
        streams = {s.key: replace(s.stats) for s in self._streams}
        values = list(streams.values())
        book_slots = [slot for slots in self._book_slots.values() for slot in slots]
        return FeedStats(
            messages=sum(s.messages for s in values),
            gaps=sum(s.gaps for s in values),
            reconnects=sum(s.reconnects for s in values),
            failures=sum(s.failures for s in values),
            stale=sum(s.stale for s in values),
            dropped=sum(b.dropped for _, b in self._trade_buffers)
            + sum(b.dropped for b in self._bar_buffers),
            coalesced=sum(slot.coalesced for slot in book_slots),
            late_trades=sum(f.bars.late_trades for f in self._trades.values()),
            missing_trades=sum(f.sequence.missing_trades for f in self._trades.values()),
            backfilled_trades=self._backfilled,
            subscriber_errors=self._subscriber_errors,
            streams=streams,
        )

    # ---- the watch loop ------------------------------------------------------------------

    def _plan_streams(self) -> list[_Stream]:
        settings = self.settings
        streams: list[_Stream] = []
        for symbol in self.symbols:
            if settings.trades:
                streams.append(_Stream(symbol, "trades", f"trade::{symbol}"))
            if settings.order_book:
                streams.append(_Stream(symbol, "order_book", f"orderbook::{symbol}"))
            if settings.ohlcv_timeframe:
                hash_ = f"ohlcv::{symbol}::{settings.ohlcv_timeframe}"
                streams.append(_Stream(symbol, "ohlcv", hash_))
        return streams

    async def _watch(self, stream: _Stream) -> None:
        settings = self.settings
        backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s)
        failing = 0  # failed calls in the current outage
        while not self._stopping.is_set():
            try:
                update = await self._next_update(stream)
            except asyncio.CancelledError:
                raise
            except ExchangeClosedByUser:
                logger.info(
                    "feed {}: the exchange was closed by its owner; stream ends", stream.key
                )
                return
            except Exception as error:  # every failure of a watch call is a reason to retry
                failing += 1
                self._failed(stream, error, attempt=failing)
                await backoff.wait(self._stopping)
                continue
            stream.stats.last_update_ms = self.clock.now_ms()
            if failing:
                logger.info(
                    "feed {}: receiving again after {} failed attempt(s)", stream.key, failing
                )
                failing = 0
                backoff.reset()
                stream.stats.reconnects += 1
            try:
                await self._take(stream, update)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("feed {}: an update could not be handled", stream.key)

    async def _next_update(self, stream: _Stream) -> Any:
        call = self._watch_call(stream)
        timeout = self.settings.stale_after_s
        if timeout is None:
            return await call
        try:
            return await asyncio.wait_for(call, timeout)
        except TimeoutError:
            raise StaleStream(f"no update for {timeout:g} s") from None

    def _watch_call(self, stream: _Stream) -> Awaitable[Any]:
        exchange, symbol = self.exchange, stream.symbol
        # a fresh params dict each call: ccxt writes into the one it is given
        if stream.kind == "trades":
            return exchange.watch_trades(symbol, None, None, {})
        if stream.kind == "order_book":
            return exchange.watch_order_book(symbol, self.settings.order_book_limit, {})
        return exchange.watch_ohlcv(symbol, self.settings.ohlcv_timeframe, None, None, {})

    def _failed(self, stream: _Stream, error: Exception, *, attempt: int) -> None:
        """Count and tell one failed watch call (`attempt`: its number in this outage)."""
        stats = stream.stats
        stats.failures += 1
        reason = self._describe(error)
        gap = isinstance(error, StaleStream) or (
            stream.kind == "order_book" and isinstance(error, InvalidNonce)
        )
        if gap:
            stats.gaps += 1
        if isinstance(error, StaleStream):
            stats.stale += 1
            self._drop_connection(stream, str(error))
        if stream.kind == "order_book":
            for slot in self._book_slots[stream.symbol]:
                slot.clear()  # whatever comes next is from a fresh snapshot
        if gap and not isinstance(error, StaleStream):
            # each book resync is its own event, told each time
            logger.warning(
                "feed {}: gap (book updates out of sequence: {}); subscribing again",
                stream.key,
                reason,
            )
        elif attempt == 1:
            logger.warning("feed {}: {}; reconnecting with backoff", stream.key, reason)
        else:
            logger.debug("feed {}: failed again ({}): {}", stream.key, attempt, reason)

    def _describe(self, error: BaseException) -> str:
        return describe_error(error, self._masker)

    def _drop_connection(self, stream: _Stream, why: str) -> None:
        """Fail the ccxt connection carrying `stream`, so the next watch call dials anew."""
        clients = getattr(self.exchange, "clients", None) or {}
        for client in list(clients.values()):
            subscriptions = getattr(client, "subscriptions", None) or {}
            if stream.message_hash in subscriptions:
                client.on_error(RequestTimeout(f"{stream.key}: {why}"))

    async def _take(self, stream: _Stream, update: Any) -> None:
        if stream.kind == "trades":
            await self._take_trades(stream, update)
        elif stream.kind == "order_book":
            self._take_book(stream, update)
        else:
            self._take_candles(stream, update)

    # ---- trades --------------------------------------------------------------------------

    def _symbol_trades(self, symbol: str) -> SymbolTrades:
        def publish_trade(trade: LiveTrade) -> None:
            for wanted, buffer in self._trade_buffers:
                if wanted is None or symbol in wanted:
                    buffer.put(trade)
            self._call(self._trade_callbacks, trade)

        def publish_bar(bar: Bar) -> None:
            self._publish_bar(ClosedBar(symbol, bar, "trades"))

        return SymbolTrades(
            symbol,
            self.clock,
            on_trade=publish_trade,
            on_bar=publish_bar,
            bar_interval_ms=self.settings.bar_interval_ms,
            bar_close_delay_ms=self.settings.bar_close_delay_ms,
        )

    async def _take_trades(self, stream: _Stream, raw_trades: Sequence[Any]) -> None:
        flow = self._trades[stream.symbol]
        last_price: Decimal | None = None
        for raw in raw_trades:
            trade = trade_from_ccxt(raw)
            if flow.is_repeat(trade):
                continue
            stream.stats.messages += 1
            gap = flow.gap_before(trade)
            if gap is not None:
                stream.stats.gaps += 1
                logger.warning(
                    "feed {}: trade ids {}..{} missing ({} trade(s)){}",
                    stream.key,
                    gap.first_missing,
                    gap.last_missing,
                    gap.size,
                    "; backfilling" if self.settings.backfill_gaps else "",
                )
                if self.settings.backfill_gaps:
                    for recovered in await self._backfill(stream, flow, gap):
                        flow.take(recovered)
            flow.take(trade)
            last_price = trade.price
        if last_price is not None:
            self.prices.update(stream.symbol, last_price)

    async def _backfill(
        self, stream: _Stream, flow: SymbolTrades, gap: TradeIdGap
    ) -> list[LiveTrade]:
        """The missing trades from REST (Binance answers with aggregate trades; only those
        wholly inside the gap are taken, so no trade already seen is counted twice)."""
        try:
            raw = await asyncio.wait_for(
                self.exchange.fetch_trades(stream.symbol, flow.last_trade_ms, 1000, {}),
                self.settings.backfill_timeout_s,
            )
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.warning(
                "feed {}: backfill of trade ids {}..{} failed: {}",
                stream.key,
                gap.first_missing,
                gap.last_missing,
                self._describe(error),
            )
            return []
        found: list[LiveTrade] = []
        for item in raw:
            trade = trade_from_ccxt(item)
            first, last = trade.first_id, trade.last_id
            if first is None or last is None:
                continue
            if gap.first_missing <= first and last <= gap.last_missing:
                found.append(trade)
        found.sort(key=lambda t: t.first_id or 0)
        count = sum((t.last_id or 0) - (t.first_id or 0) + 1 for t in found)
        flow.sequence.filled(count)
        self._backfilled += count
        logger.info("feed {}: backfilled {} of {} missing trade(s)", stream.key, count, gap.size)
        return found

    def _publish_bar(self, closed: ClosedBar) -> None:
        for buffer in self._bar_buffers:
            buffer.put(closed)
        self._call(self._bar_callbacks, closed)

    # ---- order book and candles ----------------------------------------------------------

    def _take_book(self, stream: _Stream, book: Any) -> None:
        stream.stats.messages += 1
        now = self.clock.now_ms()
        snapshot = snapshot_from_ccxt(stream.symbol, book, now, self.settings.book_depth)
        for slot in self._book_slots[stream.symbol]:
            slot.put(snapshot)
        self._call(self._book_callbacks, snapshot)
        if self.settings.marks_from_book:
            mid = snapshot.mid
            if mid is not None:
                self.prices.update(stream.symbol, mid)

    def _take_candles(self, stream: _Stream, candles: Sequence[Sequence[Any]]) -> None:
        """ccxt hands the candle in progress again on each update; the previous one is closed
        once a candle with a later open time appears."""
        for candle in candles:
            stream.stats.messages += 1
            previous = self._last_candle.get(stream.symbol)
            if previous is not None and candle[0] > previous[0]:
                self._publish_bar(ClosedBar(stream.symbol, _bar_from_candle(previous), "exchange"))
            if previous is None or candle[0] >= previous[0]:
                self._last_candle[stream.symbol] = list(candle)

    def _call(self, callbacks: list[_Callback], item: Any) -> None:
        for callback in callbacks:
            try:
                callback(item)
            except Exception:
                self._subscriber_errors += 1
                if id(callback) not in self._failed_callbacks:
                    self._failed_callbacks.add(id(callback))
                    logger.exception("feed: subscriber {!r} failed (told once)", callback)


def describe_error(error: BaseException, masker: SecretMasker) -> str:
    """The error's type and text for a log line: URLs cut to scheme, host and path (ccxt puts
    request URLs, signed queries included, into its messages) and credentials masked."""
    text = _URL.sub(lambda match: safe_url(match.group(0)), str(error))
    text = masker.mask(text)
    if len(text) > _MAX_ERROR_TEXT:
        text = text[:_MAX_ERROR_TEXT] + "…"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _bar_from_candle(candle: Sequence[Any]) -> Bar:
    def exact(value: Any) -> Decimal:
        return Decimal(str(value)) if value is not None else Decimal(0)

    return Bar(
        int(candle[0]),
        exact(candle[1]),
        exact(candle[2]),
        exact(candle[3]),
        exact(candle[4]),
        exact(candle[5]),
    )
