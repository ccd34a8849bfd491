"""The order state machine, written as data.

`TRANSITIONS[a]` is every state an order in state `a` may move to. Besides the happy path it
admits what real venues do: a fill that races a cancel request (PENDING_CANCEL -> FILLED), a
fill reported after the cancel was confirmed (CANCELED -> FILLED) and a cancel refused because
the order filled. Anything else is a bug and raises.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class OrderStatus(StrEnum):
    INITIALIZED = "initialized"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    TRIGGERED = "triggered"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    PENDING_CANCEL = "pending_cancel"
    PENDING_UPDATE = "pending_update"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self not in TERMINAL


S: Final = OrderStatus

TERMINAL: Final[frozenset[OrderStatus]] = frozenset({S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED})

_LIVE_EXITS: Final = {
    S.PARTIALLY_FILLED,
    S.FILLED,
    S.PENDING_CANCEL,
    S.PENDING_UPDATE,
    S.CANCELED,
    S.EXPIRED,
}

TRANSITIONS: Final[dict[OrderStatus, frozenset[OrderStatus]]] = {
    S.INITIALIZED: frozenset({S.SUBMITTED, S.REJECTED, S.CANCELED}),
    S.SUBMITTED: frozenset({S.ACCEPTED, S.REJECTED, *_LIVE_EXITS}),
    S.ACCEPTED: frozenset({S.TRIGGERED, *_LIVE_EXITS}),
    S.TRIGGERED: frozenset(_LIVE_EXITS),
    S.PARTIALLY_FILLED: frozenset(_LIVE_EXITS),
    S.PENDING_CANCEL: frozenset(
        {S.CANCELED, S.PARTIALLY_FILLED, S.FILLED, S.ACCEPTED, S.TRIGGERED, S.EXPIRED}
    ),
    S.PENDING_UPDATE: frozenset(
        {
            S.ACCEPTED,
            S.TRIGGERED,
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.CANCELED,
            S.PENDING_CANCEL,
            S.EXPIRED,
        }
    ),
    S.FILLED: frozenset(),
    # a fill reported after the cancel or expiry was confirmed completes the order
    S.CANCELED: frozenset({S.FILLED}),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset({S.FILLED}),
}


class InvalidOrderTransition(Exception):
    """An order was asked to move along an edge the state table does not have."""

    def __init__(self, client_order_id: str, current: OrderStatus, requested: OrderStatus) -> None:
        super().__init__(f"order {client_order_id}: illegal transition {current} -> {requested}")
        self.current = current
        self.requested = requested
