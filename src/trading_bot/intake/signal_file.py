"""Read recorded signals from a file: JSONL (one canonical JSON object per line) or CSV with
the same field names as columns.

A bad row never stops the file: it comes back as an `InvalidSignal` with its line number and
every problem in it, to be counted and kept. A file that cannot be read at all (missing, not
UTF-8, no CSV header, broken CSV quoting) raises `DataFileError` naming the file and line.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from trading_bot.domain.signal import Signal
from trading_bot.engine.signal_ledger import InvalidSignal
from trading_bot.intake.parsing import parse_json_signal, validate_signal
from trading_bot.market_data.errors import DataFileError

CSV_SUFFIXES = {".csv"}
JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}


@dataclass(frozen=True, slots=True)
class RecordedSignal:
    signal: Signal
    line: int
    raw: str = ""


def read_signal_file(
    path: str | Path, *, require_created_at: bool = False
) -> Iterator[RecordedSignal | InvalidSignal]:
    """Every row of the file as a signal or a dead letter. `require_created_at` (backtests)
    makes a row without `created_at` a dead letter too."""
    for item in _read(Path(path)):
        if (
            require_created_at
            and isinstance(item, RecordedSignal)
            and item.signal.created_at is None
        ):
            yield InvalidSignal(
                f"{path}:{item.line}",
                ("created_at: required in a backtest signal file (epoch ms or ISO-8601)",),
                item.raw,
            )
        else:
            yield item


def _read(path: Path) -> Iterator[RecordedSignal | InvalidSignal]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataFileError(str(path), ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise DataFileError(str(path), [f"cannot read: {error}"]) from None
    if _looks_like_csv(path, text):
        yield from _read_csv(path, text)
    else:
        yield from _read_jsonl(path, text)


def _looks_like_csv(path: Path, text: str) -> bool:
    if path.suffix.lower() in CSV_SUFFIXES:
        return True
    if path.suffix.lower() in JSON_SUFFIXES:
        return False
    return not text.lstrip().startswith("{")


def _read_jsonl(path: Path, text: str) -> Iterator[RecordedSignal | InvalidSignal]:
    # split on newlines only: U+2028 and friends are legal inside JSON strings
    for line_no, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        parsed = parse_json_signal(line)
        if isinstance(parsed, Signal):
            yield RecordedSignal(parsed, line_no, line)
        else:
            yield InvalidSignal(f"{path}:{line_no}", tuple(parsed), line)


def _read_csv(path: Path, text: str) -> Iterator[RecordedSignal | InvalidSignal]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        yield from _csv_rows(path, reader)
    except csv.Error as error:
        raise DataFileError(
            str(path), [f"line {reader.line_num}: unreadable CSV: {error}"]
        ) from None


def _csv_rows(path: Path, reader: csv.DictReader[str]) -> Iterator[RecordedSignal | InvalidSignal]:
    names = [f.strip() for f in reader.fieldnames or []]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataFileError(
            str(path), [f"line 1: column {', '.join(repeated)} appears more than once"]
        )
    if not reader.fieldnames or "signal_id" not in names:
        raise DataFileError(
            str(path),
            [
                "line 1: expected a CSV header naming the signal fields (signal_id, asset, side, size, ...)"
            ],
        )
    for row in reader:
        line_no = reader.line_num
        raw = ",".join(v if isinstance(v, str) else "" for v in row.values())
        if None in row:
            yield InvalidSignal(f"{path}:{line_no}", ("more values than header columns",), raw)
            continue
        payload: dict[str, object] = {
            k.strip(): v.strip() for k, v in row.items() if v is not None and v.strip()
        }
        if not payload:
            continue
        metadata = payload.get("metadata")
        if isinstance(metadata, str):
            try:
                payload["metadata"] = json.loads(metadata)
            except ValueError as error:
                yield InvalidSignal(
                    f"{path}:{line_no}", (f"metadata: not valid JSON: {error}",), raw
                )
                continue
        parsed = validate_signal(payload)
        if isinstance(parsed, Signal):
            yield RecordedSignal(parsed, line_no, raw)
        else:
            yield InvalidSignal(f"{path}:{line_no}", tuple(parsed), raw)
