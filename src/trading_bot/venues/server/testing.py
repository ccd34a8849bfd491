"""A plain ccxt client for a running venue server (tests talk to it as any ccxt user would).

Built from the same options and URL rewriting the live connector uses
(`trading_bot.venues.ccxt.client`); close it with `await client.close()`.
"""

from __future__ import annotations

from typing import Any

from trading_bot.venues.ccxt.client import build_client
from trading_bot.venues.ccxt.params import CCXTVenueParams
from trading_bot.venues.server.server import VenueServer


def binance_client(
    rest_url: str,
    ws_url: str | None = None,
    *,
    api_key: str = "",
    secret: str = "",
    pro: bool = False,
    **overrides: Any,
) -> Any:
    """ccxt's binance (ccxt.pro with `pro`, else async_support) pointed at a venue server.
    `overrides` are ccxt constructor options (`enableRateLimit=False`, `options={...}`)."""
    params = CCXTVenueParams(
        exchange="binance",
        api_url=rest_url,
        ws_url=ws_url,
        credentials={"api_key": api_key or None, "secret": secret or None},
        options=overrides.pop("options", {}),
    )
    exchange = build_client(params, streams=pro)
    for key, value in overrides.items():
        setattr(exchange, key, value)
    exchange.number = float  # a plain ccxt client, as users have it
    return exchange


def ccxt_client(server: VenueServer, pro: bool = False, **overrides: Any) -> Any:
    return binance_client(
        server.rest_url,
        server.ws_url,
        api_key=server.config.api_key,
        secret=server.config.api_secret,
        pro=pro,
        **overrides,
    )
