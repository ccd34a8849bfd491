"""The bar-by-bar equity curve of a backtest, computed after the run from the fills.

Holdings change only on fills, so the curve is built in one vectorized pass (holdings as step
functions x closes) instead of marking the portfolio on every bar: a million idle bars cost
nothing during the run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from trading_bot.domain.enums import Side
from trading_bot.domain.fill import Fill
from trading_bot.domain.market import split_symbol
from trading_bot.market_data.bars import BarSeries


def equity_curve(
    initial_balances: Mapping[str, Decimal],
    fills: Sequence[Fill],
    series: Mapping[str, BarSeries],
    currency: str,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(bar open times, equity at each bar's close) over the union of all bar times.

    Fills at a bar's open are in that bar's holdings. Assets with no `ASSET/currency` series
    are left out (the summary lists them as unpriced).
    """
    timeline = np.unique(np.concatenate([s.ts for s in series.values()]))
    changes: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for fill in fills:
        base, quote = split_symbol(fill.symbol)
        amount, notional = float(fill.amount), float(fill.amount * fill.price)
        sign = 1.0 if fill.side is Side.BUY else -1.0
        changes[base].append((fill.ts_ms, sign * amount))
        changes[quote].append((fill.ts_ms, -sign * notional))
        if fill.fee:
            changes[fill.fee_asset].append((fill.ts_ms, -float(fill.fee)))

    equity = np.zeros(len(timeline), dtype=np.float64)
    for asset in set(initial_balances) | set(changes):
        holding = _holdings(float(initial_balances.get(asset, 0)), changes.get(asset, []), timeline)
        if asset == currency:
            equity += holding
            continue
        prices = series.get(f"{asset}/{currency}")
        if prices is not None:
            equity += holding * _closes_on(prices, timeline)
    return timeline, equity


def _holdings(
    start: float, changes: list[tuple[int, float]], timeline: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    if not changes:
        return np.full(len(timeline), start)
    changes.sort(key=lambda change: change[0])
    times = np.array([t for t, _ in changes], dtype=np.int64)
    levels = start + np.cumsum(np.array([d for _, d in changes], dtype=np.float64))
    index = np.searchsorted(times, timeline, side="right") - 1
    return np.where(index >= 0, levels[np.maximum(index, 0)], start)


def _closes_on(series: BarSeries, timeline: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Each timeline point's close of the series' latest bar at or before it (first close
    before the series starts)."""
    closes = series.close.astype(np.float64) / (10.0**series.price_scale)
    index = np.searchsorted(series.ts, timeline, side="right") - 1
    return closes[np.maximum(index, 0)]
