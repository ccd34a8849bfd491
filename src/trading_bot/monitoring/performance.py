"""Performance statistics of an equity curve.

The curve itself is a float64 array: it feeds ratios (drawdown, Sharpe), not the ledger.
Balances, P&L and fees stay exact Decimals elsewhere.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

MS_PER_YEAR = 365 * 24 * 3600 * 1000  # crypto trades every day of the year


def max_drawdown(equity: npt.NDArray[np.float64]) -> float:
    """Largest fall from a running peak, as a fraction of that peak (0.25 = 25%)."""
    if len(equity) == 0:
        return 0.0
    peaks = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdowns = np.where(peaks > 0, (peaks - equity) / peaks, 0.0)
    return float(max(drawdowns.max(), 0.0))


def sharpe_ratio(equity: npt.NDArray[np.float64], ts_ms: npt.NDArray[np.int64]) -> float:
    """Annualized Sharpe ratio of per-period simple returns, risk-free rate 0.

    Periods are the curve's own sampling interval (its median spacing), annualized over
    365 days. 0.0 when there are fewer than two returns or they do not vary.
    """
    if len(equity) < 3:
        return 0.0
    previous = equity[:-1]
    valid = previous > 0
    returns = np.diff(equity)[valid] / previous[valid]
    if len(returns) < 2:
        return 0.0
    deviation = float(returns.std(ddof=1))
    if deviation == 0.0 or not math.isfinite(deviation):
        return 0.0
    period_ms = float(np.median(np.diff(ts_ms)))
    if period_ms <= 0:
        return 0.0
    return float(returns.mean()) / deviation * math.sqrt(MS_PER_YEAR / period_ms)
