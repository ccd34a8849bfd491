"""An intake gate on an in-process bot (simulated venue and clock, nothing written anywhere):
for fast tests of the shared validation path, where a store round trip per payload would
make hundreds of generated examples too slow for CI."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tests.conftest import T0, build_test_bot, loaded_config, make_bars
from trading_bot.engine.clock import SimulatedClock
from trading_bot.engine.journal import NullJournal
from trading_bot.engine.kernel import TradingKernel
from trading_bot.intake.gate import IntakeGate

VALID: dict[str, Any] = {"signal_id": "x1", "asset": "BTC/USDT", "side": "buy", "size": "0.01"}


@dataclass
class GateBench:
    gate: IntakeGate
    kernel: TradingKernel
    clock: SimulatedClock


def gate_bench(secrets: Iterable[str] = ()) -> GateBench:
    """BTC/USDT is the only market, as on the live rig."""
    bars = make_bars("BTC/USDT", ["100", "101", "102", "103"], start=T0)
    bot = build_test_bot(loaded_config(), bars)
    assert isinstance(bot.clock, SimulatedClock)
    gate = IntakeGate(bot.kernel, NullJournal(), secrets=secrets)
    return GateBench(gate, bot.kernel, bot.clock)


def signal(signal_id: str = "x1", **fields: Any) -> dict[str, Any]:
    return {**VALID, "signal_id": signal_id, **fields}
