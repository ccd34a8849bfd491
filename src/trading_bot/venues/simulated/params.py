"""Config of the simulated exchange (`exchange.params` with `class: simulated`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

FeeRate = Annotated[Decimal, Field(ge=0, lt=1)]
NonNegative = Annotated[Decimal, Field(ge=0)]


class FeeRates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    maker: FeeRate = Decimal(0)
    taker: FeeRate = Decimal(0)


class MarketRules(BaseModel):
    """Per-symbol rules; anything left out takes the venue default."""

    model_config = ConfigDict(extra="forbid")

    amount_step: Annotated[Decimal, Field(gt=0)] = Decimal("0.00000001")
    price_step: Annotated[Decimal, Field(gt=0)] = Decimal("0.00000001")
    min_amount: NonNegative = Decimal(0)
    min_notional: NonNegative = Decimal(0)
    maker_fee: FeeRate | None = None
    taker_fee: FeeRate | None = None


class SimulatedExchangeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    balances: dict[str, NonNegative] = Field(
        default_factory=dict, description="starting balance per asset, e.g. {USDT: '10000'}"
    )
    fees: FeeRates = Field(default_factory=FeeRates)
    markets: dict[str, MarketRules] = Field(default_factory=dict)

    @field_validator("balances", "markets", mode="before")
    @classmethod
    def _upper_keys(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k.strip().upper() if isinstance(k, str) else k: v for k, v in value.items()}
        return value
