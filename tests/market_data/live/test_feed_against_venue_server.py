"""The live feed with a real ccxt.pro client against the Binance-compatible venue server
(real WebSockets on 127.0.0.1, recorded BTC/USDT trades replayed at their own pace)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import trading_bot.venues.server as server_api
from trading_bot.engine.clock import LiveClock
from trading_bot.market_data.live import (
    ClosedBar,
    FeedSettings,
    LiveMarketFeed,
    LivePrices,
    LiveTrade,
)
from trading_bot.venues.server.testing import ccxt_client

DATA = Path(__file__).resolve().parents[2] / "data" / "BTCUSDT_trades_binance_2021-01-08.csv"
SYMBOL = "BTC/USDT"
WAIT_S = 20.0


def pro_client(server: Any) -> Any:
    """A ccxt.pro binance client pointed at the server (see the project's ccxt notes)."""
    return ccxt_client(server, pro=True)


@pytest.fixture
async def server() -> AsyncIterator[Any]:
    config = server_api.VenueServerConfig(
        market_data={SYMBOL: DATA}, replay_speed=1, horizon_hours=1
    )
    async with server_api.running_venue_server(config) as running:
        yield running


@pytest.fixture
async def exchange(server: Any) -> AsyncIterator[Any]:
    client = pro_client(server)
    try:
        yield client
    finally:
        await client.close()


async def until(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def make_feed(exchange: Any, **settings: Any) -> LiveMarketFeed:
    clock = LiveClock()
    defaults: dict[str, Any] = {"stale_after_s": 10.0, "backoff_initial_s": 0.1}
    defaults.update(settings)
    return LiveMarketFeed(exchange, [SYMBOL], clock, LivePrices(clock), FeedSettings(**defaults))


async def test_the_feed_takes_trades_and_books_and_moves_live_prices(exchange: Any) -> None:
    feed = make_feed(exchange)
    trades = feed.trade_buffer(maxlen=100_000)
    books = feed.book_slot(SYMBOL)
    await feed.start()
    try:
        await until(lambda: len(trades) >= 20, "20 trades")
        book = await asyncio.wait_for(books.get(), WAIT_S)
        await until(lambda: feed.prices.last_price(SYMBOL) is not None, "a last price")
    finally:
        await feed.stop()
    received: list[LiveTrade] = trades.take_all()
    ids = [t.first_id for t in received]
    assert all(i is not None for i in ids)
    assert ids == sorted(ids)
    assert feed.stats().gaps == 0
    assert all(Decimal(30_000) < t.price < Decimal(50_000) for t in received)
    assert book.best_bid is not None and book.best_ask is not None
    assert book.best_bid < book.best_ask
    last = feed.prices.last_price(SYMBOL)
    assert last is not None and Decimal(30_000) < last < Decimal(50_000)
    stats = feed.stats()
    assert stats.messages > 0 and stats.failures == 0


async def test_bars_built_from_the_trade_stream_sum_the_trades_received(exchange: Any) -> None:
    # a generous close delay: on a loaded machine a trade can reach the feed 200 ms late
    feed = make_feed(exchange, bar_interval_ms=1_000, bar_close_delay_ms=1_000)
    trades = feed.trade_buffer(maxlen=100_000)
    bars = feed.bar_buffer()
    await feed.start()
    try:
        await until(lambda: len(bars) >= 3, "three closed bars")
    finally:
        await feed.stop()
    received = trades.take_all()
    closed: list[ClosedBar] = bars.take_all()
    assert feed.stats().late_trades == 0
    for item in closed[1:]:  # the first bar may have begun before the subscription
        bar = item.bar
        inside = [t for t in received if bar.ts_ms <= t.ts_ms < bar.ts_ms + 1_000]
        assert inside, "a bar comes from trades"
        assert bar.open == inside[0].price
        assert bar.close == inside[-1].price
        assert bar.high == max(t.price for t in inside)
        assert bar.low == min(t.price for t in inside)
        assert bar.volume == sum((t.amount for t in inside), Decimal(0))


async def test_after_the_server_drops_every_websocket_the_feed_reconnects_and_goes_on(
    server: Any, exchange: Any
) -> None:
    feed = make_feed(exchange)
    trades = feed.trade_buffer(maxlen=100_000)
    books = feed.book_slot(SYMBOL)
    await feed.start()
    try:
        await until(lambda: len(trades) >= 10, "trades before the drop")
        await asyncio.wait_for(books.get(), WAIT_S)
        before = feed.stats()

        dropped_at = len(trades)
        await server.faults.drop_websockets()

        # ccxt may find the connection gone inside a watch call (a failure, then a reconnect
        # the feed counts) or between two (it dials again by itself): either way data goes on
        await until(lambda: len(trades) > dropped_at + 10, "trades on a new connection")
        taken = len(trades)
        await until(lambda: len(trades) > taken + 10, "trades after the reconnect")
        book = await asyncio.wait_for(books.get(), WAIT_S)
        price_after = feed.prices.last_price(SYMBOL)
    finally:
        await feed.stop()
    after = feed.stats()
    assert after.messages > before.messages
    assert book.best_bid is not None and book.best_ask is not None
    assert price_after is not None
    ids = [t.first_id or 0 for t in trades.take_all()]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)  # nothing delivered twice across the reconnect
    # trades printed while disconnected are a counted gap, never silently skipped
    missing = sum(b - a - 1 for a, b in itertools.pairwise(ids) if b - a > 1)
    assert after.missing_trades == missing


async def test_trades_missed_while_disconnected_are_backfilled_over_rest(
    server: Any, exchange: Any
) -> None:
    feed = make_feed(exchange, backfill_gaps=True, backoff_initial_s=0.5)
    trades = feed.trade_buffer(maxlen=100_000)
    await feed.start()
    try:
        await until(lambda: len(trades) >= 10, "trades before the drop")
        dropped_at = len(trades)
        await server.faults.drop_websockets()
        await until(lambda: len(trades) > dropped_at + 10, "trades on a new connection")
        taken = len(trades)
        await until(lambda: len(trades) > taken + 10, "trades after the reconnect")
    finally:
        await feed.stop()
    stats = feed.stats()
    ids = [t.first_id or 0 for t in trades.take_all()]
    # 0.25 s or more without a connection at ~40 trades/s: trades were printed meanwhile
    assert stats.gaps >= 1
    assert stats.backfilled_trades > 0
    assert stats.missing_trades == 0
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # every id, in order, once


async def test_a_stream_silent_past_stale_after_s_is_a_gap_and_is_subscribed_again(
    tmp_path: Path,
) -> None:
    """5-second candles print one trade every 5 s: a trade stream silent for 2 s is stale,
    its connection is dropped, and the trades after it still arrive."""
    candles = tmp_path / "btc_5s.csv"
    start = 1_610_064_000_000
    rows = ["timestamp_ms,open,high,low,close,volume"]
    for i in range(200):
        price = 40_000 + (i % 13) * 5
        rows.append(f"{start + i * 5_000},{price},{price + 10},{price - 10},{price + 1},1.5")
    candles.write_text("\n".join(rows) + "\n")
    config = server_api.VenueServerConfig(
        market_data={SYMBOL: candles}, replay_speed=1, horizon_hours=1
    )
    async with server_api.running_venue_server(config) as running:
        client = pro_client(running)
        feed = make_feed(client, order_book=False, stale_after_s=2.0)
        trades = feed.trade_buffer()
        try:
            await feed.start()
            await until(lambda: feed.stats().stale >= 1, "a stale period", 15.0)
            await until(lambda: len(trades) >= 2, "trades after it", 20.0)
        finally:
            await feed.stop()
            await client.close()
    stats = feed.stats()
    assert stats.gaps >= stats.stale >= 1
    assert stats.streams[f"{SYMBOL} trades"].reconnects >= 1
