"""Backtest throughput: the fixed workload used to compare with other engines.

The 45,031 real 1-minute BTC-PERP candles of January 2022 (bench/data) tiled to N bars (each
copy shifted by the file's span + 1 minute); one signal on every bar with index i % 10 == 9,
sides alternating buy, sell, ... of 0.01 BTC as market orders; a spot account with 1,000,000
USDT and 1 BTC; taker fee 0.1%; the full pipeline on (detector_driven strategy, a
position_limits risk check, market execution, order manager, portfolio).

Each run is its own process so peak memory (max RSS) is per size; with --repeat N the run
with the median run time is reported (a shared machine's noise is easily 20%).

    python bench/backtest_throughput.py                      # 100k and 1M bars, median of 3
    python bench/backtest_throughput.py --bars 100000 --repeat 1 --markdown
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trading_bot.intake.signal_file import RecordedSignal
    from trading_bot.market_data.bars import BarSeries

DATA = Path(__file__).resolve().parent / "data" / "BTC-PERP_1m_2022-01.csv"
CONFIG = {
    "mode": "backtest",
    "exchange": {
        "class": "simulated",
        "params": {
            "balances": {"USDT": "1000000", "BTC": "1"},
            "fees": {"maker": "0.001", "taker": "0.001"},
        },
    },
    "strategy": {"class": "detector_driven", "params": {"min_confidence": 0}},
    "execution": {"class": "market"},
    "risk": {
        "checks": [
            {
                "class": "position_limits",
                "params": {"max_position_size": "1000", "max_positions": 10},
            }
        ]
    },
}


def load_bars(bars: int) -> BarSeries:
    from trading_bot.market_data.candle_csv import load_candles_csv

    return load_candles_csv(DATA, "BTC/USDT").tiled(bars)


def build_signals(series: BarSeries) -> list[RecordedSignal]:
    """One market-order signal on every bar with index i % 10 == 9, sides alternating."""
    from trading_bot.domain.signal import Signal
    from trading_bot.intake.signal_file import RecordedSignal

    stamps = series.ts_list
    return [
        RecordedSignal(
            Signal(
                signal_id=f"b{i}",
                asset="BTC/USDT",
                side="buy" if (i // 10) % 2 == 0 else "sell",
                size="0.01",
                created_at=stamps[i],
            ),
            i,
        )
        for i in range(9, len(series), 10)
    ]


def measure(bars: int) -> dict[str, float | bool]:
    from trading_bot.backtest.runner import run_backtest
    from trading_bot.backtest.summary import build_summary
    from trading_bot.compiled import running_compiled
    from trading_bot.config.loader import load_config_data

    started = time.perf_counter()
    series = load_bars(bars)
    loaded_at = time.perf_counter()
    signals = build_signals(series)
    built_at = time.perf_counter()
    loaded = load_config_data(CONFIG, source="bench", environ={})
    result = run_backtest(loaded, [series], signals)
    ran_at = time.perf_counter()
    gc.freeze()  # as `trading-bot backtest` does while it reports
    summary = build_summary(result)
    done_at = time.perf_counter()
    assert summary["fills"] == len(signals), summary["rejected_signals"]
    run_s = ran_at - built_at
    return {
        "bars": bars,
        "orders": summary["orders"],
        "load_s": loaded_at - started,
        "signals_s": built_at - loaded_at,
        "run_s": run_s,
        "summary_s": done_at - ran_at,
        "total_s": done_at - started,
        "bars_per_s": bars / run_s,
        "orders_per_s": summary["orders"] / run_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "compiled": running_compiled(),  # the order path compiled with mypyc (setup.py)
    }


def markdown(rows: list[dict[str, float | bool]]) -> str:
    lines = [
        "| bars | orders | run (s) | bars/s | orders/s | total wall (s) | peak RSS (MB) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['bars']:,} | {r['orders']:,} | {r['run_s']:.2f} | {r['bars_per_s']:,.0f} | "
            f"{r['orders_per_s']:,.0f} | {r['total_s']:.2f} | {r['peak_rss_mb']:,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the median is kept")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)))
        return
    rows = []
    for bars in args.bars:
        runs = []
        for _ in range(max(1, args.repeat)):
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(bars)],
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append(json.loads(out.stdout))
        runs.sort(key=lambda run: run["run_s"])
        rows.append(runs[len(runs) // 2])  # the median run
        if not args.markdown:
            print(json.dumps(rows[-1]))
    if args.markdown:
        print(markdown(rows))


if __name__ == "__main__":
    main()
