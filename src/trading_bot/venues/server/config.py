"""Config of the paper venue server (`trading-bot venue serve --config venue.yaml`).

The same model is given in Python to `running_venue_server` and read from YAML by the CLI;
`${VAR}` / `${VAR:-default}` in YAML strings are substituted from the environment (and a
`.env` next to the file), as in the bot's own config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trading_bot.config.env import load_env_files, process_environ, substitute
from trading_bot.config.errors import ConfigError, ConfigIssue, issues_from_validation
from trading_bot.config.loader import _read_yaml
from trading_bot.venues.simulated.params import SimulatedExchangeParams


class VenueServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    market_data: dict[str, Path] = Field(
        description="unified symbol (BTC/USDT) -> candles or trades CSV, replayed from start"
    )
    replay_speed: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        default=1, description="data seconds played per wall-clock second"
    )
    horizon_hours: Annotated[float, Field(gt=0, le=24 * 365)] = Field(
        default=24, description="how long the replay lasts (the data repeats to cover it)"
    )
    exchange: SimulatedExchangeParams = Field(default_factory=SimulatedExchangeParams)
    api_key: str = "paper-key"
    api_secret: str = "paper-secret"
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 0
    reply_wait_ms: Annotated[int, Field(ge=0, le=60_000)] = Field(
        default=2_000,
        description="how long POST /api/v3/order waits for the matching engine's first "
        "decision (fill, rest, reject) before answering NEW",
    )
    max_recv_window_ms: Annotated[int, Field(ge=1, le=60_000)] = 60_000
    request_weight_per_minute: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="answer 429 -1003 past this request weight per minute"
    )
    unique_client_order_ids: bool = Field(
        default=False,
        description="refuse a newClientOrderId used before even by a closed order (Binance "
        "only refuses one of an order still open)",
    )
    depth_levels: Annotated[int, Field(ge=1, le=5000)] = 20
    admin_routes: bool = Field(default=True, description="serve /_admin/* (fault injection)")

    @field_validator("market_data", mode="before")
    @classmethod
    def _upper_symbols(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k.strip().upper() if isinstance(k, str) else k: v for k, v in value.items()}
        return value

    @field_validator("market_data")
    @classmethod
    def _unified_symbols(cls, value: dict[str, Path]) -> dict[str, Path]:
        if not value:
            raise ValueError("give at least one symbol: {BTC/USDT: candles.csv}")
        for symbol in value:
            base, _, quote = symbol.partition("/")
            if not base or not quote or ":" in quote:
                raise ValueError(f"{symbol!r}: expected a spot symbol like BTC/USDT")
        return value


def load_venue_config(
    path: str | Path, *, environ: dict[str, str] | None = None
) -> VenueServerConfig:
    """Read the YAML at `path`: `${VAR}` substituted, relative data paths taken from the
    file's folder. Raises `ConfigError` listing every problem."""
    path = Path(path)
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(str(path), [ConfigIssue("", "expected a mapping at the top level")])
    env = {**load_env_files(path.parent / ".env"), **(environ or process_environ())}
    issues: list[ConfigIssue] = []
    data = substitute(raw, env, issues)
    if issues:
        raise ConfigError(str(path), issues)
    try:
        config = VenueServerConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(str(path), issues_from_validation(error)) from None
    resolved = {
        symbol: file if file.is_absolute() else (path.parent / file)
        for symbol, file in config.market_data.items()
    }
    return config.model_copy(update={"market_data": resolved})
