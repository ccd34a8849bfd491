"""A synchronous, in-order event bus for the core.

Events published while another is being dispatched are queued and dispatched after it, so
every subscriber sees events in the order they happened (breadth-first), never a nested
half-updated view.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

Handler = Callable[[Any], None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: defaultdict[type, list[Handler]] = defaultdict(list)
        self._queue: deque[object] = deque()
        self._dispatching = False

    def subscribe(self, event_type: type, handler: Handler) -> None:
        """Handlers of one event type run in subscription order."""
        self._handlers[event_type].append(handler)

    def publish(self, event: object) -> None:
        self._queue.append(event)
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self._queue:
                current = self._queue.popleft()
                for handler in self._handlers.get(type(current), ()):
                    handler(current)
        finally:
            # A failing handler is a bug and propagates; events still queued stay queued and go
            # out with the next publish rather than being lost.
            self._dispatching = False
