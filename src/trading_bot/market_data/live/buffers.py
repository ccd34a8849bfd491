"""Bounded hand-over from the feed to consumers that may be slower than the market.

The feed never waits for a consumer and never holds more than a fixed number of items for
one: `LatestOnly` keeps only the newest value (an order book or a ticker: an old one is
worthless once a newer exists; each value replaced unread is counted as coalesced), and
`DropOldest` keeps the newest `maxlen` items (trades, bars) and counts what it had to drop.
Both are async iterators for a consumer task and can be drained without waiting.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import deque
from typing import Generic, Self, TypeVar

T = TypeVar("T")


class BufferClosed(Exception):
    """The feed stopped: nothing more will arrive."""


class _Handover(ABC, Generic[T]):
    """What both buffers share: a consumer waits on `get` (or iterates) until `close`."""

    def __init__(self) -> None:
        self._closed = False
        self._ready = asyncio.Event()

    @abstractmethod
    async def get(self) -> T:
        """The next value; `BufferClosed` once the feed stopped and nothing is left."""

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.get()
        except BufferClosed:
            raise StopAsyncIteration from None


class LatestOnly(_Handover[T]):
    def __init__(self) -> None:
        super().__init__()
        self._value: T | None = None
        self._fresh = False
        self.puts = 0
        self.coalesced = 0  # values replaced before anyone read them

    def put(self, value: T) -> None:
        if self._fresh:
            self.coalesced += 1
        self._value = value
        self._fresh = True
        self.puts += 1
        self._ready.set()

    def take(self) -> T | None:
        """The newest value not read yet, or None."""
        if not self._fresh:
            return None
        self._fresh = False
        self._ready.clear()
        return self._value

    @property
    def latest(self) -> T | None:
        """The newest value, read or not (None after `clear`)."""
        return self._value

    def clear(self) -> None:
        """Forget the value (it is stale: the stream it came from had a gap)."""
        self._value = None
        self._fresh = False
        self._ready.clear()

    async def get(self) -> T:
        """Wait for a value newer than the last one read."""
        while not self._fresh:
            if self._closed:
                raise BufferClosed
            await self._ready.wait()
        value = self.take()
        assert value is not None
        return value


class DropOldest(_Handover[T]):
    def __init__(self, maxlen: int) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        super().__init__()
        self._items: deque[T] = deque(maxlen=maxlen)
        self.puts = 0
        self.dropped = 0  # oldest items pushed out unread by newer ones

    @property
    def maxlen(self) -> int:
        maxlen = self._items.maxlen
        assert maxlen is not None
        return maxlen

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> None:
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(item)  # a full deque with maxlen drops its oldest item itself
        self.puts += 1
        self._ready.set()

    def take_all(self) -> list[T]:
        """Everything waiting, oldest first, without waiting."""
        items = list(self._items)
        self._items.clear()
        self._ready.clear()
        return items

    async def get(self) -> T:
        while not self._items:
            if self._closed:
                raise BufferClosed
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()
