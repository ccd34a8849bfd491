"""What became of every signal: executed, rejected (with reason) or still pending.

Nothing is silently dropped: each signal received, including duplicates and payloads that
failed validation, ends here with an outcome.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import MutableSequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from trading_bot.domain.rejections import RejectionReason
from trading_bot.engine.journal import Journal, NullJournal

if TYPE_CHECKING:
    from trading_bot.domain.signal import Signal


class SignalStatus(StrEnum):
    PENDING = "pending"
    EXECUTED = "executed"
    REJECTED = "rejected"


_EXECUTED: Final = SignalStatus.EXECUTED  # read per fill; a member off its class is slow on 3.11


@dataclass(slots=True, init=False)
class SignalRecord:
    """What became of one signal. `__init__` written out, as `Order`'s (a test holds it to
    the fields): compiled, it is far cheaper than the generated one."""

    signal_id: str
    source: str
    received_ms: int
    status: SignalStatus = SignalStatus.PENDING
    reason: RejectionReason | None = None
    detail: str = ""
    client_order_ids: list[str] = field(default_factory=list)
    open_orders: int = 0
    filled: bool = False
    # kept while orders may still need it (a timed-out order re-priced as a new leg)
    signal: Signal | None = None
    stopped: bool = False  # the execution gave up on the rest: its reason outlives later fills

    def __init__(
        self,
        signal_id: str,
        source: str,
        received_ms: int,
        status: SignalStatus = SignalStatus.PENDING,
        reason: RejectionReason | None = None,
        detail: str = "",
        client_order_ids: list[str] | None = None,
        open_orders: int = 0,
        filled: bool = False,
        signal: Signal | None = None,
        stopped: bool = False,
    ) -> None:
        self.signal_id = signal_id
        self.source = source
        self.received_ms = received_ms
        self.status = status
        self.reason = reason
        self.detail = detail
        self.client_order_ids = [] if client_order_ids is None else client_order_ids
        self.open_orders = open_orders
        self.filled = filled
        self.signal = signal
        self.stopped = stopped


@dataclass(frozen=True, slots=True)
class InvalidSignal:
    """A payload that failed validation, kept as a dead letter with where it came from."""

    location: str
    errors: tuple[str, ...]
    raw: str


# With a journal that stores them, only the latest duplicates and dead letters stay in memory
# too: a detector sending bad payloads for days must not fill the bot's memory (a dead letter
# keeps up to 64 KB of its payload). All are counted.
RECENT_REJECTS_KEPT: Final = 1_000


class SignalLedger:
    def __init__(self, journal: Journal | None = None) -> None:
        self._journal: Journal = journal if journal is not None else NullJournal()
        self._records: dict[tuple[str, str], SignalRecord] = {}
        self._by_order: dict[str, SignalRecord] = {}
        stored = not isinstance(self._journal, NullJournal)
        self.duplicates: MutableSequence[tuple[str, str, int]] = (
            deque(maxlen=RECENT_REJECTS_KEPT) if stored else []
        )
        self.invalid: MutableSequence[InvalidSignal] = (
            deque(maxlen=RECENT_REJECTS_KEPT) if stored else []
        )
        self.duplicate_count = 0
        self.invalid_count = 0

    def seen(self, key: tuple[str, str]) -> bool:
        return key in self._records

    def received(self, signal: Signal, ts_ms: int) -> SignalRecord:
        key = signal.dedup_key
        record = self._records[key] = SignalRecord(key[1], key[0], ts_ms, signal=signal)
        self._journal.signal_received(signal, record)
        return record

    def restore(self, record: SignalRecord) -> None:
        """Take back a record loaded from the store (recovery after a restart)."""
        self._records[(record.source, record.signal_id)] = record
        for client_order_id in record.client_order_ids:
            self._by_order[client_order_id] = record

    def duplicate(self, key: tuple[str, str], ts_ms: int) -> None:
        self.duplicates.append((key[0], key[1], ts_ms))
        self.duplicate_count += 1
        self._journal.duplicate_signal(key[0], key[1], ts_ms)

    def dead_letter(self, invalid: InvalidSignal, ts_ms: int) -> None:
        self.invalid.append(invalid)
        self.invalid_count += 1
        self._journal.dead_letter(invalid, ts_ms)

    def records(self) -> list[SignalRecord]:
        return list(self._records.values())

    def get(self, key: tuple[str, str]) -> SignalRecord | None:
        return self._records.get(key)

    def reject(self, record: SignalRecord, reason: RejectionReason, detail: str) -> None:
        record.status = SignalStatus.REJECTED
        record.reason = reason
        record.detail = detail
        self._changed(record)

    def stopped(self, record: SignalRecord, reason: RejectionReason, detail: str) -> None:
        """The execution gave up on the rest of the signal (an iceberg chunk that failed):
        the reason is kept even when part of it filled; rejected if nothing did and nothing
        is open."""
        record.reason = reason
        record.detail = detail
        record.stopped = True
        if record.open_orders <= 0 and not record.filled:
            record.status = SignalStatus.REJECTED
        self._changed(record)

    # -- order outcomes -------------------------------------------------------------------------

    def order_placed(self, record: SignalRecord, client_order_id: str) -> None:
        record.client_order_ids.append(client_order_id)
        record.open_orders += 1
        self._by_order[client_order_id] = record
        self._journal.signal_changed(record)

    def order_unplaced(self, record: SignalRecord, client_order_id: str) -> None:
        """Undo `order_placed` for an order that never reached the order manager."""
        if client_order_id in record.client_order_ids:
            record.client_order_ids.remove(client_order_id)
            record.open_orders -= 1
        self._by_order.pop(client_order_id, None)
        self._journal.signal_changed(record)

    def close_pending(self, reason: RejectionReason, detail: str) -> int:
        """End every signal still pending (end of a run): rejected unless something filled.
        Returns how many were closed."""
        closed = 0
        for record in self._records.values():
            if record.status is SignalStatus.PENDING:
                record.status = SignalStatus.EXECUTED if record.filled else SignalStatus.REJECTED
                if not record.filled and record.reason is None:
                    record.reason, record.detail = reason, detail
                self._changed(record)
                closed += 1
        return closed

    def order_filled(self, client_order_id: str, *, final: bool) -> None:
        record = self._by_order.get(client_order_id)
        if record is None:
            return
        record.filled = True
        record.status = _EXECUTED
        if not record.stopped:  # an earlier leg's cancel no longer matters once one filled
            record.reason = None
            record.detail = ""
        if final:
            record.open_orders -= 1
        self._changed(record)

    def order_closed(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        """An order ended other than by filling (rejected, canceled, expired). The signal is
        rejected with the first such reason once none of its orders is open and none filled."""
        record = self._by_order.get(client_order_id)
        if record is None:
            return
        record.open_orders -= 1
        if not record.filled and record.reason is None:
            record.reason = reason
            record.detail = detail
        if record.open_orders == 0 and not record.filled:
            record.status = SignalStatus.REJECTED
        self._changed(record)

    def _changed(self, record: SignalRecord) -> None:
        if record.open_orders <= 0 and record.status is not SignalStatus.PENDING:
            record.signal = None  # settled: nothing will re-place an order for it
        self._journal.signal_changed(record)

    # -- reporting ------------------------------------------------------------------------------

    def rejection_counts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for record in self._records.values():
            if record.status is SignalStatus.REJECTED and record.reason is not None:
                counts[record.reason.value] += 1
        if self.duplicate_count:
            counts[RejectionReason.DUPLICATE.value] += self.duplicate_count
        if self.invalid_count:
            counts[RejectionReason.INVALID_SIGNAL.value] += self.invalid_count
        return counts

    def status_counts(self) -> Counter[str]:
        return Counter(record.status.value for record in self._records.values())
