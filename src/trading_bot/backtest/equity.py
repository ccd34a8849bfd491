"""The equity curve of a backtest, computed after the run from the fills and the marks.

Holdings change only on fills, so the curve is built in one vectorized pass (holdings as step
functions x mark prices) instead of marking the portfolio at every bar: a million idle bars
cost nothing during the run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from trading_bot.domain.enums import Side
from trading_bot.domain.fill import Fill
from trading_bot.domain.market import split_symbol
from trading_bot.market_data.marks import MarkSeries


def equity_curve(
    initial_balances: Mapping[str, Decimal],
    fills: Iterable[Fill],
    marks: Mapping[str, MarkSeries],
    currency: str,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(times, equity) at every moment a mark price became known.

    Only assets that can be valued in `currency` count: the currency itself and assets with an
    `ASSET/currency` mark. A market whose quote is neither is left out entirely, both sides of
    it, so its trades cannot fake gains or drawdowns (the summary reports it as unpriced).
    """
    timeline = _timeline(marks)
    mark_of: dict[str, MarkSeries] = {}
    for symbol, series in marks.items():
        base, quote = split_symbol(symbol)
        if quote == currency and len(series):
            mark_of.setdefault(base, series)
    priced = {currency, *mark_of}
    changes: dict[str, list[tuple[int, float]]] = defaultdict(list)
    # per symbol, the change lists of its base and quote (None: not valued in `currency`)
    legs: dict[str, tuple[list[tuple[int, float]], list[tuple[int, float]]] | None] = {}
    buy = Side.BUY
    for fill in fills:
        symbol = fill.symbol
        if symbol not in legs:
            base, quote = split_symbol(symbol)
            priced_market = base in priced and quote in priced
            legs[symbol] = (changes[base], changes[quote]) if priced_market else None
        pair = legs[symbol]
        if pair is None:
            continue
        ts_ms, amount = fill.ts_ms, fill.amount
        sign = 1.0 if fill.side is buy else -1.0
        pair[0].append((ts_ms, sign * float(amount)))
        pair[1].append((ts_ms, -sign * float(amount * fill.price)))
        if fill.fee:
            changes[fill.fee_asset].append((ts_ms, -float(fill.fee)))

    equity = np.zeros(len(timeline), dtype=np.float64)
    for asset in priced:
        holding = _holdings(float(initial_balances.get(asset, 0)), changes.get(asset, []), timeline)
        if asset == currency:
            equity += holding
        else:
            equity += holding * _prices_on(mark_of[asset], timeline)
    return timeline, equity


def _timeline(marks: Mapping[str, MarkSeries]) -> npt.NDArray[np.int64]:
    """Every distinct time a mark became known, in order. Not `np.unique`: it hashes, several
    times slower on a million times that are already sorted."""
    series = [m.known_ms for m in marks.values() if len(m)]
    if not series:
        return np.empty(0, dtype=np.int64)
    times = np.concatenate(series)
    if len(series) > 1 or bool(np.any(times[1:] < times[:-1])):
        times.sort(kind="stable")
    distinct = np.empty(len(times), dtype=bool)
    distinct[0] = True
    np.not_equal(times[1:], times[:-1], out=distinct[1:])
    return times[distinct]


def _holdings(
    start: float, changes: list[tuple[int, float]], timeline: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    if not changes:
        return np.full(len(timeline), start)
    changes.sort(key=lambda change: change[0])
    times = np.array([t for t, _ in changes], dtype=np.int64)
    levels = start + np.cumsum(np.array([d for _, d in changes], dtype=np.float64))
    # strictly before: a bar's close is known at the instant the next bar opens, and a fill at
    # that open belongs to the next bar
    index = np.searchsorted(times, timeline, side="left") - 1
    return np.where(index >= 0, levels[np.maximum(index, 0)], start)


def _prices_on(marks: MarkSeries, timeline: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """The mark known at each time (the first mark before the series starts)."""
    index = np.searchsorted(marks.known_ms, timeline, side="right") - 1
    return marks.as_float()[np.maximum(index, 0)]
