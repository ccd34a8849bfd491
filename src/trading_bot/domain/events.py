"""Events: facts that happened, named in the past tense. The bus carries these.

Nothing assigns to an event's fields. They are not frozen dataclasses only because building a
frozen one costs about five times as much and order events are built per order; they hash by
value as frozen ones would.
"""

from __future__ import annotations

from dataclasses import dataclass

from trading_bot.domain.fill import Fill
from trading_bot.domain.order import Order
from trading_bot.domain.rejections import RejectionReason
from trading_bot.domain.signal import Signal


@dataclass(slots=True, unsafe_hash=True)
class SignalReceived:
    signal: Signal
    ts_ms: int


@dataclass(slots=True, unsafe_hash=True)
class SignalRejected:
    """A signal that will not be executed (including duplicates and invalid payloads)."""

    signal_id: str
    source: str
    reason: RejectionReason
    detail: str
    ts_ms: int


@dataclass(slots=True, unsafe_hash=True)
class OrderSubmitted:
    order: Order
    ts_ms: int


@dataclass(slots=True, unsafe_hash=True)
class OrderAccepted:
    order: Order
    ts_ms: int


@dataclass(slots=True, unsafe_hash=True)
class OrderRejected:
    order: Order
    reason: RejectionReason
    detail: str
    ts_ms: int


@dataclass(slots=True, unsafe_hash=True)
class OrderFilled:
    order: Order
    fill: Fill


@dataclass(slots=True, unsafe_hash=True)
class OrderCanceled:
    order: Order
    detail: str
    ts_ms: int


@dataclass(slots=True, unsafe_hash=True)
class OrderExpired:
    """Ended by the venue: GTD expiry, an IOC/FOK remainder, a market order out of liquidity."""

    order: Order
    reason: RejectionReason
    detail: str
    ts_ms: int


@dataclass(slots=True, unsafe_hash=True)
class OrderTriggered:
    order: Order
    ts_ms: int


@dataclass(slots=True, unsafe_hash=True)
class OrderModified:
    order: Order
    ts_ms: int


@dataclass(slots=True, unsafe_hash=True)
class OrderRequestRefused:
    """The venue refused a cancel or modify request; the order stays as it was."""

    order: Order
    request: str
    reason: RejectionReason
    detail: str
    ts_ms: int
