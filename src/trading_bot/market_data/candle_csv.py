"""Load candles from CSV: `timestamp_ms,open,high,low,close,volume`, one bar per line.

Every row is checked (numbers, positive prices, low <= open/close <= high, non-negative
volume, strictly increasing timestamps) and all problems are reported with their line
numbers, up to a limit, so a bad file is fixed in one pass.

Prices are read as text and turned into exact scaled integers without going through Decimal
for the common plain form (`46319.5`), which keeps a million-row file to seconds.
"""

from __future__ import annotations

import csv
import re
from itertools import pairwise
from pathlib import Path

import numpy as np

from trading_bot.domain.timestamps import EARLIEST_PLAUSIBLE_MS, LATEST_PLAUSIBLE_MS
from trading_bot.market_data.bars import BarSeries
from trading_bot.market_data.csv_table import CsvTable, read_header
from trading_bot.market_data.errors import DataFileError

HEADER = ["timestamp_ms", "open", "high", "low", "close", "volume"]
_PLAIN = re.compile(r"\d+(\.\d+)?", re.ASCII)
_PLAIN_COLUMN = re.compile(r"(?:\d+(?:\.\d+)?\n)*\d+(?:\.\d+)?", re.ASCII)
_PLAIN_INTS = re.compile(r"(?:\d+\n)*\d+", re.ASCII)


def load_candles_csv(path: str | Path, symbol: str) -> BarSeries:
    path = Path(path)
    if path.is_file():
        try:
            fast = _load_clean(path, symbol)
        except (UnicodeDecodeError, csv.Error):
            fast = None
        if fast is not None:
            return fast
    table = CsvTable(path, HEADER)
    stamps: list[int] = []
    lines: list[int] = []
    prices: list[list[str]] = [[], [], [], []]
    volumes: list[float] = []
    for line_no, row in table.rows():
        ts = table.timestamp(line_no, row[0])

        cells = [
            _plain_number(table, line_no, name, cell)
            for name, cell in zip(HEADER[1:], row[1:], strict=True)
        ]
        if ts is None or any(cell is None for cell in cells):
            continue
        if stamps and ts <= stamps[-1]:
            table.problem(
                line_no,
                f"timestamp {ts} is not after the previous bar's {stamps[-1]}; "
                "bars must be sorted by time without repeats",
            )
            continue
        stamps.append(ts)
        lines.append(line_no)
        for column, cell in zip(prices, cells[:4], strict=True):
            column.append(cell)  # type: ignore[arg-type]
        volumes.append(float(cells[4]))  # type: ignore[arg-type]

    scale = max(
        (len(cell) - cell.index(".") - 1 for column in prices for cell in column if "." in cell),
        default=0,
    )
    o, h, low, c = (_scaled(column, scale, path) for column in prices)
    _check_shapes(table, lines, o, h, low, c)  # volumes: `_plain_number` refuses negatives
    table.finish(len(stamps), stamps[0] if stamps else None)
    return BarSeries(
        symbol, np.array(stamps, dtype=np.int64), o, h, low, c, np.array(volumes), scale
    )


CHUNK_ROWS = 65_536

Chunk = tuple[np.ndarray, list[np.ndarray], int, np.ndarray]  # stamps, o/h/l/c, scale, volume


def _load_clean(path: Path, symbol: str) -> BarSeries | None:
    """The common case, streamed in chunks of whole columns: every cell plain, every row well
    formed. Memory stays near the size of the arrays, not of the text. None sends the file
    through the row-by-row path, which names each problem and its line."""
    if read_header(path) != HEADER:
        return None
    chunks: list[Chunk] = []
    columns: list[list[str]] = [[] for _ in HEADER]
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for row in reader:
            if len(row) != len(HEADER):
                if not row or all(not cell.strip() for cell in row):
                    continue
                return None
            for column, cell in zip(columns, row, strict=True):
                column.append(cell.strip())
            if len(columns[0]) >= CHUNK_ROWS:
                chunk = _clean_chunk(columns)
                if chunk is None:
                    return None
                chunks.append(chunk)
                columns = [[] for _ in HEADER]
    if columns[0]:
        chunk = _clean_chunk(columns)
        if chunk is None:
            return None
        chunks.append(chunk)
    if not chunks or any(a[0][-1] >= b[0][0] for a, b in pairwise(chunks)):
        return None
    scale = max(chunk[2] for chunk in chunks)
    prices: list[list[np.ndarray]] = [[], [], [], []]
    for _, columns_of_chunk, chunk_scale, _ in chunks:
        factor = 10 ** (scale - chunk_scale)
        for target, column in zip(prices, columns_of_chunk, strict=True):
            if factor > 1 and int(column.max()) >= 2**63 // factor:
                return None
            target.append(column * factor)
    o, h, low, c = (np.concatenate(parts) for parts in prices)
    stamps = np.concatenate([chunk[0] for chunk in chunks])
    volume = np.concatenate([chunk[3] for chunk in chunks])
    return BarSeries(symbol, stamps, o, h, low, c, volume, scale)


def _clean_chunk(columns: list[list[str]]) -> Chunk | None:
    stamps_text, *price_text, volume_text = columns
    if max(map(len, stamps_text)) > 13 or not _PLAIN_INTS.fullmatch("\n".join(stamps_text)):
        return None
    if not all(_PLAIN_COLUMN.fullmatch("\n".join(column)) for column in (*price_text, volume_text)):
        return None
    stamps = np.array(list(map(int, stamps_text)), dtype=np.int64)
    if stamps[0] < EARLIEST_PLAUSIBLE_MS or stamps[-1] >= LATEST_PLAUSIBLE_MS:
        return None
    if len(stamps) > 1 and not bool(np.all(np.diff(stamps) > 0)):
        return None
    scale = max(
        (len(c) - c.index(".") - 1 for column in price_text for c in column if "." in c), default=0
    )
    try:
        o, h, low, c = (_scaled_fast(column, scale) for column in price_text)
    except OverflowError:
        return None
    if bool(np.any((o <= 0) | (low <= 0) | (low > np.minimum(o, c)) | (np.maximum(o, c) > h))):
        return None
    return stamps, [o, h, low, c], scale, np.array(list(map(float, volume_text)))


def _scaled_fast(cells: list[str], scale: int) -> np.ndarray:
    """Exact scaled integers via float64 when every value has at most 15 significant digits
    and the scaled values stay below 2**50, where float64 rounding cannot reach 0.5; else digit
    by digit."""
    if max(map(len, cells)) <= 16 and scale <= 15:
        scaled = np.rint(np.array(list(map(float, cells))) * 10.0**scale)
        if float(scaled.max()) < 2**50:  # rounding error stays far below 0.5
            return scaled.astype(np.int64)
    return np.array(
        [int(w + f.ljust(scale, "0")) for w, _, f in (c.partition(".") for c in cells)],
        dtype=np.int64,
    )


def _plain_number(table: CsvTable, line_no: int, name: str, cell: str) -> str | None:
    """The cell as plain non-negative decimal text, or None (with a problem noted)."""
    if _PLAIN.fullmatch(cell):
        return cell
    value = table.decimal(line_no, name, cell)
    if value is None:
        return None
    if value < 0:
        table.problem(line_no, f"{name} is {cell}, expected a number >= 0")
        return None
    text = format(value, "f")
    return text if "." not in text else text.rstrip("0").rstrip(".") or "0"


def _scaled(cells: list[str], scale: int, path: Path) -> np.ndarray:
    values = []
    for cell in cells:
        whole, _, fraction = cell.partition(".")
        values.append(int(whole + fraction.ljust(scale, "0")))
    if values and max(values) >= 2**63:
        raise DataFileError(
            str(path),
            [f"prices with {scale} decimals are too large to store exactly; round the file"],
        )
    return np.array(values, dtype=np.int64)


def _check_shapes(
    table: CsvTable,
    lines: list[int],
    o: np.ndarray,
    h: np.ndarray,
    low: np.ndarray,
    c: np.ndarray,
) -> None:
    """Positive prices and low <= open, close <= high, checked on whole columns at once."""
    zero = set(np.flatnonzero((o <= 0) | (h <= 0) | (low <= 0) | (c <= 0)).tolist())
    shape = set(np.flatnonzero((low > np.minimum(o, c)) | (np.maximum(o, c) > h)).tolist())
    for index in sorted(zero | shape)[:50]:
        if index in zero:
            table.problem(lines[index], "prices must be > 0")
        else:
            table.problem(
                lines[index],
                f"expected low <= open, close <= high (got o={o[index]} h={h[index]} l={low[index]} c={c[index]} "
                "in the file's smallest price unit)",
            )
