from decimal import Decimal

from tests.conftest import MINUTE, T0, make_bars
from trading_bot.engine.clock import SimulatedClock
from trading_bot.market_data.history import HistoricalPrices


def test_lookups_find_the_fill_bar_and_the_last_known_close() -> None:
    bars = make_bars("BTC/USDT", ["1", "2", "3"])
    assert bars.first_at_or_after(T0) == 0
    assert bars.first_at_or_after(T0 + 1) == 1
    assert bars.first_at_or_after(T0 + 3 * MINUTE) == 3
    marks = bars.marks()  # a close is known once its bar has closed
    assert marks.at(T0 + MINUTE - 1) is None
    assert marks.at(T0 + MINUTE) == Decimal("2")


def test_tiling_repeats_the_series_with_strictly_increasing_time() -> None:
    bars = make_bars("BTC/USDT", ["1", "2", "3"])
    tiled = bars.tiled(7)
    assert len(tiled) == 7
    assert tiled.ts.tolist() == [T0 + i * MINUTE for i in range(7)]
    assert [tiled.bar(i).open for i in range(7)] == [Decimal(x) for x in "1231231"]


def test_historical_prices_never_show_a_bar_before_it_closed() -> None:
    bars = make_bars("BTC/USDT", ["1", "2", "3"], closes=["1.5", "2.5", "3.5"])
    clock = SimulatedClock(T0 + 30_000)
    prices = HistoricalPrices({"BTC/USDT": bars.marks()}, clock)
    assert prices.last_price("BTC/USDT") is None
    clock.advance_to(T0 + MINUTE)
    assert prices.last_price("BTC/USDT") == Decimal("1.5")
    assert prices.last_price("ETH/USDT") is None
    assert prices.final_prices() == {"BTC/USDT": Decimal("3.5")}
