import math

import numpy as np

from trading_bot.monitoring.performance import max_drawdown, sharpe_ratio


def test_max_drawdown_is_the_largest_fall_from_a_running_peak() -> None:
    assert max_drawdown(np.array([100.0, 120, 90, 130, 117])) == 0.25
    assert max_drawdown(np.array([1.0, 2, 3])) == 0.0
    assert max_drawdown(np.array([])) == 0.0


def test_sharpe_is_annualized_by_the_sampling_interval() -> None:
    equity = np.array([100.0, 101, 100, 102, 101])
    minute = np.arange(5, dtype=np.int64) * 60_000
    returns = np.diff(equity) / equity[:-1]
    expected = returns.mean() / returns.std(ddof=1) * math.sqrt(365 * 24 * 60)
    assert math.isclose(sharpe_ratio(equity, minute), expected)


def test_sharpe_is_zero_when_undefined() -> None:
    ts = np.arange(4, dtype=np.int64)
    assert sharpe_ratio(np.array([100.0, 100, 100, 100]), ts) == 0.0
    assert sharpe_ratio(np.array([100.0, 101]), ts[:2]) == 0.0
