"""The one way into the bot for every signal source: validate, check, record, answer.

Each source gets an `IntakeChannel`. `offer` takes a raw payload (bytes, text or an already
decoded object) and never raises: the payload is size-checked, parsed, validated field by
field, its asset checked against the venue's markets, rate-limited, deduplicated on
(source, signal_id) and handed to the kernel, or kept as a dead letter with the reasons. The
answer says which. `recorded()` waits until everything offered so far is committed to the
store: a source acknowledges its broker or sender only after that, so a crash between the two
means a redelivery (a duplicate, ignored), never a lost signal.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from loguru import logger

from trading_bot.domain.money import format_decimal, significant
from trading_bot.domain.signal import Signal
from trading_bot.engine.journal import Journal
from trading_bot.engine.kernel import TradingKernel
from trading_bot.engine.signal_ledger import InvalidSignal, SignalRecord, SignalStatus
from trading_bot.intake.parsing import MAX_PAYLOAD_BYTES, PayloadError, load_json, validate_signal
from trading_bot.intake.rate_limit import RateLimit
from trading_bot.intake.raw_text import raw_text, storable
from trading_bot.monitoring.logging import SecretMasker


class IntakeOutcome(StrEnum):
    ACCEPTED = "accepted"  # recorded; the signal's own status says what became of it
    DUPLICATE = "duplicate"  # (source, signal_id) already recorded: nothing done again
    INVALID = "invalid"  # not a valid signal: kept as a dead letter
    RATE_LIMITED = "rate_limited"  # over the source's rate limit: kept as a dead letter
    PAUSED = "paused"  # intake is paused (the venue is unwell): not taken, the sender retries


@dataclass(frozen=True, slots=True)
class IntakeResult:
    outcome: IntakeOutcome
    signal_id: str | None = None
    source: str | None = None
    problems: tuple[str, ...] = ()
    status: SignalStatus | None = None
    reason: str | None = None  # the rejection reason when the recorded signal was rejected

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"outcome": self.outcome.value}
        if self.signal_id is not None:
            body["signal_id"] = self.signal_id
            body["source"] = self.source
        if self.status is not None:
            body["status"] = _STATUS_NAMES[self.status]
        if self.reason is not None:
            body["reason"] = self.reason
        if self.problems:
            body["problems"] = list(self.problems)
        return body


# what a user reads: a signal still waiting on its orders has been received
_STATUS_NAMES = {
    SignalStatus.PENDING: "received",
    SignalStatus.EXECUTED: "executed",
    SignalStatus.REJECTED: "rejected",
}


class IntakeGate:
    def __init__(
        self,
        kernel: TradingKernel,
        journal: Journal,
        *,
        cursors: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        """`cursors`: where each source had read up to, as saved in the store."""
        self.kernel = kernel
        self._journal = journal
        self._cursors = dict(cursors or {})
        self._masker = SecretMasker(secrets)
        self.channels: dict[str, IntakeChannel] = {}
        self.paused: str | None = None  # why intake is paused, None while it runs
        self._running = asyncio.Event()
        self._running.set()

    def pause(self, reason: str) -> None:
        """Stop taking signals until `resume`: pulling sources wait (messages stay with the
        broker), pushed signals are refused with a retry hint. Used while the venue cannot
        take orders, so work does not pile up behind it."""
        if self.paused is None:
            logger.warning("intake paused: {}", reason)
        self.paused = reason
        self._running.clear()

    def resume(self) -> None:
        if self.paused is not None:
            logger.info("intake resumed")
        self.paused = None
        self._running.set()

    def channel(
        self,
        name: str,
        *,
        default_source: str | None = None,
        max_bytes: int = MAX_PAYLOAD_BYTES,
        rate_per_s: float | None = None,
        burst: int | None = None,
    ) -> IntakeChannel:
        """The entry for one source; `name` prefixes dead-letter locations and counts."""
        if name in self.channels:
            raise ValueError(f"an intake channel named {name!r} already exists")
        clock = self.kernel.context.clock
        rate = RateLimit(clock, rate_per_s, burst) if rate_per_s is not None else None
        channel = IntakeChannel(self, name, default_source, max_bytes, rate)
        self.channels[name] = channel
        return channel

    async def recorded(self) -> None:
        """Return once everything offered so far (through any channel) is committed."""
        done = asyncio.get_running_loop().create_future()
        self._journal.when_durable(lambda: done.done() or done.set_result(None))
        await done

    def signal_status(self, source: str, signal_id: str) -> dict[str, Any] | None:
        """What became of a signal and its orders (None: never received)."""
        record = self.kernel.ledger.get((source, signal_id))
        if record is None:
            return None
        return describe_record(record, self.kernel)

    def counts(self) -> dict[str, dict[str, int]]:
        return {name: dict(channel.counts) for name, channel in self.channels.items()}

    def mask(self, text: str) -> str:
        return self._masker.mask(text)


class IntakeChannel:
    """One source's way in. Not thread-safe: call it from the bot's event loop."""

    def __init__(
        self,
        gate: IntakeGate,
        name: str,
        default_source: str | None,
        max_bytes: int,
        rate: RateLimit | None,
    ) -> None:
        self.gate = gate
        self.name = name
        self.default_source = default_source
        self.max_bytes = max_bytes
        self.rate = rate
        self.counts: Counter[str] = Counter()

    def offer(self, payload: object, location: str) -> IntakeResult:
        """Take one payload; never raises. `payload` is raw bytes or text, an already decoded
        JSON value (anything but an object is a dead letter) or a `Signal`. `location` says
        where it came from (a message id, a line number, a client address) for the dead letter
        and the log."""
        self.counts["received"] += 1
        try:
            result = self._offer(payload, location)
        except Exception as error:  # a bug must not stop the source; the payload is kept
            logger.exception("internal error taking a signal from {}", self.name)
            problems = [f"internal error: {type(error).__name__}"]
            try:
                result = self._invalid(payload, location, problems)
            except Exception:  # not even a dead letter could be kept: still answer
                logger.exception("could not keep a dead letter from {}", self.name)
                result = IntakeResult(IntakeOutcome.INVALID, problems=tuple(problems))
        self.counts[result.outcome.value] += 1
        return result

    def _offer(self, payload: object, location: str) -> IntakeResult:
        if self.gate.paused is not None:
            return IntakeResult(
                IntakeOutcome.PAUSED, problems=(f"intake paused: {self.gate.paused}",)
            )
        if self.rate is not None and not self.rate.try_take():
            problem = f"rate limit of {self.rate.per_s:g} signals/s for {self.name} exceeded"
            return self._dead(payload, location, [problem], IntakeOutcome.RATE_LIMITED)
        if isinstance(payload, Signal):
            signal = payload
        else:
            decoded: Any = payload
            if isinstance(payload, bytes | str):
                try:
                    decoded = load_json(payload, self.max_bytes)
                except PayloadError as error:
                    return self._invalid(payload, location, error.problems)
            if isinstance(decoded, Mapping) and self.default_source and "source" not in decoded:
                decoded = {**decoded, "source": self.default_source}
            validated = validate_signal(decoded)
            if isinstance(validated, list):
                return self._invalid(payload, location, validated)
            signal = validated
        kernel = self.gate.kernel
        if kernel.context.market(signal.asset) is None:
            problem = f"asset: {signal.asset} is not traded on this venue"
            return self._invalid(payload, location, [problem])
        key = signal.dedup_key
        duplicate = kernel.ledger.seen(key)
        kernel.submit_signal(signal)
        record = kernel.ledger.get(key)
        if duplicate:
            return self._result(IntakeOutcome.DUPLICATE, record, key)
        return self._result(IntakeOutcome.ACCEPTED, record, key)

    async def recorded(self) -> None:
        await self.gate.recorded()

    @property
    def cursor(self) -> str | None:
        """The position saved with the last signals this source recorded (None: none yet)."""
        return self.gate._cursors.get(self.name)

    def move_cursor(self, position: str) -> None:
        """Say where this source has read up to; saved with the signals offered before it, so
        a restart resumes right after them."""
        self.gate._cursors[self.name] = position
        self.gate._journal.cursor_moved(self.name, position)

    async def capacity(self) -> None:
        """Wait until intake runs and the rate limit lets one more signal in (pulling sources
        call this before `offer`, so a burst is slowed down instead of refused)."""
        if self.gate.paused is not None:
            await self.gate._running.wait()
        if self.rate is None:
            return
        while (wait_ms := self.rate.wait_ms()) > 0:
            await asyncio.sleep(wait_ms / 1000)

    def _result(
        self, outcome: IntakeOutcome, record: SignalRecord | None, key: tuple[str, str]
    ) -> IntakeResult:
        if record is None:  # cannot happen: the kernel records every signal it is given
            return IntakeResult(outcome, key[1], key[0])
        reason = (
            record.reason.value
            if record.status is SignalStatus.REJECTED and record.reason
            else None
        )
        return IntakeResult(outcome, key[1], key[0], status=record.status, reason=reason)

    def dead_letter(self, raw: str, location: str, problems: list[str]) -> IntakeResult:
        """Keep something that cannot be a signal at all (the source found it unreadable)."""
        self.counts["received"] += 1
        self.counts[IntakeOutcome.INVALID.value] += 1
        return self._invalid(raw, location, problems)

    def _invalid(self, payload: object, location: str, problems: list[str]) -> IntakeResult:
        return self._dead(payload, location, problems, IntakeOutcome.INVALID)

    def _dead(
        self,
        payload: object,
        location: str,
        problems: list[str],
        outcome: IntakeOutcome,
    ) -> IntakeResult:
        gate = self.gate
        problems = [storable(gate.mask(problem)) for problem in problems]
        raw = raw_text(payload, gate.mask)
        where = storable(f"{self.name}:{location}")
        gate.kernel.reject_invalid(InvalidSignal(where, tuple(problems), raw))
        signal_id = payload.get("signal_id") if isinstance(payload, Mapping) else None
        return IntakeResult(
            outcome, signal_id if isinstance(signal_id, str) else None, problems=tuple(problems)
        )


def describe_record(record: SignalRecord, kernel: TradingKernel) -> dict[str, Any]:
    orders = []
    for client_order_id in record.client_order_ids:
        order = kernel.orders.get(client_order_id)
        if order is None:
            continue
        average = order.average_fill_price
        orders.append(
            {
                "client_order_id": order.client_order_id,
                "venue_order_id": order.venue_order_id,
                "symbol": order.symbol,
                "side": order.side.value,
                "type": order.order_type.value,
                "amount": str(order.amount),
                "price": str(order.price) if order.price is not None else None,
                "status": order.status.value,
                "filled": str(order.filled_amount),
                "average_price": format_decimal(significant(average))
                if average is not None
                else None,
                "fees": str(order.fees),
            }
        )
    return {
        "signal_id": record.signal_id,
        "source": record.source,
        "status": _STATUS_NAMES[record.status],
        "reason": record.reason.value if record.reason is not None else None,
        "detail": record.detail or None,
        "received_ms": record.received_ms,
        "orders": orders,
    }
