"""A public trade as the live feed hands it on: exact Decimal price and amount, the exchange's
trade ids (a range when the exchange aggregated several trades into one record)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class LiveTrade:
    symbol: str
    ts_ms: int  # the exchange's trade time
    price: Decimal
    amount: Decimal
    # Binance numbers trades consecutively per symbol; an aggregate trade (REST `aggTrades`,
    # used to backfill) covers first_id..last_id. None when the exchange gives no number.
    first_id: int | None
    last_id: int | None


def _exact(raw_text: Any, parsed: Any) -> Decimal:
    """The exchange's own decimal text when there is one (ccxt parses prices to floats)."""
    if isinstance(raw_text, str) and raw_text:
        return Decimal(raw_text)
    return Decimal(str(parsed))


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def trade_from_ccxt(trade: Mapping[str, Any]) -> LiveTrade:
    """A ccxt trade structure (from `watch_trades` or `fetch_trades`) as a `LiveTrade`.

    Price and amount come from Binance's raw `p`/`q` strings when present, so they are the exact
    decimals the exchange sent. Ids: a raw trade has `t`, an aggregate trade `f`..`l`."""
    info = trade.get("info") or {}
    if not isinstance(info, Mapping):
        info = {}
    first = _int_or_none(info.get("f"))
    last = _int_or_none(info.get("l"))
    if first is None or last is None:
        first = last = _int_or_none(info.get("t"))
        if first is None:
            first = last = _int_or_none(trade.get("id"))
    return LiveTrade(
        symbol=str(trade["symbol"]),
        ts_ms=int(trade["timestamp"]),
        price=_exact(info.get("p"), trade["price"]),
        amount=_exact(info.get("q"), trade["amount"]),
        first_id=first,
        last_id=last,
    )
