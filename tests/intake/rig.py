"""A paper bot on the wall clock and a SQLite store, wired as `trading-bot run` wires it, for
end-to-end tests of signal sources: start a source against it, send, check what the store
recorded. Restarting on the same store is a new `live_bot` on the same `tmp_path`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from tests.conftest import T0, make_bars
from tests.service.rig import OPENS, paper_config
from trading_bot.engine.clock import LiveClock
from trading_bot.intake.gate import IntakeGate
from trading_bot.intake.source import SignalSource
from trading_bot.service.assembly import RunningBot
from trading_bot.service.intake_runner import IntakeRunner
from trading_bot.service.paper_venue import assemble_paper_bot
from trading_bot.store.database import open_engine, upgrade_to_head
from trading_bot.store.models import DeadLetterRow, DuplicateSignalRow, PaperOrderRow, SignalRow


@dataclass
class LiveRig:
    running: RunningBot
    gate: IntakeGate
    engine: Engine

    def signals(self) -> dict[tuple[str, str], str]:
        """(source, signal_id) -> status, as committed to the store."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(SignalRow.source, SignalRow.signal_id, SignalRow.status)
            ).all()
        return {(row.source, row.signal_id): row.status for row in rows}

    def dead_letters(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(DeadLetterRow.location, DeadLetterRow.errors, DeadLetterRow.raw)
            ).all()
        return [{"location": r.location, "errors": r.errors, "raw": r.raw} for r in rows]

    def duplicates(self) -> int:
        with self.engine.connect() as connection:
            return len(connection.execute(select(DuplicateSignalRow.id)).all())

    def orders_at_venue(self) -> list[str]:
        """Client order ids the paper venue has committed (each signal places exactly one)."""
        self.running.venue.commit()
        with self.engine.connect() as connection:
            return list(connection.execute(select(PaperOrderRow.client_order_id)).scalars())

    @contextlib.asynccontextmanager
    async def serving(self, *sources: SignalSource) -> AsyncIterator[IntakeRunner]:
        """Start the sources as `run` does; stop them (gracefully) on exit."""
        runner = IntakeRunner(list(sources), self.gate)
        await runner.start()
        try:
            yield runner
        finally:
            await runner.stop()
            self.running.journal.flush()


@contextlib.asynccontextmanager
async def live_bot(tmp_path: Path, **config: Any) -> AsyncIterator[LiveRig]:
    loop = asyncio.get_running_loop()
    engine = open_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    upgrade_to_head(engine)
    bars = make_bars("BTC/USDT", OPENS * 30, start=T0)
    running = assemble_paper_bot(
        paper_config(**config), engine, LiveClock(loop), {"BTC/USDT": bars}, schedule=loop.call_soon
    )
    gate = IntakeGate(running.bot.kernel, running.journal, cursors=running.cursors)
    try:
        yield LiveRig(running, gate, engine)
    finally:
        running.venue.commit()
        running.journal.flush()
        engine.dispose()


async def eventually(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait until `check()` holds (polled), or fail the test."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)
