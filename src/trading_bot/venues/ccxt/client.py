"""Build the ccxt client a `CCXTVenue` talks through, pointed where the config says.

`params.api_url` / `params.ws_url` replace scheme and host of every REST / WebSocket URL the
exchange class knows, keeping its own paths (`/api/v3`, `/ws-api/v3`...): a testnet, a proxy,
or `trading-bot venue serve` on 127.0.0.1, with nothing left pointing at the real venue.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import ccxt.async_support
import ccxt.pro
from ccxt.async_support.base.exchange import Exchange

from trading_bot.venues.ccxt.params import CCXTVenueParams

# options that keep start-up to the calls the bot needs (Binance: one exchangeInfo request,
# not seven; no wallet endpoints that need extra key permissions)
BASE_OPTIONS: dict[str, Any] = {
    "fetchCurrencies": False,
    "adjustForTimeDifference": False,
    "warnOnFetchOpenOrdersWithoutSymbol": False,
    "fetchOpenOrders": {"warnWithoutSymbol": False},
}
EXCHANGE_OPTIONS: dict[str, dict[str, Any]] = {
    "binance": {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False},
}


def build_client(params: CCXTVenueParams, *, streams: bool = True) -> Exchange:
    """A ccxt.pro exchange (REST and streams in one object) configured from `params`; with
    `streams=False`, or for a venue ccxt.pro does not cover, the REST-only async client."""
    exchange_class = getattr(ccxt.pro, params.exchange, None) if streams else None
    if exchange_class is None:
        exchange_class = getattr(ccxt.async_support, params.exchange)
    exchange = exchange_class(client_config(params))
    exchange.number = str  # amounts and prices as the venue wrote them: Decimal, exactly
    if params.sandbox:
        exchange.set_sandbox_mode(True)
    if params.api_url or params.ws_url:
        point_at(exchange, params.api_url, params.ws_url)
    _retrieve_stream_failures(exchange)
    return exchange


def _retrieve_stream_failures(exchange: Exchange) -> None:
    """When a WebSocket connection fails, ccxt.pro rejects every future its client holds,
    some of which nobody awaits (Binance's `authenticate:signature:spot`, made only for a
    concurrent subscriber to wait on): asyncio then logs "Future exception was never
    retrieved" at ERROR for each failed dial of an outage, on top of the bot's own outage
    lines. Every future a client hands out has its failure marked retrieved; whoever awaits it
    still gets the exception."""
    make_client = exchange.client

    def client(url: str) -> Any:
        ws = make_client(url)
        if "future" not in vars(ws):  # not wrapped yet (ccxt makes one client per URL)
            make_future = ws.future

            def future(message_hash: Any) -> Any:
                made = make_future(message_hash)
                made.remove_done_callback(_retrieve)  # the same future is handed out again
                made.add_done_callback(_retrieve)
                return made

            ws.future = future
        return ws

    exchange.client = client  # type: ignore[method-assign]


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def client_config(params: CCXTVenueParams) -> dict[str, Any]:
    """The ccxt constructor options `params` ask for, keys included."""
    credentials = params.credentials
    config: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": params.timeout_ms,
        "options": {
            **BASE_OPTIONS,
            **EXCHANGE_OPTIONS.get(params.exchange, {}),
            "recvWindow": params.recv_window_ms,
            **params.options,
        },
    }
    if params.rate_limit_ms is not None:
        config["rateLimit"] = params.rate_limit_ms  # read at construction only
    for key, secret in (
        ("apiKey", credentials.api_key),
        ("secret", credentials.secret),
        ("password", credentials.password),
    ):
        if secret is not None:
            config[key] = secret.get_secret_value()
    return config


def point_at(exchange: Exchange, api_url: str | None, ws_url: str | None) -> None:
    """Rewrite the exchange's URLs (current and testnet) onto `api_url` / `ws_url`."""
    for section in ("api", "test"):
        urls = exchange.urls.get(section)
        if isinstance(urls, dict):
            exchange.urls[section] = _moved(urls, api_url, ws_url)


def _moved(value: Any, api_url: str | None, ws_url: str | None) -> Any:
    if isinstance(value, dict):
        return {key: _moved(item, api_url, ws_url) for key, item in value.items()}
    if not isinstance(value, str):
        return value
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and api_url:
        return _join(api_url, parts.path, value)
    if parts.scheme in ("ws", "wss") and ws_url:
        # ccxt tells Binance's spot stream URLs from its other sockets by "/stream" in the
        # URL (the host stream.binance.com): kept as a path prefix once the host is gone
        prefix = "/stream" if (parts.hostname or "").startswith("stream.") else ""
        return _join(ws_url, prefix + parts.path, value)
    return value


def _join(base: str, path: str, original: str) -> str:
    query = urlsplit(original).query
    return base.rstrip("/") + path + (f"?{query}" if query else "")
