"""Test helper: a ccxt client for a running venue server (close it with `await c.close()`)."""

from __future__ import annotations

from typing import Any

from trading_bot.venues.server.ccxt_urls import binance_client
from trading_bot.venues.server.server import VenueServer


def ccxt_client(server: VenueServer, pro: bool = False, **overrides: Any) -> Any:
    return binance_client(
        server.rest_url,
        server.ws_url,
        api_key=server.config.api_key,
        secret=server.config.api_secret,
        pro=pro,
        **overrides,
    )
