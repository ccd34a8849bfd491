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


def test_a_replay_from_a_later_time_holds_the_same_timeline_from_one_copy_before_it() -> None:
    bars = make_bars("BTC/USDT", ["100", "101", "102", "103"])  # 4 minutes a copy
    anchor, speed, until = T0, 60, T0 + 60 * MINUTE  # a copy every 4 s of wall time
    full = bars.replayed(anchor, speed, until)
    later = bars.replayed(anchor, speed, until, from_ms=T0 + 30 * MINUTE)
    assert len(later) < len(full) * 0.51  # from minute 30 of 60: not the whole past
    assert later.ts_list[0] <= T0 + 30 * MINUTE - 4_000  # a copy of history before it
    kept = full.ts_list.index(later.ts_list[0])
    assert later.ts_list == full.ts_list[kept:]
    assert later.close.tolist() == full.close.tolist()[kept:]
    assert bars.replay_copies(anchor, speed, until, T0 + 30 * MINUTE) * len(bars) == len(later)
