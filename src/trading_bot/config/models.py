"""The config file's shape, section by section (see the README for a full example).

Module sections take `class:` (a built-in name, a guide path or a dotted path) and `params:`
(risk checks also `enabled:`); each module class validates its own `params` so an error names
the exact key.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from trading_bot.domain.enums import TradingMode
from trading_bot.domain.rejections import RejectionReason
from trading_bot.venues.endpoints import VenueEndpoint

UNIFIED_SYMBOL = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(:[A-Z0-9]{1,20})?$")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ModuleSpec(Section):
    class_path: str = Field(alias="class", min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("params", mode="before")
    @classmethod
    def _empty_params(cls, value: object) -> object:
        return {} if value is None else value


class ExchangeSpec(ModuleSpec):
    features: dict[str, Any] = Field(
        default_factory=dict, description="guide toggles (futures, dex, default_leverage)"
    )


class StrategySpec(ModuleSpec):
    class_path: str = Field(default="detector_driven", alias="class", min_length=1)


class ExecutionSpec(ModuleSpec):
    class_path: str = Field(default="market", alias="class", min_length=1)
    order_types: list[str] = Field(
        default_factory=lambda: ["market"],
        description="the guide's list of order types; informational, the class decides",
    )


class RiskCheckSpec(ModuleSpec):
    enabled: bool = True


class RiskConfig(Section):
    enabled: bool = True
    checks: list[RiskCheckSpec] = Field(default_factory=list)
    halt_on: list[RejectionReason] = Field(
        default_factory=list,
        description="risk check rejection codes that switch trading to HALTED",
    )
    reduce_on: list[RejectionReason] = Field(
        default_factory=list,
        description="risk check rejection codes that switch trading to REDUCING",
    )
    flatten_on_halt: bool = Field(
        default=False,
        description="on a halt by a breach, cancel open orders and close the bot's positions",
    )

    @field_validator("halt_on", "reduce_on")
    @classmethod
    def _not_a_state_code(cls, value: list[RejectionReason]) -> list[RejectionReason]:
        for reason in value:
            if reason in (RejectionReason.TRADING_HALTED, RejectionReason.TRADING_REDUCING):
                raise ValueError(f"{reason.value!r} is the trading state's own code, not a breach")
        return value


class AlertsConfig(Section):
    enabled: bool = False
    class_path: str = Field(default="alerter", alias="class")
    params: dict[str, Any] = Field(default_factory=dict)


class AnalyticsConfig(Section):
    enabled: bool = False
    class_path: str = Field(default="performance", alias="class")
    report_interval: int = Field(default=3600, gt=0, description="seconds between reports")
    params: dict[str, Any] = Field(default_factory=dict)


class MonitoringConfig(Section):
    prometheus_port: int | None = Field(default=None, ge=1, le=65535)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    analytics: AnalyticsConfig = Field(default_factory=AnalyticsConfig)


class ReportingConfig(Section):
    interval: int = Field(default=3600, gt=0, description="seconds between attribution reports")
    send_alerts: bool = False


class TrackingConfig(Section):
    enabled: bool = False
    class_path: str = Field(default="order_tracker", alias="class")
    params: dict[str, Any] = Field(default_factory=dict)
    reporting: ReportingConfig = Field(default_factory=ReportingConfig)


class LoggingConfig(Section):
    level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    json_format: bool = Field(default=False, alias="json", description="one JSON object per line")
    file: str | None = None

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value


class BacktestConfig(Section):
    valuation_currency: str | None = Field(
        default=None,
        description="currency equity is reported in; default: quote of the first market",
    )

    @field_validator("valuation_currency", mode="before")
    @classmethod
    def _asset_code(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        code = value.strip().upper()
        if not code.isalnum() or len(code) > 20:
            raise ValueError(f"expected an asset code like 'USDT', got {value!r}")
        return code


class StoreConfig(Section):
    url: str = Field(
        default="sqlite:///state/trading-bot.sqlite",
        min_length=1,
        description="SQLAlchemy URL: sqlite:///path (relative to the working directory) or "
        "postgresql://user@host/db",
    )


class SourceSpec(ModuleSpec):
    name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="names the source in logs, counts and dead letters (default: its class)",
    )


class IntakeConfig(Section):
    sources: list[SourceSpec] = Field(
        default_factory=list, description="where signals come from; any number at once"
    )


def unified_symbol(key: object) -> str:
    """`key` as a unified symbol (`btc/usdt` -> `BTC/USDT`), or a ValueError saying why not."""
    symbol = key.strip().upper() if isinstance(key, str) else key
    if not isinstance(symbol, str) or not UNIFIED_SYMBOL.match(symbol):
        raise ValueError(f"{key!r} is not a unified symbol like BTC/USDT")
    base, quote = symbol.split(":")[0].split("/")
    if base == quote:
        raise ValueError(f"{key!r} trades an asset against itself")
    return symbol


class LiveDataConfig(VenueEndpoint):
    """A real venue's public market data (no keys) as the paper venue's prices: the simulated
    exchange matches the bot's orders on its live trades."""

    symbols: list[str] = Field(min_length=1, description="unified symbols to follow and trade")

    @field_validator("symbols")
    @classmethod
    def _unified_symbols(cls, value: list[str]) -> list[str]:
        symbols = [unified_symbol(item) for item in value]
        if len(set(symbols)) != len(symbols):
            raise ValueError("a symbol is listed twice")
        return symbols


class PaperConfig(Section):
    market_data: dict[str, str] = Field(
        default_factory=dict,
        description="symbol -> candles or trades CSV replayed as the paper venue's prices",
    )

    @field_validator("market_data", mode="before")
    @classmethod
    def _unified_symbols(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        return {unified_symbol(key): path for key, path in value.items()}

    replay_speed: int = Field(
        default=1, ge=1, le=10_000, description="recorded time played per unit of wall time"
    )
    horizon_hours: int = Field(
        default=48, ge=1, le=24 * 365, description="wall time the replay covers from the start"
    )
    live_data: LiveDataConfig | None = Field(
        default=None,
        description="match on a venue's live trades instead of replaying market_data",
    )

    @field_validator("live_data")
    @classmethod
    def _one_price_source(
        cls, value: LiveDataConfig | None, info: ValidationInfo
    ) -> LiveDataConfig | None:
        if value is not None and info.data.get("market_data"):
            raise ValueError(
                "give paper.live_data (live prices) or paper.market_data (recorded files), "
                "not both: remove one of them"
            )
        return value


class RecoveryConfig(Section):
    reconcile_interval_s: float = Field(
        default=60, ge=0, description="reconcile with the venue this often while running (0: off)"
    )
    snapshot_interval_s: float = Field(
        default=60, gt=0, description="write positions, balances and equity this often"
    )


class BotConfig(Section):
    mode: TradingMode
    exchange: ExchangeSpec
    strategy: StrategySpec = Field(default_factory=StrategySpec)
    execution: ExecutionSpec = Field(default_factory=ExecutionSpec)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    reporting: ReportingConfig | None = None
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    intake: IntakeConfig = Field(default_factory=IntakeConfig)
    paper: PaperConfig = Field(default_factory=PaperConfig)
    recovery: RecoveryConfig = Field(default_factory=RecoveryConfig)

    @field_validator("mode", mode="before")
    @classmethod
    def _lower_mode(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value
