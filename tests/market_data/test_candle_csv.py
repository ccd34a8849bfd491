from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from trading_bot.market_data.candle_csv import load_candles_csv
from trading_bot.market_data.errors import DataFileError

HEADER = "timestamp_ms,open,high,low,close,volume\n"


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "bars.csv"
    path.write_text(header + body)
    return path


def test_loads_the_bundled_real_candles_exactly() -> None:
    series = load_candles_csv(EXAMPLES / "data" / "BTC-USD_1m_2022-01-01.csv", "BTC/USD")
    assert len(series) == 2880
    assert series.interval_ms == 60_000
    first = series.bar(0)
    assert (first.ts_ms, first.open, first.high, first.low, first.close) == (
        1640991660000,
        Decimal("46319.0"),
        Decimal("46385.0"),
        Decimal("46319.0"),
        Decimal("46377.0"),
    )
    assert first.volume == Decimal("2300413.7295")


def test_prices_with_many_decimals_stay_exact(tmp_path: Path) -> None:
    path = write(tmp_path, "1640991660000,0.09946999000000001,0.1,0.09,0.0994766,1.5\n")
    bar = load_candles_csv(path, "ETH/BTC").bar(0)
    assert bar.open == Decimal("0.09946999000000001")
    assert bar.close == Decimal("0.0994766")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("1640991660000,abc,1,1,1,1\n", "line 2: open is 'abc', expected a number"),
        ("1640991660000,1,1,1\n", "line 2: expected 6 columns, got 4"),
        ("1640991660000,1,0.5,1,1,1\n", "expected low <= open, close <= high"),
        ("1640991660000,0,1,0,1,1\n", "prices must be > 0"),
        ("1640991660000,1,1,1,1,-3\n", "volume is -3"),
        (
            "1640991660000,1,1,1,1,1\n1640991660000,1,1,1,1,1\n",
            "line 3: timestamp 1640991660000 is not after",
        ),
        ("1640991660.5,1,1,1,1,1\n", "whole epoch milliseconds"),
        ("1640991660,1,1,1,1,1\n", "not seconds"),
        ("", "no data rows after the header"),
    ],
)
def test_bad_rows_are_reported_with_line_numbers(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(DataFileError) as caught:
        load_candles_csv(write(tmp_path, body), "BTC/USDT")
    assert any(message in problem for problem in caught.value.problems), caught.value.problems


def test_every_bad_row_is_reported_in_one_pass(tmp_path: Path) -> None:
    body = "1640991660000,x,1,1,1,1\n1640991720000,1,1,1,1,1\n1640991780000,1,1,1,y,1\n"
    with pytest.raises(DataFileError) as caught:
        load_candles_csv(write(tmp_path, body), "BTC/USDT")
    assert len(caught.value.problems) == 2


def test_wrong_header_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="expected the header"):
        load_candles_csv(write(tmp_path, "1,2,3\n", header="time,price,size\n"), "BTC/USDT")
    with pytest.raises(DataFileError, match="file not found"):
        load_candles_csv(tmp_path / "nope.csv", "BTC/USDT")


def test_the_fast_column_path_reads_every_price_exactly(tmp_path: Path) -> None:
    import csv

    source = EXAMPLES / "data" / "BTC-USD_1m_2022-01-01.csv"
    series = load_candles_csv(source, "BTC/USD")
    with source.open() as handle:
        rows = list(csv.DictReader(handle))
    for index in range(0, len(rows), 97):
        bar, row = series.bar(index), rows[index]
        assert (bar.open, bar.high, bar.low, bar.close) == tuple(
            Decimal(row[k]) for k in ("open", "high", "low", "close")
        )
    wide_and_big = tmp_path / "big.csv"
    wide_and_big.write_text(
        HEADER
        + "1640991660000,0.09946999000000001,0.1,0.09,0.0994766,1\n1640991720000,123456789.123456789,123456790,123456789,123456789.5,1\n"
    )
    with pytest.raises(DataFileError, match="too large to store exactly"):
        load_candles_csv(wide_and_big, "X/Y")
    long = tmp_path / "long.csv"
    long.write_text(HEADER + "1640991660000,0.09946999000000001,0.1,0.09,0.0994766,1\n")
    assert load_candles_csv(long, "X/Y").bar(0).open == Decimal("0.09946999000000001")


def test_big_files_are_read_in_chunks_with_one_scale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trading_bot.market_data.candle_csv as loader

    monkeypatch.setattr(loader, "CHUNK_ROWS", 2)
    path = write(
        tmp_path,
        "1640991660000,1,2,1,2,1\n1640991720000,2,2,2,2,1\n1640991780000,2.25,3,2,3,1\n1640991840000,3,3,3,3,1\n",
    )
    series = load_candles_csv(path, "BTC/USDT")
    assert series.price_scale == 2
    assert [series.bar(i).open for i in range(4)] == [
        Decimal("1"),
        Decimal("2"),
        Decimal("2.25"),
        Decimal("3"),
    ]
    unsorted = write(
        tmp_path, "1640991660000,1,1,1,1,1\n1640991720000,1,1,1,1,1\n1640991690000,1,1,1,1,1\n"
    )
    with pytest.raises(DataFileError, match="line 4: timestamp 1640991690000 is not after"):
        load_candles_csv(unsorted, "BTC/USDT")
