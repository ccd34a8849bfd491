"""Load any supported market data file, recognising its kind by its header."""

from __future__ import annotations

from pathlib import Path

from trading_bot.market_data.bars import BarSeries
from trading_bot.market_data.book_csv import (
    DEPTH_HEADER,
    SNAPSHOT_HEADER,
    load_book_snapshots_csv,
    load_depth_csv,
)
from trading_bot.market_data.candle_csv import HEADER as CANDLE_HEADER
from trading_bot.market_data.candle_csv import load_candles_csv
from trading_bot.market_data.csv_table import read_header
from trading_bot.market_data.errors import DataFileError
from trading_bot.market_data.order_book import BookSeries
from trading_bot.market_data.trade_csv import HEADER as TRADE_HEADER
from trading_bot.market_data.trade_csv import load_trades_csv

MarketData = BarSeries | BookSeries

_LOADERS = {
    tuple(CANDLE_HEADER): ("candles", load_candles_csv),
    tuple(TRADE_HEADER): ("trades", load_trades_csv),
    tuple(DEPTH_HEADER): ("order book (diff depth)", load_depth_csv),
    tuple(SNAPSHOT_HEADER): ("order book (snapshots)", load_book_snapshots_csv),
}


def load_market_data(path: str | Path, symbol: str) -> MarketData:
    path = Path(path)
    header = tuple(read_header(path))
    found = _LOADERS.get(header)
    if found is None:
        known = "; ".join(f"{kind}: {','.join(h)}" for h, (kind, _) in _LOADERS.items())
        raise DataFileError(
            str(path),
            [f"line 1: unknown header {','.join(header) or '(empty)'}; expected one of {known}"],
        )
    return found[1](path, symbol)
