"""How Binance writes numbers, symbols and intervals."""

from __future__ import annotations

from decimal import Decimal

from trading_bot.domain.market import split_symbol

INTERVALS_MS = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}


def num(value: Decimal | None) -> str:
    """Binance's plain text with at least 8 decimals (`0.01` -> `0.01000000`); more digits
    are kept, never rounded away (fees and notionals stay exact)."""
    if value is None:
        return "0.00000000"
    text = format(value, "f")
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    return f"{whole}.{frac.ljust(8, '0')}"


def market_id(symbol: str) -> str:
    """`BTC/USDT` -> `BTCUSDT`."""
    base, quote = split_symbol(symbol)
    return base + quote
