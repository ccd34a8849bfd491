"""The floor: the benchmark workload as one plain Python loop with exact Decimal bookkeeping.

Same data, signals, account and fee as bench/backtest_throughput.py, but no pipeline: dedup,
a position-limit test, a client order id, a fill at the next bar's open, fee and balance
updates, a fill record, all inline. It shows how much of an order's cost is the bookkeeping
itself and how much is the bot's layers.

    python bench/plain_loop_baseline.py --bars 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import time
from bisect import bisect_left
from decimal import Decimal
from pathlib import Path

from trading_bot.market_data.candle_csv import load_candles_csv

DATA = Path(__file__).resolve().parent / "data" / "BTC-PERP_1m_2022-01.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    bars = parser.parse_args().bars
    series = load_candles_csv(DATA, "BTC/USDT").tiled(bars)
    stamps, opens, scale = series.ts_list, series.open.tolist(), series.price_scale
    started = time.perf_counter()
    balances = {"USDT": Decimal(1_000_000), "BTC": Decimal(1)}
    position, amount, fee_rate = Decimal(0), Decimal("0.01"), Decimal("0.001")
    seen: set[str] = set()
    fills = []
    for i in range(9, bars, 10):
        signal_id = f"b{i}"
        if signal_id in seen:
            continue
        seen.add(signal_id)
        sign = 1 if (i // 10) % 2 == 0 else -1
        if abs(position + sign * amount) > 1000:
            continue
        client_id = "tb-" + hashlib.blake2b(signal_id.encode(), digest_size=15).hexdigest() + "-0"
        bar = bisect_left(stamps, stamps[i])
        price = Decimal(opens[bar]).scaleb(-scale)
        notional = amount * price
        fee = notional * fee_rate
        if sign > 0:
            if notional + fee > balances["USDT"]:
                continue
            balances["BTC"] += amount
            balances["USDT"] -= notional + fee
        else:
            if amount > balances["BTC"]:
                continue
            balances["BTC"] -= amount
            balances["USDT"] += notional - fee
        position += sign * amount
        fills.append((client_id, stamps[bar], sign, amount, price, fee))
    elapsed = time.perf_counter() - started
    print(
        f"{bars:,} bars, {len(fills):,} orders: {elapsed:.2f} s, {bars / elapsed:,.0f} bars/s, "
        f"{len(fills) / elapsed:,.0f} orders/s, {elapsed / len(fills) * 1e6:.1f} µs per order"
    )


if __name__ == "__main__":
    main()
