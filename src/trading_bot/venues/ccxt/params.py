"""Config of a live venue through ccxt (`exchange.params` with `class: ccxt`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr

from trading_bot.venues.endpoints import VenueEndpoint


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Credentials(Section):
    """API keys: give them as `${VAR}` from the environment, never in the file. Trading
    permission only: the bot never needs withdrawal rights."""

    api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("api_key", "apikey", "apiKey")
    )
    secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("secret", "api_secret", "apiSecret")
    )
    password: SecretStr | None = Field(
        default=None, description="passphrase, for venues that have one (OKX, KuCoin...)"
    )


class RetryRules(Section):
    """Retries of calls that are safe to repeat (queries, cancels). An order create is never
    sent again: its outcome is looked up by client order id."""

    attempts: Annotated[int, Field(ge=1, le=20)] = 4
    initial_wait_s: Annotated[float, Field(gt=0, le=60)] = 0.2
    max_wait_s: Annotated[float, Field(gt=0, le=600)] = 5.0


class BreakerRules(Section):
    """The circuit breaker in front of the venue: after `failures` failed calls in a row it
    opens; while open, no order is sent and intake is paused; after `recovery_s` one call is
    let through to probe the venue."""

    failures: Annotated[int, Field(ge=1, le=1000)] = 5
    recovery_s: Annotated[float, Field(gt=0, le=3600)] = 30.0


class CCXTVenueParams(VenueEndpoint):
    credentials: Credentials = Field(default_factory=Credentials)
    sandbox: bool = Field(
        default=False,
        description="trade on the venue's testnet",
        validation_alias=AliasChoices("sandbox", "testnet"),
    )
    symbols: list[str] = Field(
        default_factory=list, description="markets the bot trades (all the venue lists if empty)"
    )
    timeout_ms: Annotated[int, Field(ge=100, le=120_000)] = 10_000
    rate_limit_ms: Annotated[int, Field(ge=0, le=60_000)] | None = Field(
        default=None, description="ms between requests (ccxt's limiter); the venue's own if unset"
    )
    recv_window_ms: Annotated[int, Field(ge=1000, le=60_000)] = 5_000
    use_websocket: bool = Field(
        default=True, description="order updates from ccxt.pro streams; REST polling otherwise"
    )
    poll_interval_s: Annotated[float, Field(gt=0, le=300)] = 2.0
    retry: RetryRules = Field(default_factory=RetryRules)
    breaker: BreakerRules = Field(default_factory=BreakerRules)
    options: dict[str, Any] = Field(
        default_factory=dict, description="extra ccxt `options`, passed through"
    )
