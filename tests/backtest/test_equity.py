from decimal import Decimal

import numpy as np

from tests.conftest import MINUTE, T0, make_bars
from trading_bot.backtest.equity import equity_curve
from trading_bot.domain.enums import LiquiditySide, Side
from trading_bot.domain.fill import Fill

D = Decimal


def test_curve_marks_holdings_at_each_close_including_fills_at_that_bars_open() -> None:
    bars = make_bars("BTC/USDT", ["10", "20", "30"], closes=["11", "21", "31"])
    buy = Fill(
        "t",
        "c",
        "BTC/USDT",
        Side.BUY,
        D(2),
        D(20),
        D("0.5"),
        "USDT",
        LiquiditySide.TAKER,
        T0 + MINUTE,
    )
    times, equity = equity_curve(
        {"USDT": D(100), "ETH": D(1)}, [buy], {"BTC/USDT": bars.marks()}, "USDT"
    )
    assert times.tolist() == [T0 + MINUTE, T0 + 2 * MINUTE, T0 + 3 * MINUTE]  # bar closes
    # bar 0: 100; bar 1: 100 - 40 - 0.5 + 2 x 21; bar 2: 59.5 + 2 x 31 (ETH unpriced: left out)
    assert np.allclose(equity, [100, 101.5, 121.5])


def test_multiple_series_share_one_timeline() -> None:
    btc = make_bars("BTC/USDT", ["10", "10"], closes=["10", "12"])
    eth = make_bars("ETH/USDT", ["5", "5"], start=T0 + 30_000, closes=["6", "7"])
    times, equity = equity_curve(
        {"BTC": D(1), "ETH": D(1)}, [], {"BTC/USDT": btc.marks(), "ETH/USDT": eth.marks()}, "USDT"
    )
    # closes known at +60s, +90s, +120s, +150s: BTC 10, ETH 6, BTC 12, ETH 7
    assert times.tolist() == [T0 + 60_000, T0 + 90_000, T0 + 120_000, T0 + 150_000]
    assert np.allclose(equity, [10 + 6, 10 + 6, 12 + 6, 12 + 7])
