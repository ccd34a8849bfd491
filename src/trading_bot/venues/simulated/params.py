"""Config of the simulated exchange (`exchange.params` with `class: simulated`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

FeeRate = Annotated[Decimal, Field(ge=0, lt=1)]
NonNegative = Annotated[Decimal, Field(ge=0)]
Milliseconds = Annotated[int, Field(ge=0, le=3_600_000)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeeRates(Section):
    maker: FeeRate = Decimal(0)
    taker: FeeRate = Decimal(0)


class MarketRules(Section):
    """Per-symbol rules; anything left out takes the venue default."""

    amount_step: Annotated[Decimal, Field(gt=0)] = Decimal("0.00000001")
    price_step: Annotated[Decimal, Field(gt=0)] = Decimal("0.00000001")
    min_amount: NonNegative = Decimal(0)
    min_notional: NonNegative = Decimal(0)
    maker_fee: FeeRate | None = None
    taker_fee: FeeRate | None = None


class SlippageModel(Section):
    """Price worsening applied to taker fills on bars and trades (book fills walk real depth).

    `none`; `fixed_bps`: every taker fill `bps` worse; `volume`: `bps` worse per 100% of the
    bar's (or trade's) volume the fill takes, capped at `max_bps`.
    """

    model: Literal["none", "fixed_bps", "volume"] = "none"
    bps: Annotated[Decimal, Field(ge=0, lt=10_000)] = Decimal(0)
    max_bps: Annotated[Decimal, Field(ge=0, lt=10_000)] | None = None


class LatencyModel(Section):
    """Delays on the simulated clock between sending a request and the venue acting on it.
    `jitter_ms` adds a seeded random 0..jitter_ms to each."""

    submit_ms: Milliseconds = 0
    cancel_ms: Milliseconds = 0
    jitter_ms: Milliseconds = 0


class FillRules(Section):
    max_volume_share: Annotated[Decimal, Field(gt=0, le=1)] | None = Field(
        default=None,
        description="at most this share of a bar's or trade's volume fills (None: all)",
    )
    bar_volume_in: Literal["base", "quote"] = Field(
        default="base", description="unit of the volume column of candle files"
    )
    limit_fill: Literal["through", "touch"] = Field(
        default="through",
        description="a resting limit fills when price trades through it (strictly) or only touches it",
    )
    oco_same_bar: Literal["stop_first", "limit_first"] = Field(
        default="stop_first", description="which OCO leg wins when one bar could fill both"
    )


class SimulatedExchangeParams(Section):
    balances: dict[str, NonNegative] = Field(
        default_factory=dict, description="starting balance per asset, e.g. {USDT: '10000'}"
    )
    fees: FeeRates = Field(default_factory=FeeRates)
    markets: dict[str, MarketRules] = Field(default_factory=dict)
    slippage: SlippageModel = Field(default_factory=SlippageModel)
    latency: LatencyModel = Field(default_factory=LatencyModel)
    fills: FillRules = Field(default_factory=FillRules)
    seed: int = Field(default=0, description="seeds the latency jitter: same seed, same run")

    @field_validator("balances", "markets", mode="before")
    @classmethod
    def _upper_keys(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        upper: dict[object, object] = {}
        for key, item in value.items():
            name = key.strip().upper() if isinstance(key, str) else key
            if name in upper:
                raise ValueError(f"{name} is given twice (names are case-insensitive)")
            upper[name] = item
        return upper
