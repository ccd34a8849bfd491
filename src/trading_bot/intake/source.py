"""`SignalSource`: the base of every transport signals arrive by (config: `intake.sources`).

A source connects in `start` (a failure there stops the bot's start with a clear message),
then `run` consumes until `stopping` is set, handling dropped connections itself (reconnect
with jittered exponential backoff). It hands every message to its `IntakeChannel` and
acknowledges its broker or sender only after `channel.recorded()`, so nothing is lost between
the two and a redelivery is only a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from trading_bot.intake.parsing import MAX_PAYLOAD_BYTES

if TYPE_CHECKING:
    from trading_bot.intake.gate import IntakeChannel, IntakeGate


class SourceParams(BaseModel):
    """Settings every source has; each source adds its own."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="the signal `source` given to payloads that name none (part of the dedup key)",
    )
    max_message_bytes: int = Field(
        default=MAX_PAYLOAD_BYTES, ge=256, le=16 * 1024 * 1024, description="larger is refused"
    )
    rate_limit_per_s: float | None = Field(
        default=None, gt=0, description="most signals per second taken from this source"
    )
    rate_limit_burst: int | None = Field(
        default=None, ge=1, description="signals allowed at once above the rate (default: rate)"
    )


class SourceStartError(Exception):
    """The source cannot start (unreachable broker, port in use...); the message says why."""


class SignalSource(ABC):
    Params: ClassVar[type[SourceParams]] = SourceParams

    def __init__(self, params: SourceParams, name: str) -> None:
        self.params = params
        self.name = name
        self.stopping = asyncio.Event()
        self._channel: IntakeChannel | None = None

    def attach(self, gate: IntakeGate) -> None:
        """Called once before `start`: open this source's channel into the bot."""
        params = self.params
        self._channel = gate.channel(
            self.name,
            default_source=params.source,
            max_bytes=params.max_message_bytes,
            rate_per_s=params.rate_limit_per_s,
            burst=params.rate_limit_burst,
        )

    @property
    def channel(self) -> IntakeChannel:
        if self._channel is None:
            raise RuntimeError(f"intake source {self.name} is not attached to a bot")
        return self._channel

    async def start(self) -> None:  # noqa: B027 - a source without a connection has nothing to do
        """Connect or bind; raise `SourceStartError` when that is impossible."""

    @abstractmethod
    async def run(self) -> None:
        """Take signals until `stopping` is set; finish the batch in hand before returning."""

    async def close(self) -> None:  # noqa: B027 - a source without a connection has nothing to do
        """Release connections (after `run` returned or was cancelled)."""

    @abstractmethod
    def describe(self) -> str:
        """One line for the start-up log: what this source listens to (never a secret)."""


class Backoff:
    """Delays between reconnect attempts: exponential, capped, with full jitter so many bots
    dropped at once do not all come back in the same instant."""

    def __init__(self, initial_s: float = 0.2, max_s: float = 30.0) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self.attempts = 0

    def next_delay(self) -> float:
        ceiling = min(self.max_s, self.initial_s * 2**self.attempts)
        self.attempts += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempts = 0

    async def wait(self, stopping: asyncio.Event) -> None:
        """Sleep the next delay, or less if the source is being stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), self.next_delay())
