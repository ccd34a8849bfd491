"""Shared set-up of the venue server tests: price paths written as candle CSVs, a server
config, and ccxt clients (async_support and pro) pointed at the server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from trading_bot.venues.server import VenueServer, VenueServerConfig, running_venue_server
from trading_bot.venues.server.testing import ccxt_client

START_MS = 1_640_995_200_000
# a 1-minute bar lasts 25 ms of wall time: a 60-bar cycle in 1.5 s
FAST = 2_400
# 20 bars near 100, down to 90 over 20 bars, back up to 100 over 20 bars (then it repeats)
DIP = [100.0] * 20 + [100 - i * 0.5 for i in range(1, 21)] + [90 + i * 0.5 for i in range(1, 21)]


def write_bars(path: Path, closes: Sequence[float], volume: float = 1000.0) -> Path:
    """One bar per close: opens at the previous close, high/low half a unit beyond."""
    lines = ["timestamp_ms,open,high,low,close,volume"]
    previous = closes[0]
    for i, close in enumerate(closes):
        high, low = max(previous, close) + 0.5, min(previous, close) - 0.5
        lines.append(f"{START_MS + i * 60_000},{previous},{high},{low},{close},{volume}")
        previous = close
    path.write_text("\n".join(lines) + "\n")
    return path


def venue_config(tmp_path: Path, **changes: Any) -> VenueServerConfig:
    closes = changes.pop("closes", DIP)
    volume = changes.pop("volume", 1000.0)
    exchange = {
        "balances": {"USDT": "10000", "BTC": "1"},
        "fees": {"maker": "0.001", "taker": "0.002"},
        "markets": {
            "BTC/USDT": {"amount_step": "0.001", "price_step": "0.01", "min_notional": "5"}
        },
    }
    exchange.update(changes.pop("exchange", {}))
    return VenueServerConfig.model_validate(
        {
            "market_data": {"BTC/USDT": write_bars(tmp_path / "btc.csv", closes, volume)},
            "replay_speed": FAST,
            "horizon_hours": 0.5,
            "exchange": exchange,
            "api_key": "test-key",
            "api_secret": "test-secret",
            **changes,
        }
    )


@contextlib.asynccontextmanager
async def venue_and_client(
    tmp_path: Path, *, pro: bool = False, **changes: Any
) -> AsyncIterator[tuple[VenueServer, Any]]:
    async with running_venue_server(venue_config(tmp_path, **changes)) as server:
        client = ccxt_client(server, pro=pro, enableRateLimit=False)
        try:
            await client.load_markets()
            yield server, client
        finally:
            await client.close()


def dec(value: object) -> Decimal:
    return Decimal(str(value))
