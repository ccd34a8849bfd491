"""What names a ccxt venue in a config: its exchange id and URL overrides.

Shared by `exchange.params` of `class: ccxt` and `paper.live_data`, and kept apart from the
connector so validating a config does not import ccxt's exchange classes.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class VenueEndpoint(BaseModel):
    """A ccxt venue and where to reach it: `exchange.params` of `class: ccxt` and
    `paper.live_data` both start with these keys, validated alike."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    exchange: str = Field(description="ccxt exchange id, e.g. binance")
    api_url: str | None = Field(
        default=None,
        description="replaces scheme and host of the venue's REST URLs (a testnet, a proxy, "
        "trading-bot venue serve)",
    )
    ws_url: str | None = Field(default=None, description="the same for its WebSocket URLs")

    @field_validator("exchange")
    @classmethod
    def _known_exchange(cls, value: str) -> str:
        return ccxt_exchange_id(value)

    @field_validator("api_url", "ws_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return endpoint_url(value)


def ccxt_exchange_id(value: str) -> str:
    """`value` as a ccxt exchange id."""
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
