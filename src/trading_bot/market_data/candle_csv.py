"""Load candles from CSV: `timestamp_ms,open,high,low,close,volume`, one bar per line.

Every row is checked (numbers, positive prices, low <= open/close <= high, non-negative
volume, strictly increasing timestamps) and all problems are reported with their line
numbers, up to a limit, so a bad file is fixed in one pass.
"""

from __future__ import annotations

import csv
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from trading_bot.domain.timestamps import EARLIEST_PLAUSIBLE_MS
from trading_bot.market_data.bars import BarSeries
from trading_bot.market_data.errors import DataFileError

HEADER = ["timestamp_ms", "open", "high", "low", "close", "volume"]
MAX_PROBLEMS = 20


def load_candles_csv(path: str | Path, symbol: str) -> BarSeries:
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise DataFileError(str(path), ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise DataFileError(str(path), [f"cannot read: {error}"]) from None

    if not rows or [c.strip().lower() for c in rows[0]] != HEADER:
        got = ",".join(rows[0]) if rows else "an empty file"
        raise DataFileError(
            str(path), [f"line 1: expected the header {','.join(HEADER)}, got {got}"]
        )

    problems: list[str] = []
    stamps: list[int] = []
    prices: list[tuple[Decimal, Decimal, Decimal, Decimal]] = []
    volumes: list[float] = []
    previous = None
    for line_no, row in enumerate(rows[1:], start=2):
        if len(problems) >= MAX_PROBLEMS:
            problems.append("... more problems not shown")
            break
        if not row or all(not cell.strip() for cell in row):
            continue
        parsed = _parse_row(row, line_no, problems)
        if parsed is None:
            continue
        ts, o, h, low, c, v = parsed
        if previous is not None and ts <= previous:
            problems.append(
                f"line {line_no}: timestamp {ts} is not after the previous bar's {previous}; "
                "bars must be sorted by time without repeats"
            )
            continue
        previous = ts
        stamps.append(ts)
        prices.append((o, h, low, c))
        volumes.append(float(v))
    if not stamps and not problems:
        problems.append("no bars after the header")
    if stamps and stamps[0] < EARLIEST_PLAUSIBLE_MS:
        problems.append(
            f"line 2: timestamp {stamps[0]} is before the year 2000 as epoch milliseconds; "
            "timestamp_ms must be milliseconds, not seconds"
        )
    if problems:
        raise DataFileError(str(path), problems)

    scale = max(-p.as_tuple().exponent for row in prices for p in row)  # type: ignore[operator]
    scale = max(scale, 0)
    factor = Decimal(10) ** scale
    columns = list(zip(*prices, strict=True))
    try:
        scaled = [np.array([int(p * factor) for p in column], dtype=np.int64) for column in columns]
    except OverflowError:
        raise DataFileError(
            str(path),
            [f"prices with {scale} decimals are too large to store exactly; round the file"],
        ) from None
    return BarSeries(
        symbol,
        np.array(stamps, dtype=np.int64),
        scaled[0],
        scaled[1],
        scaled[2],
        scaled[3],
        np.array(volumes, dtype=np.float64),
        scale,
    )


def _parse_row(
    row: list[str], line_no: int, problems: list[str]
) -> tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal] | None:
    if len(row) != len(HEADER):
        problems.append(f"line {line_no}: expected {len(HEADER)} columns, got {len(row)}")
        return None
    values: list[Decimal] = []
    for name, cell in zip(HEADER, row, strict=True):
        try:
            value = Decimal(cell.strip())
        except InvalidOperation:
            problems.append(f"line {line_no}: {name} is {cell!r}, expected a number")
            return None
        if not value.is_finite():
            problems.append(f"line {line_no}: {name} is {cell!r}, expected a finite number")
            return None
        values.append(value)
    ts, o, h, low, c, v = values
    if ts != ts.to_integral_value() or ts < 0:
        problems.append(
            f"line {line_no}: timestamp_ms is {row[0]!r}, expected whole epoch milliseconds"
        )
        return None
    if min(o, h, low, c) <= 0:
        problems.append(f"line {line_no}: prices must be > 0")
        return None
    if not (low <= min(o, c) and max(o, c) <= h):
        problems.append(
            f"line {line_no}: expected low <= open, close <= high (got o={o} h={h} l={low} c={c})"
        )
        return None
    if v < 0:
        problems.append(f"line {line_no}: volume is {v}, expected >= 0")
        return None
    return int(ts), o, h, low, c, v
