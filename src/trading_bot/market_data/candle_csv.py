"""Load candles from CSV: `timestamp_ms,open,high,low,close,volume`, one bar per line.

Every row is checked (numbers, positive prices, low <= open/close <= high, non-negative
volume, strictly increasing timestamps) and all problems are reported with their line
numbers, up to a limit, so a bad file is fixed in one pass.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np

from trading_bot.market_data.bars import BarSeries
from trading_bot.market_data.csv_table import CsvTable, scale_of, scaled

HEADER = ["timestamp_ms", "open", "high", "low", "close", "volume"]


def load_candles_csv(path: str | Path, symbol: str) -> BarSeries:
    path = Path(path)
    table = CsvTable(path, HEADER)
    stamps: list[int] = []
    columns: list[list[Decimal]] = [[], [], [], []]
    volumes: list[float] = []
    for line_no, row in table.rows():
        ts = table.timestamp(line_no, row[0])
        values = [
            table.decimal(line_no, name, cell)
            for name, cell in zip(HEADER[1:], row[1:], strict=True)
        ]
        if ts is None or any(v is None for v in values):
            continue
        o, h, low, c, v = values  # type: ignore[misc]
        if min(o, h, low, c) <= 0:
            table.problem(line_no, "prices must be > 0")
        elif not (low <= min(o, c) and max(o, c) <= h):
            table.problem(
                line_no, f"expected low <= open, close <= high (got o={o} h={h} l={low} c={c})"
            )
        elif v < 0:
            table.problem(line_no, f"volume is {v}, expected >= 0")
        elif stamps and ts <= stamps[-1]:
            table.problem(
                line_no,
                f"timestamp {ts} is not after the previous bar's {stamps[-1]}; "
                "bars must be sorted by time without repeats",
            )
        else:
            stamps.append(ts)
            for column, value in zip(columns, (o, h, low, c), strict=True):
                column.append(value)
            volumes.append(float(v))
    table.finish(len(stamps), stamps[0] if stamps else None)

    scale = scale_of([p for column in columns for p in column])
    o, h, low, c = (np.array(scaled(column, scale, path), dtype=np.int64) for column in columns)
    return BarSeries(
        symbol, np.array(stamps, dtype=np.int64), o, h, low, c, np.array(volumes), scale
    )
