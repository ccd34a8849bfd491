"""What names a ccxt venue in a config: its exchange id and URL overrides.

Shared by `exchange.params` of `class: ccxt` and `paper.live_data`, and kept apart from the
connector so validating a config does not import ccxt's exchange classes.
"""

from __future__ import annotations


def ccxt_exchange_id(value: str) -> str:
    """`value` as a ccxt exchange id (shared with `paper.live_data.exchange`)."""
    import ccxt

    name = value.strip().lower()
    if name not in ccxt.exchanges:
        raise ValueError(f"{value!r} is not a ccxt exchange id (e.g. binance, kraken, okx)")
    return name


def endpoint_url(value: str | None) -> str | None:
    """An `api_url` / `ws_url` override, without its trailing slash."""
    if value is None:
        return None
    if not value.startswith(("http://", "https://", "ws://", "wss://")):
        raise ValueError(f"{value!r} is not an http(s):// or ws(s):// URL")
    return value.rstrip("/")
