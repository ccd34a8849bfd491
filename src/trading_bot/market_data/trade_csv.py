"""Load trades from CSV: `timestamp_ms,price,size,side` (side = the aggressor, buy or sell).

Trades become a zero-length `BarSeries` (open = high = low = close = price, volume = size) so
the simulated venue matches on them with the same engine as bars.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np

from trading_bot.market_data.bars import BarSeries
from trading_bot.market_data.csv_table import CsvTable, scale_of, scaled

HEADER = ["timestamp_ms", "price", "size", "side"]


def load_trades_csv(path: str | Path, symbol: str) -> BarSeries:
    path = Path(path)
    table = CsvTable(path, HEADER)
    stamps: list[int] = []
    prices: list[Decimal] = []
    sizes: list[float] = []
    for line_no, row in table.rows():
        ts = table.timestamp(line_no, row[0])
        price = table.decimal(line_no, "price", row[1])
        size = table.decimal(line_no, "size", row[2])
        if ts is None or price is None or size is None:
            continue
        if price <= 0 or size <= 0:
            table.problem(line_no, "price and size must be > 0")
        elif row[3].lower() not in ("buy", "sell"):
            table.problem(line_no, f"side is {row[3]!r}, expected buy or sell")
        elif stamps and ts < stamps[-1]:
            table.problem(line_no, f"timestamp {ts} is before the previous trade's {stamps[-1]}")
        else:
            stamps.append(ts)
            prices.append(price)
            sizes.append(float(size))
    table.finish(len(stamps), stamps[0] if stamps else None)
    scale = scale_of(prices)
    price_array = np.array(scaled(prices, scale, path), dtype=np.int64)
    return BarSeries(
        symbol,
        np.array(stamps, dtype=np.int64),
        price_array,
        price_array,
        price_array,
        price_array,
        np.array(sizes),
        scale,
        interval_ms=0,
    )
