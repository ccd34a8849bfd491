"""trading-bot: execute outside trading signals safely, one code path for backtest, paper and live."""

from pathlib import Path

from trading_bot.compiled import use_source_if_needed

__version__ = "0.1.0"

use_source_if_needed(Path(__file__).parent)
