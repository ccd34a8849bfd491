"""Load recorded order books from CSV.

- Binance diff-depth: `timestamp_ms,first_update_id,last_update_id,kind,side,price,size` with
  `kind` snapshot or delta. Deltas are applied only where they chain onto the book (the
  Binance sync rule: the first delta after a snapshot must have first_update_id <=
  snapshot.last_update_id + 1 <= last_update_id, later ones must follow without a gap).
  Deltas that do not chain are skipped until the next snapshot and reported as warnings: a
  book with a gap is worse than an older book.
- Top-N snapshots: `timestamp_ms,level,side,price,size`, each timestamp a full snapshot.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import groupby
from pathlib import Path

from trading_bot.market_data.csv_table import CsvTable
from trading_bot.market_data.order_book import BookEvent, BookSeries, group_levels

DEPTH_HEADER = [
    "timestamp_ms",
    "first_update_id",
    "last_update_id",
    "kind",
    "side",
    "price",
    "size",
]
SNAPSHOT_HEADER = ["timestamp_ms", "level", "side", "price", "size"]

Row = tuple[int, int, int, str, str, Decimal, Decimal]


def load_depth_csv(path: str | Path, symbol: str) -> BookSeries:
    path = Path(path)
    table = CsvTable(path, DEPTH_HEADER)
    rows: list[Row] = []
    for line_no, cells in table.rows():
        ts = table.timestamp(line_no, cells[0])
        first = table.decimal(line_no, "first_update_id", cells[1])
        last = table.decimal(line_no, "last_update_id", cells[2])
        price = table.decimal(line_no, "price", cells[5])
        size = table.decimal(line_no, "size", cells[6])
        kind, side = cells[3].lower(), cells[4].lower()
        if None in (ts, first, last, price, size):
            continue
        if kind not in ("snapshot", "delta"):
            table.problem(line_no, f"kind is {cells[3]!r}, expected snapshot or delta")
        elif side not in ("bid", "ask"):
            table.problem(line_no, f"side is {cells[4]!r}, expected bid or ask")
        elif price <= 0 or size < 0:  # type: ignore[operator]
            table.problem(line_no, "price must be > 0 and size >= 0")
        elif (
            not (0 <= first <= last)
            or first != first.to_integral_value()
            or last != last.to_integral_value()
        ):  # type: ignore[operator]
            table.problem(
                line_no, f"update ids {cells[1]}-{cells[2]}: expected whole numbers, first <= last"
            )
        elif rows and ts < rows[-1][0]:  # type: ignore[operator]
            table.problem(line_no, f"timestamp {ts} is before the previous row's {rows[-1][0]}")
        else:
            rows.append((ts, int(first), int(last), kind, side, price, size))  # type: ignore[arg-type]
    table.finish(len(rows), rows[0][0] if rows else None)

    events: list[BookEvent] = []
    warnings: list[str] = []
    synced_to: int | None = None  # last update id the book is consistent with
    seen_snapshot = False
    for (ts, kind, _, _), group in groupby(rows, key=_batch):
        members = list(group)
        first, last = min(r[1] for r in members), max(r[2] for r in members)
        bids, asks = group_levels((r[4], r[5], r[6]) for r in members)
        if kind == "snapshot":
            crossed = _crossed(bids, asks)
            if crossed:
                warnings.append(f"snapshot at {ts} is crossed ({crossed}): skipped")
                synced_to = None
                continue
            events.append(BookEvent(ts, True, bids, asks))
            synced_to, seen_snapshot = last, True
            continue
        if synced_to is None:
            warnings.append(
                f"delta at {ts} skipped: "
                + (
                    "the book has a gap until the next snapshot"
                    if seen_snapshot
                    else "no snapshot before it"
                )
            )
        elif last <= synced_to:
            continue  # already contained in the snapshot
        elif first > synced_to + 1:
            warnings.append(
                f"delta at {ts} (update ids {first}-{last}) does not chain onto the book "
                f"(synced to {synced_to}): skipped until the next snapshot"
            )
            synced_to = None
        else:
            events.append(BookEvent(ts, False, bids, asks))
            synced_to = last
    if not events:
        raise_no_book(path, warnings)
    return BookSeries(symbol, events, warnings)


def _batch(row: Row) -> tuple[int, str, int, int]:
    """Rows of one snapshot share a timestamp; rows of one delta also share its update ids."""
    ts, first, last, kind = row[:4]
    return (ts, kind, -1, -1) if kind == "snapshot" else (ts, kind, first, last)


def _crossed(
    bids: tuple[tuple[Decimal, Decimal], ...], asks: tuple[tuple[Decimal, Decimal], ...]
) -> str:
    """'best bid B >= best ask A' when a snapshot's sides overlap (bad data), else ''."""
    live_bids = [p for p, s in bids if s > 0]
    live_asks = [p for p, s in asks if s > 0]
    if live_bids and live_asks and max(live_bids) >= min(live_asks):
        return f"best bid {max(live_bids)} >= best ask {min(live_asks)}"
    return ""


def load_book_snapshots_csv(path: str | Path, symbol: str) -> BookSeries:
    path = Path(path)
    table = CsvTable(path, SNAPSHOT_HEADER)
    rows: list[tuple[int, str, Decimal, Decimal]] = []
    levels_seen: set[tuple[int, str, int]] = set()
    for line_no, cells in table.rows():
        ts = table.timestamp(line_no, cells[0])
        price = table.decimal(line_no, "price", cells[3])
        size = table.decimal(line_no, "size", cells[4])
        side = cells[2].lower()
        level = cells[1]
        if ts is None or price is None or size is None:
            continue
        if not level.isdigit():
            table.problem(line_no, f"level is {level!r}, expected a whole number >= 0 (0 = best)")
        elif (ts, side, int(level)) in levels_seen:
            table.problem(line_no, f"level {level} {side} is given twice at {ts}")
        elif side not in ("bid", "ask"):
            table.problem(line_no, f"side is {cells[2]!r}, expected bid or ask")
        elif price <= 0 or size < 0:
            table.problem(line_no, "price must be > 0 and size >= 0")
        elif rows and ts < rows[-1][0]:
            table.problem(line_no, f"timestamp {ts} is before the previous row's {rows[-1][0]}")
        else:
            levels_seen.add((ts, side, int(level)))
            rows.append((ts, side, price, size))
    table.finish(len(rows), rows[0][0] if rows else None)
    events = []
    warnings = []
    for ts, group in groupby(rows, key=lambda r: r[0]):
        bids, asks = group_levels((r[1], r[2], r[3]) for r in group)
        crossed = _crossed(bids, asks)
        if crossed:
            warnings.append(f"snapshot at {ts} is crossed ({crossed}): skipped")
            continue
        events.append(BookEvent(ts, True, bids, asks))
    if not events:
        raise_no_book(path, warnings)
    return BookSeries(symbol, events, warnings)


def raise_no_book(path: Path, warnings: list[str]) -> None:
    from trading_bot.market_data.errors import DataFileError

    raise DataFileError(str(path), ["no usable book: the file has no snapshot", *warnings])
