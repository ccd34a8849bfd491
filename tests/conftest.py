"""Shared test helpers: build signals, bar series and a wired bot without files; capture
the log."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from loguru import logger

from trading_bot.app import Bot, build_bot
from trading_bot.config.loader import LoadedConfig, load_config_data
from trading_bot.domain.signal import Signal
from trading_bot.engine.clock import SimulatedClock
from trading_bot.market_data.bars import BarSeries
from trading_bot.market_data.history import HistoricalPrices
from trading_bot.venues.simulated.exchange import SimulatedExchange

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
T0 = 1_640_995_200_000  # 2022-01-01T00:00:00Z
MINUTE = 60_000


def _captured(level: str, format: str) -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lines.append, level=level, format=format)
    yield lines
    logger.remove(sink)


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every message logged during the test, debug included, as the sinks would get it."""
    yield from _captured("DEBUG", "{level} {message}")


@pytest.fixture
def errors() -> Iterator[list[str]]:
    """The messages logged at ERROR and above during the test."""
    yield from _captured("ERROR", "{message}")


def services_required() -> bool:
    return os.environ.get("TRADING_BOT_REQUIRE_SERVICES") == "1"


def make_signal(**fields: Any) -> Signal:
    payload: dict[str, Any] = {
        "signal_id": "s1",
        "asset": "BTC/USDT",
        "side": "buy",
        "size": "0.1",
        "created_at": T0,
    }
    payload.update(fields)
    payload = {k: v for k, v in payload.items() if v is not None}
    return Signal.model_validate(payload)


def make_bars(
    symbol: str,
    opens: Sequence[str],
    *,
    start: int = T0,
    interval: int = MINUTE,
    closes: Sequence[str] | None = None,
) -> BarSeries:
    """Bars with the given opens (high/low bracket open and close, close = next open by default)."""
    closes = list(closes) if closes is not None else [*opens[1:], opens[-1]]
    decimals = [Decimal(p) for p in [*opens, *closes]]
    scale = max(0, *(-d.as_tuple().exponent for d in decimals))  # type: ignore[operator]
    factor = Decimal(10) ** scale
    o = [int(Decimal(p) * factor) for p in opens]
    c = [int(Decimal(p) * factor) for p in closes]
    h = [max(a, b) for a, b in zip(o, c, strict=True)]
    low = [min(a, b) for a, b in zip(o, c, strict=True)]
    n = len(opens)
    return BarSeries(
        symbol,
        np.arange(n, dtype=np.int64) * interval + start,
        np.array(o, dtype=np.int64),
        np.array(h, dtype=np.int64),
        np.array(low, dtype=np.int64),
        np.array(c, dtype=np.int64),
        np.full(n, 100.0),
        scale,
        interval,
    )


def config_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "mode": "backtest",
        "exchange": {
            "class": "simulated",
            "params": {"balances": {"USDT": "10000"}, "fees": {"maker": "0.001", "taker": "0.001"}},
        },
        "strategy": {"class": "detector_driven", "params": {"min_confidence": 0}},
        "execution": {"class": "market"},
        "risk": {"enabled": False},
    }
    data.update(overrides)
    return data


def loaded_config(**overrides: Any) -> LoadedConfig:
    return load_config_data(config_data(**overrides), source="test.yaml", environ={})


def build_test_bot(loaded: LoadedConfig, *series: BarSeries, start: int = T0) -> Bot:
    venue = loaded.exchange.build()
    assert isinstance(venue, SimulatedExchange)
    for bars in series:
        venue.add_market_data(bars)
    clock = SimulatedClock(start)
    prices = HistoricalPrices({s.symbol: venue.marks(s.symbol) for s in series}, clock)
    return build_bot(loaded, venue=venue, clock=clock, prices=prices)


@pytest.fixture
def btc_bars() -> BarSeries:
    return make_bars("BTC/USDT", ["100", "101", "102", "103", "104", "105"])


POSTGRES_ADMIN_URL = os.environ.get("TRADING_BOT_TEST_POSTGRES", "postgresql://localhost/postgres")


def _fresh_postgres_database() -> tuple[str, str] | None:
    """Create an empty database for one test; (url, name), or None if PostgreSQL is absent."""
    import uuid

    try:
        import psycopg

        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except Exception as error:
        if services_required():
            raise RuntimeError(f"PostgreSQL required but unreachable: {error}") from error
        return None
    name = f"tb_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}", name


def _drop_postgres_database(name: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A URL to an empty store: a SQLite file, or a fresh PostgreSQL database (skipped when
    PostgreSQL is not running, unless TRADING_BOT_REQUIRE_SERVICES=1)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    created = _fresh_postgres_database()
    if created is None:
        pytest.skip("PostgreSQL is not reachable on localhost:5432")
    url, name = created
    yield url
    _drop_postgres_database(name)
