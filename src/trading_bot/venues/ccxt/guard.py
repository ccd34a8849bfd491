"""Every request to a live venue passes here: throttling, bans, the circuit breaker, retries.

- A 429 pauses sending for an exponential back-off (1 s, doubling up to 60 s, back to 1 s
  after a success), or for the venue's `Retry-After` when that is longer: requests wait it
  out, orders are refused meanwhile rather than queued behind it.
- A 418 is a ban: nothing is sent until it ends (the venue's "banned until", else its
  `Retry-After`, else `BAN_DEFAULT_MS`), the alert callback fires once. `keep_ban` is told the
  ban's end each time a 418 sets it, so the service can store it; a restart puts it back
  (`hold_until`) before its first request.
- `Retry-After` (seconds or an HTTP date, at most a day; an unreadable one is ignored) is not
  on ccxt's exception: `response_headers` reads the failing response's headers off the client
  the moment the error is caught (`errors.failed_response_headers`).
- Failures that say the venue is unwell (no answer, 5xx, throttling) count towards the circuit
  breaker (purgatory); while it is open no request is sent and `on_change` tells the service
  to pause intake. Refusals of one order (insufficient funds...) do not count. After
  `recovery_s` the next request is let through to test the venue; the guard sends one itself
  (`probe`), since with intake paused and no order open nothing else might ever come.
- Calls that are safe to repeat (queries, cancels) are retried with jittered exponential
  back-off (tenacity); an order create is never retried here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
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
from trading_bot.domain.timestamps import format_ms
from trading_bot.engine.clock import Clock
from trading_bot.venues.ccxt.errors import (
    Outcome,
    VenueError,
    banned_until_ms,
    classify,
    retry_after_ms,
)
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
        keep_ban: Callable[[int], None] = lambda until_ms: None,
        on_change: Callable[[bool], None] = lambda healthy: None,
        probe: Callable[[], Awaitable[Any]] | None = None,
        response_headers: Callable[[Exception], Mapping[str, str] | None] = lambda error: None,
    ) -> None:
        self._clock = clock
        self._response_headers = response_headers
        self._retry = retry
        self._recovery_s = breaker.recovery_s
        self._probe = probe
        self._probe_task: asyncio.Task[None] | None = None
        self.healthy = True
        self._secrets = secrets
        self._on_ban = on_ban
        self._keep_ban = keep_ban
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
        """Open and not yet due for a test: a request now would not be sent. (purgatory
        half-opens on the first request after `recovery_s`; its time is the wall clock, which
        is what `LiveClock` reads.)"""
        if self._breaker is None:
            return False
        context = self._breaker.context
        if context.state != "opened":
            return False
        opened_at = context.opened_at or 0.0
        return self._clock.now_ms() < (opened_at + self._recovery_s) * 1000

    def hold_until(self, banned_until_ms: int) -> None:
        """A ban from before a restart: nothing is sent until it ends, as if the 418 had just
        come (no alert: it was raised when the ban began)."""
        self.banned_until_ms = max(self.banned_until_ms, banned_until_ms)

    async def close(self) -> None:
        if self._probe_task is not None:
            self._probe_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe_task
            self._probe_task = None

    def refusal(self) -> VenueError | None:
        """Why an order must not be sent now, or None."""
        now = self._clock.now_ms()
        if now < self.banned_until_ms:
            return VenueError(
                Outcome.BANNED,
                RejectionReason.VENUE_BANNED,
                f"the venue banned this bot until {format_ms(self.banned_until_ms)}",
            )
        if now < self.paused_until_ms:
            return VenueError(
                Outcome.RATE_LIMITED,
                RejectionReason.VENUE_RATE_LIMITED,
                f"sending paused after a 429 until {format_ms(self.paused_until_ms)}",
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
                try:
                    result = await call()
                except Exception as error:
                    # now, before the breaker's bookkeeping: the failing response's headers
                    # are still the client's latest
                    self._note_failure(error)
                    raise
        except OpenedState:
            raise BreakerOpen("the circuit breaker is open after repeated venue failures") from None
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
        if isinstance(error, BreakerOpen):  # not sent: no doubt about what happened
            return VenueError(Outcome.REFUSED, RejectionReason.VENUE_UNAVAILABLE, str(error))
        return classify(error, self._secrets)

    # -- internals ------------------------------------------------------------------------------

    async def _wait_for_window(self) -> None:
        wait_ms = max(self.banned_until_ms, self.paused_until_ms) - self._clock.now_ms()
        if wait_ms > 0:
            await asyncio.sleep(wait_ms / 1000)
        if self.banned_until_ms and self._clock.now_ms() >= self.banned_until_ms:
            logger.warning("the venue's ban has ended: sending again")
            self.banned_until_ms = 0

    def _worth_retrying(self, error: BaseException) -> bool:
        if not isinstance(error, Exception) or isinstance(error, BreakerOpen):
            return False
        return self.classify(error).safe_to_retry

    def _note_failure(self, error: Exception) -> None:
        reading = self.classify(error)
        if reading.outcome not in (Outcome.BANNED, Outcome.RATE_LIMITED):
            return
        now = self._clock.now_ms()
        retry_after = retry_after_ms(self._response_headers(error), now)
        if reading.outcome is Outcome.BANNED:
            first = now >= self.banned_until_ms
            self.banned_until_ms = banned_until_ms(error) or now + (retry_after or BAN_DEFAULT_MS)
            self._keep_ban(self.banned_until_ms)
            if first:
                logger.critical(
                    "the venue BANNED this bot (HTTP 418) until {}: nothing is sent until then; {}",
                    format_ms(self.banned_until_ms),
                    reading.detail,
                )
                self._on_ban(reading.detail)
        else:
            pause_ms = max(self._pause_ms, retry_after or 0)
            # a longer pause already in force (another request's Retry-After) is kept
            self.paused_until_ms = max(self.paused_until_ms, now + pause_ms)
            logger.warning(
                "the venue is throttling (HTTP 429): sending paused for {} ms (Retry-After {})",
                pause_ms,
                "absent or unreadable" if retry_after is None else f"{retry_after} ms",
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
            if self.healthy:
                logger.error("venue circuit breaker OPEN: orders are refused and intake paused")
                self.healthy = False
                self._on_change(False)
            self._probe_later()
        elif state == "closed" and not self.healthy:
            logger.info("venue circuit breaker closed: the venue answers again")
            self.healthy = True
            self._on_change(True)

    def _probe_later(self) -> None:
        if self._probe is None or (self._probe_task is not None and not self._probe_task.done()):
            return
        self._probe_task = asyncio.get_running_loop().create_task(self._test_venue(self._probe))

    async def _test_venue(self, probe: Callable[[], Awaitable[Any]]) -> None:
        """After `recovery_s`, one request: it closes the breaker, or opens it again (and
        schedules the next test)."""
        await asyncio.sleep(self._recovery_s)
        self._probe_task = None
        if not self.breaker_open and self.healthy:
            return  # something else tested the venue meanwhile
        try:
            await self.once(probe)
        except Exception as error:
            logger.warning("the venue still fails ({})", self.classify(error).detail)
