from decimal import Decimal

import numpy as np
import pytest

from tests.conftest import MINUTE, T0
from trading_bot.engine.clock import SimulatedClock
from trading_bot.market_data.live.prices import LivePrices

HOUR = 60 * MINUTE


def test_last_price_is_the_newest_exact_price() -> None:
    clock = SimulatedClock(T0)
    prices = LivePrices(clock)
    assert prices.last_price("BTC/USDT") is None
    prices.update("BTC/USDT", Decimal("46250.123456789"))
    assert prices.last_price("BTC/USDT") == Decimal("46250.123456789")
    assert prices.last_price("ETH/USDT") is None
    assert prices.prices_at("ETH/USDT", np.array([T0], dtype=np.int64)) is None


def test_prices_at_is_the_price_known_at_each_time() -> None:
    clock = SimulatedClock(T0)
    prices = LivePrices(clock, resolution_ms=1_000)
    for minute, price in enumerate(["10", "11", "12"]):
        clock.advance_to(T0 + minute * MINUTE)
        prices.update("BTC/USDT", Decimal(price))
    clock.advance_to(T0 + 3 * MINUTE)
    times = np.array([T0 - 1, T0, T0 + MINUTE - 1, T0 + MINUTE, T0 + 3 * MINUTE], dtype=np.int64)
    result = prices.prices_at("BTC/USDT", times)
    assert result is not None
    assert np.isnan(result[0])
    assert result[1:].tolist() == [10.0, 10.0, 11.0, 12.0]


def test_asking_for_a_time_after_now_is_refused() -> None:
    clock = SimulatedClock(T0)
    prices = LivePrices(clock)
    prices.update("BTC/USDT", Decimal(1))
    with pytest.raises(ValueError, match="after now"):
        prices.prices_at("BTC/USDT", np.array([T0 + 1], dtype=np.int64))


def test_within_one_interval_a_price_is_never_seen_before_it_was_known() -> None:
    clock = SimulatedClock(T0)
    prices = LivePrices(clock, resolution_ms=10_000)
    prices.update("BTC/USDT", Decimal(100))  # T0 (interval T0..T0+10s)
    clock.advance_to(T0 + 12_000)
    prices.update("BTC/USDT", Decimal(200))  # next interval
    clock.advance_to(T0 + 15_000)
    prices.update("BTC/USDT", Decimal(300))  # same interval, replaces its mark
    times = np.array([T0 + 12_000, T0 + 14_999, T0 + 15_000], dtype=np.int64)
    result = prices.prices_at("BTC/USDT", times)
    assert result is not None
    # 12 s and 14.999 s: the interval's mark was only known at 15 s, so the previous one
    assert result.tolist() == [100.0, 100.0, 300.0]


def test_history_is_bounded_whatever_the_update_rate() -> None:
    clock = SimulatedClock(T0)
    prices = LivePrices(clock, resolution_ms=MINUTE, history_ms=2 * HOUR)
    for i in range(200_000):  # ~28 days at one update every 12 s
        clock.advance_to(T0 + i * 12_000)
        prices.update("BTC/USDT", Decimal(1000 + i % 7))
    assert prices.marks_kept("BTC/USDT") == 2 * 60 + 1
    now = clock.now_ms()
    times = now - np.arange(0, 3 * HOUR, 5 * MINUTE, dtype=np.int64)[::-1]
    result = prices.prices_at("BTC/USDT", times)
    assert result is not None
    recent = times >= now - 2 * HOUR + MINUTE
    assert not np.isnan(result[recent]).any()
    assert np.isnan(result[times < now - 2 * HOUR - MINUTE]).all()  # older than kept


def test_the_correlation_grid_reads_a_full_history_from_live_prices() -> None:
    """CorrelationLimit's default grid: 101 points 5 minutes apart, ending now."""
    clock = SimulatedClock(T0)
    prices = LivePrices(clock)
    for second in range(0, 9 * 3600, 30):
        clock.advance_to(T0 + second * 1000)
        prices.update("BTC/USDT", Decimal(40_000 + second % 600))
    now = clock.now_ms()
    grid = now - np.arange(100, -1, -1, dtype=np.int64) * 5 * MINUTE
    result = prices.prices_at("BTC/USDT", grid)
    assert result is not None
    assert not np.isnan(result).any()
