"""Every request to a live venue passes here: throttling, bans, the circuit breaker, retries.

- A 429 pauses sending (the venue's Retry-After, else an exponential back-off): requests wait
  it out, orders are refused meanwhile rather than queued behind it.
- A 418 is a ban: nothing is sent until it ends (the venue's "banned until", else
  `BAN_DEFAULT_MS`), the alert callback fires once.
- Failures that say the venue is unwell (no answer, 5xx, throttling) count towards the circuit
  breaker (purgatory); while it is open no request is sent and `on_change` tells the service
  to pause intake. Refusals of one order (insufficient funds...) do not count.
- Calls that are safe to repeat (queries, cancels) are retried with jittered exponential
  back-off (tenacity); an order create is never retried here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from loguru import logger
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from trading_bot.domain.rejections import RejectionReason
from trading_bot.engine.clock import Clock
from trading_bot.venues.ccxt.errors import Outcome, VenueError, banned_until_ms, classify
from trading_bot.venues.ccxt.params import BreakerRules, RetryRules

T = TypeVar("T")
BAN_DEFAULT_MS = 5 * 60_000
RATE_LIMIT_PAUSE_MS = (1_000, 60_000)  # first and longest pause after a 429
_SICK = (Outcome.UNKNOWN, Outcome.RATE_LIMITED, Outcome.BANNED)


class BreakerOpen(Exception):
    """The circuit breaker is open: the request was not sent."""


class RequestGuard:
    def __init__(
        self,
        clock: Clock,
        retry: RetryRules,
        breaker: BreakerRules,
        *,
        secrets: frozenset[str] = frozenset(),
        on_ban: Callable[[str], None] = lambda detail: None,
        on_change: Callable[[bool], None] = lambda healthy: None,
    ) -> None:
        self._clock = clock
        self._retry = retry
        self._secrets = secrets
        self._on_ban = on_ban
        self._on_change = on_change
        self._factory = AsyncCircuitBreakerFactory(
            default_threshold=breaker.failures,
            default_ttl=breaker.recovery_s,
            exclude=[(Exception, self._not_a_venue_failure)],
        )
        self._factory.add_listener(self._breaker_event)
        self._breaker: Any = None
        self.paused_until_ms = 0
        self.banned_until_ms = 0
        self._pause_ms = RATE_LIMIT_PAUSE_MS[0]

    # -- state ----------------------------------------------------------------------------------

    @property
    def breaker_open(self) -> bool:
        return self._breaker is not None and self._breaker.context.state == "opened"

    def refusal(self) -> VenueError | None:
        """Why an order must not be sent now, or None."""
        now = self._clock.now_ms()
        if now < self.banned_until_ms:
            return VenueError(
                Outcome.BANNED,
                RejectionReason.VENUE_BANNED,
                f"the venue banned this bot until {self.banned_until_ms} (epoch ms)",
            )
        if now < self.paused_until_ms:
            return VenueError(
                Outcome.RATE_LIMITED,
                RejectionReason.VENUE_RATE_LIMITED,
                f"sending paused after a 429 until {self.paused_until_ms} (epoch ms)",
            )
        if self.breaker_open:
            return VenueError(
                Outcome.UNKNOWN,
                RejectionReason.VENUE_UNAVAILABLE,
                "the circuit breaker is open after repeated venue failures",
            )
        return None

    # -- calls ----------------------------------------------------------------------------------

    async def once(self, call: Callable[[], Awaitable[T]]) -> T:
        """One attempt, after any pause or ban; failures are classified and remembered."""
        await self._wait_for_window()
        if self._breaker is None:
            self._breaker = await self._factory.get_breaker("venue")
        try:
            async with self._breaker:
                result = await call()
        except OpenedState:
            raise BreakerOpen("the circuit breaker is open after repeated venue failures") from None
        except Exception as error:
            self._note_failure(error)
            raise
        self._pause_ms = RATE_LIMIT_PAUSE_MS[0]
        return result

    async def repeatable(self, call: Callable[[], Awaitable[T]]) -> T:
        """`once`, retried while the failure says the venue may answer next time."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.attempts),
            wait=wait_exponential_jitter(
                multiplier=self._retry.initial_wait_s, max=self._retry.max_wait_s
            ),
            retry=retry_if_exception(self._worth_retrying),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self.once(call)
        raise AssertionError("unreachable: tenacity reraises the last failure")

    def classify(self, error: Exception) -> VenueError:
        if isinstance(error, BreakerOpen):
            return VenueError(Outcome.UNKNOWN, RejectionReason.VENUE_UNAVAILABLE, str(error))
        return classify(error, self._secrets)

    # -- internals ------------------------------------------------------------------------------

    async def _wait_for_window(self) -> None:
        wait_ms = max(self.banned_until_ms, self.paused_until_ms) - self._clock.now_ms()
        if wait_ms > 0:
            await asyncio.sleep(wait_ms / 1000)

    def _worth_retrying(self, error: BaseException) -> bool:
        if not isinstance(error, Exception) or isinstance(error, BreakerOpen):
            return False
        return self.classify(error).safe_to_retry

    def _note_failure(self, error: Exception) -> None:
        reading = self.classify(error)
        now = self._clock.now_ms()
        if reading.outcome is Outcome.BANNED:
            first = now >= self.banned_until_ms
            self.banned_until_ms = banned_until_ms(error) or now + BAN_DEFAULT_MS
            if first:
                logger.critical(
                    "the venue BANNED this bot (HTTP 418) until {}: nothing is sent until then; {}",
                    self.banned_until_ms,
                    reading.detail,
                )
                self._on_ban(reading.detail)
        elif reading.outcome is Outcome.RATE_LIMITED:
            self.paused_until_ms = now + self._pause_ms
            logger.warning(
                "the venue is throttling (HTTP 429): sending paused for {} ms", self._pause_ms
            )
            self._pause_ms = min(self._pause_ms * 2, RATE_LIMIT_PAUSE_MS[1])

    def _not_a_venue_failure(self, error: BaseException) -> bool:
        if not isinstance(error, Exception):
            return True
        return self.classify(error).outcome not in _SICK

    def _breaker_event(self, name: str, event: str, payload: Any) -> None:
        if event != "state_changed":
            return
        state = getattr(payload, "state", "")
        if state == "opened":
            logger.error("venue circuit breaker OPEN: orders are refused and intake paused")
            self._on_change(False)
        elif state == "closed":
            logger.info("venue circuit breaker closed: the venue answers again")
            self._on_change(True)
