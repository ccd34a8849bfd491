"""A synchronous, in-order event bus for the core.

Events published while another is being dispatched are queued and dispatched after it, so
every subscriber sees events in the order they happened (breadth-first), never a nested
half-updated view. An event type nobody subscribes to costs one dict lookup; publishers on the
hot path may ask `wants()` first to skip even building the event.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

Handler = Callable[[Any], None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = {}
        self._queue: deque[tuple[list[Handler], object]] = deque()
        self._dispatching = False

    def subscribe(self, event_type: type, handler: Handler) -> None:
        """Handlers of one event type run in subscription order."""
        self._handlers.setdefault(event_type, []).append(handler)

    def wants(self, event_type: type) -> bool:
        return event_type in self._handlers

    def publish(self, event: object) -> None:
        handlers = self._handlers.get(type(event))
        if handlers is None:
            return
        if self._dispatching:
            self._queue.append((handlers, event))
            return
        self._dispatching = True
        queue = self._queue
        try:
            if queue:  # leftovers of a failed dispatch go first, in order
                queue.append((handlers, event))
            else:
                for handler in handlers:
                    handler(event)
            while queue:
                queued_handlers, queued = queue.popleft()
                for handler in queued_handlers:
                    handler(queued)
        finally:
            # A failing handler is a bug and propagates; events still queued stay queued and go
            # out with the next publish rather than being lost.
            self._dispatching = False
