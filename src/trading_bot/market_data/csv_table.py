"""Reading market data CSV files: header check, typed cells, every problem with its line.

Shared by the candle, trade and order book loaders so they report problems the same way.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

from trading_bot.domain.timestamps import EARLIEST_PLAUSIBLE_MS, LATEST_PLAUSIBLE_MS
from trading_bot.market_data.errors import DataFileError

MAX_PROBLEMS = 20
# plain ASCII numbers only: Decimal() would also take '1_000' and non-Latin digits
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def read_header(path: Path) -> list[str]:
    """The lower-cased, stripped header of a CSV file ([] for an empty file)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            first = next(csv.reader(handle), [])
    except FileNotFoundError:
        raise DataFileError(str(path), ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise DataFileError(str(path), [f"cannot read: {error}"]) from None
    return [cell.strip().lower() for cell in first]


class CsvTable:
    """Rows of a CSV file with a known header; problems collect in `problems`."""

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        self.path = path
        self.header = list(header)
        self.problems: list[str] = []
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                self._rows = list(csv.reader(handle))
        except FileNotFoundError:
            raise DataFileError(str(path), ["file not found"]) from None
        except (OSError, UnicodeDecodeError) as error:
            raise DataFileError(str(path), [f"cannot read: {error}"]) from None
        if not self._rows or [c.strip().lower() for c in self._rows[0]] != self.header:
            got = ",".join(self._rows[0]) if self._rows else "an empty file"
            raise DataFileError(
                str(path), [f"line 1: expected the header {','.join(self.header)}, got {got}"]
            )

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line number, cells) of each non-blank data row with the right number of columns."""
        for line_no, row in enumerate(self._rows[1:], start=2):
            if self.full:
                return
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(self.header):
                self.problem(line_no, f"expected {len(self.header)} columns, got {len(row)}")
                continue
            yield line_no, [cell.strip() for cell in row]

    @property
    def full(self) -> bool:
        return len(self.problems) >= MAX_PROBLEMS

    def problem(self, line_no: int, message: str) -> None:
        if self.full:
            return
        self.problems.append(f"line {line_no}: {message}")
        if self.full:
            self.problems.append("... more problems not shown")

    def decimal(self, line_no: int, name: str, cell: str) -> Decimal | None:
        if not _NUMBER.fullmatch(cell):
            self.problem(line_no, f"{name} is {cell!r}, expected a number")
            return None
        try:
            value = Decimal(cell)
        except InvalidOperation:
            self.problem(line_no, f"{name} is {cell!r}, expected a number")
            return None
        if not value.is_finite():
            self.problem(line_no, f"{name} is {cell!r}, expected a finite number")
            return None
        return value

    def timestamp(self, line_no: int, cell: str) -> int | None:
        value = self.decimal(line_no, "timestamp_ms", cell)
        if value is None:
            return None
        if value != value.to_integral_value() or value < 0:
            self.problem(line_no, f"timestamp_ms is {cell!r}, expected whole epoch milliseconds")
            return None
        if value >= LATEST_PLAUSIBLE_MS:
            self.problem(
                line_no,
                f"timestamp {cell} is after the year 2100 as epoch milliseconds; "
                "timestamp_ms must be milliseconds, not micro- or nanoseconds",
            )
            return None
        return int(value)

    def finish(self, count: int, first_ts: int | None) -> None:
        """Raise with every problem found, or if the file held no data."""
        if count == 0 and not self.problems:
            self.problems.append("no data rows after the header")
        if first_ts is not None and first_ts < EARLIEST_PLAUSIBLE_MS:
            self.problems.append(
                f"line 2: timestamp {first_ts} is before the year 2000 as epoch milliseconds; "
                "timestamp_ms must be milliseconds, not seconds"
            )
        if self.problems:
            raise DataFileError(str(self.path), self.problems)


def scale_of(values: Sequence[Decimal]) -> int:
    """The number of decimals needed to hold every value exactly as an integer."""
    return max(0, *(-v.as_tuple().exponent for v in values)) if values else 0  # type: ignore[operator]


def scaled(values: Sequence[Decimal], scale: int, path: Path) -> list[int]:
    factor = Decimal(10) ** scale
    result = [int(v * factor) for v in values]
    if result and max(abs(min(result)), abs(max(result))) >= 2**63:
        raise DataFileError(
            str(path),
            [f"prices with {scale} decimals are too large to store exactly; round the file"],
        )
    return result
