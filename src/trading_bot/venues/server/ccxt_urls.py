"""Pointing ccxt's binance (async_support or pro) at a venue server, per the checked notes:
every REST base URL rewritten (keeping Binance's path prefixes), the WebSocket URLs set, and
the options that keep `load_markets` to one `GET /api/v3/exchangeInfo`. The live connector
uses the same helpers for `params.api_url` / `params.ws_url`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def _rebase(url: str, rest_url: str) -> str:
    """`https://api.binance.com/api/v3` -> `http://127.0.0.1:P/api/v3`."""
    parts = urlsplit(url)
    return rest_url.rstrip("/") + parts.path


def _rewrite(value: Any, rest_url: str) -> Any:
    if isinstance(value, dict):
        return {key: _rewrite(item, rest_url) for key, item in value.items()}
    if isinstance(value, str) and value.startswith("http"):
        return _rebase(value, rest_url)
    return value


def ws_urls(ws_url: str) -> dict[str, Any]:
    base = ws_url.rstrip("/")
    return {"spot": f"{base}/stream/ws", "ws-api": {"spot": f"{base}/ws-api/v3"}}


def binance_client_config(
    rest_url: str, ws_url: str | None = None, **overrides: Any
) -> dict[str, Any]:
    """Constructor options for `ccxt.async_support.binance` / `ccxt.pro.binance` (URLs are
    set after construction by `point_ccxt_at`, which needs ccxt's own URL table)."""
    config: dict[str, Any] = {
        "enableRateLimit": True,
        "rateLimit": 50,
        "timeout": 10_000,
        "options": {
            "defaultType": "spot",
            "fetchMarkets": {"types": ["spot"]},
            "fetchCurrencies": False,
            "fetchMargins": False,
            "adjustForTimeDifference": False,
            "recvWindow": 5000,
            "warnOnFetchOpenOrdersWithoutSymbol": False,
            "fetchOpenOrders": {"warnWithoutSymbol": False},
        },
    }
    options = overrides.pop("options", {})
    config.update(overrides)
    config["options"].update(options)
    return config


def point_ccxt_at(exchange: Any, rest_url: str, ws_url: str | None = None) -> Any:
    """Rewrite every `http...` URL of `exchange.urls['api']` (and `urls['test']`, which
    sandbox mode copies over it) to `rest_url`, and its WebSocket URLs to `ws_url`."""
    urls = exchange.urls
    api = {key: value for key, value in urls["api"].items() if key != "ws"}
    rewritten = _rewrite(api, rest_url)
    if ws_url is not None:
        rewritten["ws"] = ws_urls(ws_url)
    elif "ws" in urls["api"]:
        rewritten["ws"] = urls["api"]["ws"]
    urls["api"] = rewritten
    if isinstance(urls.get("test"), dict):
        test = {key: value for key, value in urls["test"].items() if key != "ws"}
        urls["test"] = _rewrite(test, rest_url)
        if ws_url is not None:
            urls["test"]["ws"] = ws_urls(ws_url)
    return exchange


def binance_client(
    rest_url: str,
    ws_url: str | None = None,
    *,
    api_key: str = "",
    secret: str = "",
    pro: bool = False,
    **overrides: Any,
) -> Any:
    """A ccxt binance client (async_support, or ccxt.pro with `pro`) talking to the server."""
    if pro:
        import ccxt.pro as module
    else:
        import ccxt.async_support as module
    config = binance_client_config(rest_url, ws_url, **overrides)
    config.update({"apiKey": api_key, "secret": secret})
    return point_ccxt_at(module.binance(config), rest_url, ws_url)
