"""Starts, supervises and stops the configured signal sources.

Start: every source connects (bounded in time); one that cannot is a start-up error naming it.
Run: each source in its own task; a source that fails unexpectedly is logged and restarted
after a backoff, so one broken transport never stops the others or the bot. Stop: sources are
told to stop first and given time to finish the batch in hand (recorded, then acknowledged);
only then does the bot flush and exit.
"""

from __future__ import annotations

import asyncio

from loguru import logger

from trading_bot.intake.gate import IntakeGate
from trading_bot.intake.source import Backoff, SignalSource, SourceStartError

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


class IntakeStartError(Exception):
    """A configured source could not start; the message names it and says why."""


class IntakeRunner:
    def __init__(self, sources: list[SignalSource], gate: IntakeGate) -> None:
        self.sources = sources
        self.gate = gate
        self._tasks: list[asyncio.Task[None]] = []
        self._started: list[SignalSource] = []
        for source in sources:
            source.attach(gate)

    async def start(self) -> None:
        for source in self.sources:
            try:
                await asyncio.wait_for(source.start(), START_TIMEOUT_S)
            except (SourceStartError, TimeoutError, OSError) as error:
                await self._close_started()
                reason = str(error) or f"no answer within {START_TIMEOUT_S:g} s"
                raise IntakeStartError(f"intake source {source.name}: {reason}") from None
            self._started.append(source)
            logger.info("intake {}: {}", source.name, source.describe())
        self._tasks = [
            asyncio.create_task(self._supervise(source), name=f"intake:{source.name}")
            for source in self.sources
        ]

    async def stop(self) -> None:
        for source in self.sources:
            source.stopping.set()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_S)
            for task in late:
                logger.warning("intake {} did not stop in time; cancelling it", task.get_name())
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._close_started()
        for name, counts in self.gate.counts().items():
            if counts:
                logger.info(
                    "intake {}: {}", name, ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                )

    async def _supervise(self, source: SignalSource) -> None:
        backoff = Backoff(initial_s=1.0, max_s=60.0)
        while not source.stopping.is_set():
            try:
                await source.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("intake {} failed; restarting it", source.name)
                await backoff.wait(source.stopping)

    async def _close_started(self) -> None:
        for source in self._started:
            try:
                await asyncio.wait_for(source.close(), STOP_TIMEOUT_S)
            except Exception as error:
                logger.warning("intake {} did not close cleanly: {!r}", source.name, error)
        self._started = []
