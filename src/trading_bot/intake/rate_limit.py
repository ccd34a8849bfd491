"""A per-source rate limit: a token bucket read from the bot's clock.

Sources that pull (queues, streams, files, polling) wait for a token, so a burst is slowed
down and nothing is lost; sources that are pushed to (webhook, WebSocket server) refuse what
exceeds the limit, and the sender is told to retry later.
"""

from __future__ import annotations

from trading_bot.engine.clock import Clock


class RateLimit:
    def __init__(self, clock: Clock, per_s: float, burst: int | None = None) -> None:
        if per_s <= 0:
            raise ValueError("per_s must be positive")
        self._clock = clock
        self.per_s = per_s
        self.burst = max(1, burst if burst is not None else int(per_s) or 1)
        self._tokens = float(self.burst)
        self._at_ms = clock.now_ms()

    def try_take(self) -> bool:
        """Take one token if there is one."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def wait_ms(self) -> int:
        """How long until a token is available (0: now)."""
        self._refill()
        if self._tokens >= 1:
            return 0
        return max(1, int((1 - self._tokens) * 1000 / self.per_s) + 1)

    def _refill(self) -> None:
        now = self._clock.now_ms()
        if now > self._at_ms:
            self._tokens = min(self.burst, self._tokens + (now - self._at_ms) * self.per_s / 1000)
            self._at_ms = now
