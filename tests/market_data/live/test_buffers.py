import asyncio
import tracemalloc
from decimal import Decimal

import pytest

from trading_bot.market_data.live.buffers import BufferClosed, DropOldest, LatestOnly
from trading_bot.market_data.live.trades import LiveTrade


def make_trade(i: int) -> LiveTrade:
    return LiveTrade("BTC/USDT", i, Decimal(i), Decimal(1), i, i)


def test_an_unread_buffer_keeps_maxlen_newest_trades_and_counts_the_dropped() -> None:
    buffer: DropOldest[LiveTrade] = DropOldest(1_000)
    for i in range(100_000):
        buffer.put(make_trade(i))
    assert len(buffer) == 1_000
    assert buffer.dropped == 99_000
    assert buffer.puts == 100_000
    kept = buffer.take_all()
    assert [t.first_id for t in kept] == list(range(99_000, 100_000))  # the newest are kept


def test_memory_of_a_full_buffer_does_not_grow_with_more_trades() -> None:
    buffer: DropOldest[LiveTrade] = DropOldest(1_000)
    tracemalloc.start()
    try:
        for i in range(10_000):
            buffer.put(make_trade(i))
        full, _ = tracemalloc.get_traced_memory()
        for i in range(100_000):
            buffer.put(make_trade(i))
        later, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert later - full < 16 * 1024  # trades replaced, not accumulated
    assert len(buffer) == 1_000


async def test_a_slow_consumer_reads_in_order_and_loses_only_what_overflowed() -> None:
    buffer: DropOldest[LiveTrade] = DropOldest(100)
    seen: list[int] = []

    async def consume() -> None:
        async for trade in buffer:
            seen.append(trade.first_id or 0)
            await asyncio.sleep(0)  # a consumer slower than the producer

    consumer = asyncio.create_task(consume())
    for i in range(10_000):
        buffer.put(make_trade(i))
        if i % 1_000 == 0:
            await asyncio.sleep(0)
    buffer.close()
    await consumer
    assert seen == sorted(seen)
    assert seen[-1] == 9_999
    assert len(seen) + buffer.dropped == 10_000
    assert len(buffer) == 0


async def test_latest_only_hands_the_newest_value_and_counts_the_skipped_ones() -> None:
    slot: LatestOnly[int] = LatestOnly()
    for i in range(100_000):
        slot.put(i)
    assert await slot.get() == 99_999
    assert slot.coalesced == 99_999
    assert slot.take() is None  # nothing newer yet
    slot.put(5)
    assert slot.take() == 5
    assert slot.coalesced == 99_999


async def test_a_cleared_slot_waits_for_a_fresh_value() -> None:
    slot: LatestOnly[str] = LatestOnly()
    slot.put("stale book")
    slot.clear()
    assert slot.latest is None
    waiter = asyncio.create_task(slot.get())
    await asyncio.sleep(0)
    assert not waiter.done()
    slot.put("fresh book")
    assert await waiter == "fresh book"


async def test_closing_ends_waiting_consumers() -> None:
    slot: LatestOnly[int] = LatestOnly()
    buffer: DropOldest[int] = DropOldest(3)
    waiting = [asyncio.create_task(slot.get()), asyncio.create_task(buffer.get())]
    await asyncio.sleep(0)
    slot.close()
    buffer.close()
    for task in waiting:
        with pytest.raises(BufferClosed):
            await task
    assert [item async for item in buffer] == []
