"""`file`: signals from a file, followed as a detector appends to it or replayed once.

`mode: follow` (JSONL) reads complete lines as they are appended; the read position is saved
with the signals read up to it, so a restart continues exactly after the last one recorded
(see `SignalFileTail` for rotated and rewritten files). `mode: replay` sends a finished JSONL or
CSV file once, as fast as the bot takes it or at the pace its `created_at` times were recorded
(`pace: recorded`, sped up by `speed`); its position is the rows done.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal

from loguru import logger
from pydantic import Field

from trading_bot.engine.signal_ledger import InvalidSignal
from trading_bot.intake.file_tail import SignalFileTail
from trading_bot.intake.signal_file import read_signal_file
from trading_bot.intake.source import SignalSource, SourceParams
from trading_bot.market_data.errors import DataFileError


class FileParams(SourceParams):
    path: str = Field(min_length=1, description="JSONL (follow) or JSONL/CSV (replay) file")
    mode: Literal["follow", "replay"] = "follow"
    poll_interval_s: float = Field(default=0.2, gt=0, le=60, description="follow: look this often")
    pace: Literal["fast", "recorded"] = Field(
        default="fast", description="replay: at once, or spaced as the created_at times were"
    )
    speed: float = Field(default=1.0, gt=0, le=1_000_000, description="replay pace multiplier")


class SignalFileSource(SignalSource):
    Params = FileParams
    params: FileParams

    def describe(self) -> str:
        what = "following" if self.params.mode == "follow" else f"replaying ({self.params.pace})"
        return f"{what} signal file {self.params.path}"

    async def run(self) -> None:
        if self.params.mode == "follow":
            await self._follow()
        else:
            await self._replay()

    async def _follow(self) -> None:
        channel = self.channel
        tail = SignalFileTail(self.params.path, channel.cursor)
        failing = ""
        while not self.stopping.is_set():
            try:
                lines = tail.read()
            except Exception as error:  # unreadable now: say so once, keep polling
                message = f"{type(error).__name__}: {error}"
                if message != failing:
                    logger.error("cannot read signal file {}: {}; retrying", tail.path, message)
                    failing = message
                await self._pause(max(self.params.poll_interval_s, 1.0))
                continue
            failing = ""
            for line in lines:
                location = line.location.rsplit(":", 1)[-1]
                if line.problem:
                    channel.dead_letter(line.text, f"line {location}", [line.problem])
                else:
                    await channel.capacity()
                    channel.offer(line.text, f"line {location}")
            if lines:
                channel.move_cursor(tail.position)
                await channel.recorded()
                continue
            await self._pause(self.params.poll_interval_s)

    async def _replay(self) -> None:
        channel = self.channel
        done = int(channel.cursor or 0)
        try:
            items = list(read_signal_file(self.params.path))
        except DataFileError as error:
            logger.error("cannot replay {}: {}", error.path, "; ".join(error.problems))
            return
        previous_ms: int | None = None
        for index, item in enumerate(items[done:], start=done + 1):
            if self.stopping.is_set():
                break
            if isinstance(item, InvalidSignal):
                channel.dead_letter(item.raw, item.location, list(item.errors))
            else:
                created = item.signal.created_at
                if self.params.pace == "recorded" and created is not None:
                    if previous_ms is not None and created > previous_ms:
                        await self._pause((created - previous_ms) / 1000 / self.params.speed)
                    previous_ms = created
                await channel.capacity()
                channel.offer(item.signal, f"line {item.line}")
            channel.move_cursor(str(index))
            if index % 500 == 0 or self.params.pace == "recorded":
                await channel.recorded()
        await channel.recorded()
        logger.info("signal file {} replayed ({} rows)", self.params.path, len(items))
        await self.stopping.wait()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)
