"""Python function calls per order on the backtest benchmark's workload, counted by cProfile.

A count, not a time: it does not move with the machine's load, so it tells whether a change
made the order path longer or shorter when wall-clock runs are too noisy to.

    python bench/order_path_calls.py --bars 200000
"""

from __future__ import annotations

import argparse
import cProfile
import pstats

from backtest_throughput import CONFIG, build_signals, load_bars

from trading_bot.backtest.runner import run_backtest
from trading_bot.config.loader import load_config_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=200_000)
    args = parser.parse_args()
    series = load_bars(args.bars)
    signals = build_signals(series)
    loaded = load_config_data(CONFIG, source="bench", environ={})
    profile = cProfile.Profile()
    profile.enable()
    run_backtest(loaded, [series], signals)
    profile.disable()
    calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    print(
        f"{args.bars:,} bars, {len(signals):,} orders: {calls / len(signals):.1f} calls per order"
    )


if __name__ == "__main__":
    main()
