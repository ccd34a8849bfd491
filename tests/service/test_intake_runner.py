import asyncio
from pathlib import Path

import pytest

from tests.intake.rig import eventually, live_bot
from trading_bot.intake.source import SignalSource, SourceParams, SourceStartError
from trading_bot.service.intake_runner import IntakeRunner, IntakeStartError


class _Unreachable(SignalSource):
    async def start(self) -> None:
        raise SourceStartError("cannot connect to 127.0.0.1:1 (connection refused)")

    async def run(self) -> None:
        raise AssertionError("never started")

    def describe(self) -> str:
        return "nothing"


class _Crashing(SignalSource):
    """Fails on its first run, then sends one signal per run."""

    runs = 0

    async def run(self) -> None:
        type(self).runs += 1
        if type(self).runs == 1:
            raise RuntimeError("bug in a source")
        self.channel.offer(
            {"signal_id": "after-crash", "asset": "BTC/USDT", "side": "buy", "size": "0.01"}, "x"
        )
        await self.channel.recorded()
        await self.stopping.wait()

    def describe(self) -> str:
        return "crashes once"


class _SlowBatch(SignalSource):
    """Holds a batch when told to stop and records it before returning (graceful stop)."""

    async def run(self) -> None:
        await self.stopping.wait()
        for i in range(3):
            self.channel.offer(
                {"signal_id": f"late{i}", "asset": "BTC/USDT", "side": "sell", "size": "0.01"},
                str(i),
            )
        await asyncio.sleep(0.05)
        await self.channel.recorded()

    def describe(self) -> str:
        return "slow"


async def test_a_source_that_cannot_start_is_a_start_error_naming_it(tmp_path: Path) -> None:
    async with live_bot(tmp_path) as rig:
        runner = IntakeRunner([_Unreachable(SourceParams(), "detector-queue")], rig.gate)
        with pytest.raises(IntakeStartError, match="intake source detector-queue: cannot connect"):
            await runner.start()


async def test_a_source_that_fails_is_restarted_and_the_others_keep_running(
    tmp_path: Path,
) -> None:
    _Crashing.runs = 0
    async with live_bot(tmp_path) as rig, rig.serving(_Crashing(SourceParams(), "crashy")):
        await eventually(lambda: ("", "after-crash") in rig.signals(), timeout_s=15)
    assert _Crashing.runs == 2


async def test_stop_lets_a_source_record_the_batch_in_hand(tmp_path: Path) -> None:
    async with live_bot(tmp_path) as rig:
        async with rig.serving(_SlowBatch(SourceParams(), "slow")):
            await asyncio.sleep(0.05)  # running, waiting for signals
        assert {key[1] for key in rig.signals()} == {"late0", "late1", "late2"}
