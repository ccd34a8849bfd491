"""trading-bot: execute outside trading signals safely, one code path for backtest, paper and live."""

__version__ = "0.1.0"
