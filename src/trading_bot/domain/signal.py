"""The signal contract: what an outside detector sends the bot.

One canonical object; other wire formats (TradingView alerts, CSV rows) are mapped into it
by intake. Validation reports every bad field at once, by name.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from trading_bot.domain.enums import Side
from trading_bot.domain.timestamps import parse_epoch_ms

MAX_AMOUNT = Decimal("1e15")

PositiveAmount = Annotated[Decimal, Field(gt=0, lt=MAX_AMOUNT)]
EpochMs = Annotated[int, BeforeValidator(parse_epoch_ms)]

_SYMBOL = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(:[A-Z0-9]{1,20})?$")
# Deeper metadata cannot be serialized (pydantic stops at a few hundred levels) and so could
# not be stored: a signal the bot accepted would then block every later write.
MAX_METADATA_DEPTH = 32


class Signal(BaseModel):
    """A trading signal.

    Exactly one of `size` (base amount), `notional` (quote amount) or `target_position` (the
    signed position wanted) says how much; `side` is required with the first two and must be
    absent with `target_position`. Times are epoch milliseconds in UTC.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    signal_id: str = Field(min_length=1, max_length=128)
    asset: str = Field(min_length=3, max_length=64)
    side: Side | None = None
    size: PositiveAmount | None = None
    notional: PositiveAmount | None = None
    target_position: Annotated[Decimal, Field(gt=-MAX_AMOUNT, lt=MAX_AMOUNT)] | None = None
    confidence: Annotated[Decimal, Field(ge=0, le=1)] = Decimal(1)
    order_type: Literal["market", "limit"] = "market"
    price: PositiveAmount | None = None
    stop_loss: PositiveAmount | None = None
    take_profit: PositiveAmount | None = None
    created_at: EpochMs | None = None
    ttl_s: Annotated[Decimal, Field(gt=0)] | None = None
    expires_at: EpochMs | None = None
    source: str = Field(default="", max_length=64)
    strategy: str | None = Field(default=None, max_length=64)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("side", mode="before")
    @classmethod
    def _lower_side(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("asset", mode="before")
    @classmethod
    def _unified_symbol(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        symbol = value.strip().upper()
        if not _SYMBOL.match(symbol):
            raise ValueError(f"expected a unified symbol like 'BTC/USDT', got {value!r}")
        base, _, rest = symbol.partition("/")
        if base == rest.split(":", 1)[0]:
            raise ValueError(f"base and quote are the same asset in {value!r}")
        return symbol

    @field_validator("signal_id", "source", "strategy")
    @classmethod
    def _storable_text(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError(_NUL_PROBLEM)
        return value

    @field_validator("metadata")
    @classmethod
    def _storable_metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_storable(value, 1)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Signal:
        given = [
            name
            for name in ("size", "notional", "target_position")
            if getattr(self, name) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of size, notional or target_position"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.target_position is not None and self.side is not None:
            raise ValueError(
                "side must be absent with target_position: the target sets the direction"
            )
        if self.target_position is None and self.side is None:
            raise ValueError("side is required ('buy' or 'sell') with size or notional")
        if self.order_type == "limit" and self.price is None:
            raise ValueError("order_type 'limit' needs a price")
        if self.stop_loss is not None and self.take_profit is not None and self.side is not None:
            low, high = (self.stop_loss, self.take_profit)
            if self.side is Side.SELL:
                low, high = high, low
            if low >= high:
                raise ValueError(
                    f"for a {self.side} stop_loss must be on the losing side of take_profit"
                )
        if (
            self.expires_at is not None
            and self.created_at is not None
            and self.expires_at <= self.created_at
        ):
            raise ValueError("expires_at must be after created_at")
        return self

    @property
    def dedup_key(self) -> tuple[str, str]:
        """The idempotency key: the same (source, signal_id) is executed at most once."""
        return (self.source, self.signal_id)

    @property
    def expiry_ms(self) -> int | None:
        """When the signal goes stale: the earlier of `expires_at` and `created_at + ttl_s`
        (None: never)."""
        expires = self.expires_at
        if self.ttl_s is None or self.created_at is None:
            return expires
        by_ttl = self.created_at + int(self.ttl_s * 1000)
        return by_ttl if expires is None else min(expires, by_ttl)

    def expiry_from(self, received_ms: int) -> int | None:
        """`expiry_ms` for a signal the bot received at `received_ms`: with no `created_at`,
        `ttl_s` runs from then (the orders it places expire with it, as with `created_at`)."""
        expires, ttl = self.expires_at, self.ttl_s
        if ttl is None:
            return expires
        start = self.created_at if self.created_at is not None else received_ms
        by_ttl = start + int(ttl * 1000)
        return by_ttl if expires is None else min(expires, by_ttl)


# PostgreSQL text cannot hold NUL: a signal with one would make every later commit fail.
_NUL_PROBLEM = "contains a NUL character (\\u0000), which the store cannot hold"


def _check_storable(value: object, depth: int) -> None:
    """Metadata is stored (as JSON, and `user` as a column): refuse what cannot be (too deep,
    text with a NUL, or a lone surrogate from a `\\ud800` escape, which UTF-8 cannot encode)."""
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(f"nested more than {MAX_METADATA_DEPTH} levels deep")
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(str(key))
            _check_storable(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_storable(item, depth + 1)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise ValueError(_NUL_PROBLEM)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        bad = text[error.start : error.end].encode("unicode_escape").decode("ascii")
        raise ValueError(f"text that is not valid Unicode (a lone surrogate {bad})") from None
