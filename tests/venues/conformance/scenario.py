"""The market every venue under test is set up with: one symbol, its rules, the account, and
a short tape of one-minute candles.

The tape is shaped so that outcomes do not depend on *when* within it an order lands (a venue
on the wall clock cannot place an order at an exact bar):

- every bar opens at 100, so a market order fills at 100 whichever bar it meets;
- resting orders fill only on a few bars whose range dips to 96 or rises to 104 and come back;
  between them the price stays at 100 for several bars, time for a test to look, cancel or
  modify;
- the dips are thin (little volume) and fills are capped at a share of each bar's volume, so a
  resting order larger than that fills in parts, one part per dip.

In-process harnesses turn it into a `BarSeries` on a simulated clock; a server harness writes
it as a candles CSV (`write_candles_csv`) and replays it, each bar lasting a fraction of a
second of wall time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from tests.conftest import MINUTE, T0
from trading_bot.market_data.bars import BarSeries

D = Decimal
SYMBOL = "BTC/USDT"
BASE, QUOTE = "BTC", "USDT"

OPEN = D("100")  # every bar's open: the price of every market order
DIP_LOW = D("96")  # a buy limit above this (and below 100) fills on a dip
RISE_HIGH = D("104")  # a sell limit below this (and above 100) fills on a rise
THIN_VOLUME = D("100")  # volume of the dip and rise bars (x the share cap: 1 BTC per bar)
VOLUME = D("10000")  # volume of the quiet bars


@dataclass(frozen=True, slots=True)
class Bar:
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    @classmethod
    def quiet(cls) -> Bar:
        return cls(OPEN, OPEN, OPEN, OPEN, VOLUME)

    @classmethod
    def dip(cls) -> Bar:
        return cls(OPEN, OPEN, DIP_LOW, OPEN, THIN_VOLUME)

    @classmethod
    def rise(cls) -> Bar:
        return cls(OPEN, RISE_HIGH, OPEN, OPEN, THIN_VOLUME)


def _tape() -> tuple[Bar, ...]:
    q, dip, rise = Bar.quiet(), Bar.dip(), Bar.rise()
    return (
        *[q] * 8,  # 0-7: quiet, orders placed here rest
        dip,  # 8: first dip
        *[q] * 6,  # 9-14: quiet, a partly filled order waits here
        dip,  # 15: second dip
        *[q] * 3,  # 16-18
        rise,  # 19: the only rise
        *[q] * 4,  # 20-23
    )


@dataclass(frozen=True, slots=True)
class MarketScenario:
    """Market rules, account and tape a harness builds its venue from."""

    symbol: str = SYMBOL
    amount_step: Decimal = Decimal("0.001")
    price_step: Decimal = Decimal("0.01")
    min_amount: Decimal = Decimal("0.01")
    min_notional: Decimal = Decimal("5")
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.002")
    balances: dict[str, Decimal] = field(default_factory=lambda: {QUOTE: D("10000"), BASE: D("1")})
    # at most this share of a bar's volume fills (1 BTC on a thin bar, 100 on a quiet one)
    max_volume_share: Decimal = Decimal("0.01")
    bars: tuple[Bar, ...] = field(default_factory=_tape)
    start_ms: int = T0
    interval_ms: int = MINUTE

    @property
    def end_ms(self) -> int:
        """When the last bar closes: nothing more can happen after it."""
        return self.start_ms + len(self.bars) * self.interval_ms

    def exchange_params(self) -> dict[str, Any]:
        """`SimulatedExchangeParams` for this scenario (the venue server takes the same)."""
        return {
            "balances": {asset: str(amount) for asset, amount in self.balances.items()},
            "fees": {"maker": str(self.maker_fee), "taker": str(self.taker_fee)},
            "markets": {
                self.symbol: {
                    "amount_step": str(self.amount_step),
                    "price_step": str(self.price_step),
                    "min_amount": str(self.min_amount),
                    "min_notional": str(self.min_notional),
                }
            },
            "fills": {"max_volume_share": str(self.max_volume_share)},
        }

    def bar_series(self) -> BarSeries:
        scale = 2
        factor = D(10) ** scale

        def column(name: str) -> np.ndarray:
            return np.array([int(getattr(b, name) * factor) for b in self.bars], dtype=np.int64)

        n = len(self.bars)
        return BarSeries(
            self.symbol,
            np.arange(n, dtype=np.int64) * self.interval_ms + self.start_ms,
            column("open"),
            column("high"),
            column("low"),
            column("close"),
            np.array([float(b.volume) for b in self.bars]),
            scale,
            self.interval_ms,
        )

    def write_candles_csv(self, path: Path) -> Path:
        """The tape as a candles CSV (`timestamp_ms,open,high,low,close,volume`)."""
        lines = ["timestamp_ms,open,high,low,close,volume"]
        for i, b in enumerate(self.bars):
            ts = self.start_ms + i * self.interval_ms
            lines.append(f"{ts},{b.open},{b.high},{b.low},{b.close},{b.volume}")
        path.write_text("\n".join(lines) + "\n")
        return path
