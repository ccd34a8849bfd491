"""Rejection reason codes: one stable vocabulary shared by the summary, logs, metrics and store.

The codes are data: a user sees them in reports and may alert on them, so a code is never
renamed; new codes are added with their explanation in `REASON_TEXT`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class RejectionReason(StrEnum):
    INVALID_SIGNAL = "invalid_signal"
    DUPLICATE = "duplicate"
    EXPIRED = "expired"
    CREATED_IN_FUTURE = "created_in_future"
    LOW_CONFIDENCE = "low_confidence"
    UNKNOWN_ASSET = "unknown_asset"
    NO_MARKET_DATA = "no_market_data"
    UNSUPPORTED_ORDER_TYPE = "unsupported_order_type"
    NOTHING_TO_DO = "nothing_to_do"
    POSITION_LIMIT = "position_limit"
    MAX_POSITIONS = "max_positions"
    DRAWDOWN_LIMIT = "drawdown_limit"
    MAX_ORDER_NOTIONAL = "max_order_notional"
    MAX_EXPOSURE = "max_exposure"
    PRICE_BAND = "price_band"
    ORDER_RATE_LIMIT = "order_rate_limit"
    LOSS_COOLDOWN = "loss_cooldown"
    CORRELATION_LIMIT = "correlation_limit"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    BELOW_MIN_AMOUNT = "below_min_amount"
    BELOW_MIN_NOTIONAL = "below_min_notional"
    INVALID_AMOUNT_PRECISION = "invalid_amount_precision"
    INVALID_PRICE_PRECISION = "invalid_price_precision"
    POST_ONLY_WOULD_CROSS = "post_only_would_cross"
    WOULD_NOT_FILL = "would_not_fill"
    NO_LIQUIDITY = "no_liquidity"
    ORDER_NOT_FOUND = "order_not_found"
    DUPLICATE_ORDER = "duplicate_order"
    TIMED_OUT = "timed_out"
    INVALID_ORDER = "invalid_order"
    UNFILLED = "unfilled"
    INTERNAL_ERROR = "internal_error"
    SHORT_NOT_POSSIBLE = "short_not_possible"
    NOT_CONFIRMED = "not_confirmed"
    INSUFFICIENT_DATA = "insufficient_data"
    BUFFER_FULL = "buffer_full"
    TRADING_REDUCING = "trading_reducing"
    TRADING_HALTED = "trading_halted"
    INVALID_PROTECTION = "invalid_protection"
    VENUE_UNAVAILABLE = "venue_unavailable"
    VENUE_RATE_LIMITED = "venue_rate_limited"
    VENUE_BANNED = "venue_banned"
    VENUE_AUTH_FAILED = "venue_auth_failed"


REASON_TEXT: Final[dict[RejectionReason, str]] = {
    RejectionReason.INVALID_SIGNAL: "the signal does not match the signal contract",
    RejectionReason.DUPLICATE: "a signal with this source and signal_id was already received",
    RejectionReason.EXPIRED: "the signal expired before it could be executed",
    RejectionReason.CREATED_IN_FUTURE: "created_at is ahead of the bot's clock by more than a minute",
    RejectionReason.LOW_CONFIDENCE: "confidence is below the strategy's min_confidence",
    RejectionReason.UNKNOWN_ASSET: "the venue has no market for this asset",
    RejectionReason.NO_MARKET_DATA: "no price is available to size or fill the order",
    RejectionReason.UNSUPPORTED_ORDER_TYPE: "the execution algorithm cannot place this order type",
    RejectionReason.NOTHING_TO_DO: "the target position is already held",
    RejectionReason.POSITION_LIMIT: "the order would push the position past max_position_size",
    RejectionReason.MAX_POSITIONS: "opening it would exceed max_positions open positions",
    RejectionReason.DRAWDOWN_LIMIT: "equity is max_drawdown_pct or more below its recent peak",
    RejectionReason.MAX_ORDER_NOTIONAL: "the order's value is above max_order_notional",
    RejectionReason.MAX_EXPOSURE: "the order would take exposure past max_total_exposure",
    RejectionReason.PRICE_BAND: "the limit price is too far from the last price",
    RejectionReason.ORDER_RATE_LIMIT: "max_orders_per_minute were sent in the last minute",
    RejectionReason.LOSS_COOLDOWN: "new exposure paused after consecutive losing round trips",
    RejectionReason.CORRELATION_LIMIT: "a correlated position in the same direction is held",
    RejectionReason.INSUFFICIENT_BALANCE: "the account cannot pay for the order and its fee",
    RejectionReason.BELOW_MIN_AMOUNT: "the amount is below the market's minimum order amount",
    RejectionReason.BELOW_MIN_NOTIONAL: "the order value is below the market's minimum notional",
    RejectionReason.INVALID_AMOUNT_PRECISION: "the amount is not a multiple of the amount step",
    RejectionReason.INVALID_PRICE_PRECISION: "the price is not a multiple of the price step",
    RejectionReason.POST_ONLY_WOULD_CROSS: "a post-only order would have matched at once",
    RejectionReason.WOULD_NOT_FILL: "an IOC/FOK order found nothing (or, FOK, not enough) to fill",
    RejectionReason.NO_LIQUIDITY: "the order book had no liquidity left for the order",
    RejectionReason.ORDER_NOT_FOUND: "the venue has no open order with that id",
    RejectionReason.DUPLICATE_ORDER: "the venue already had an order with this client order id",
    RejectionReason.TIMED_OUT: "the order was still unfilled when its timeout ran out",
    RejectionReason.INVALID_ORDER: "the order's fields do not make a valid order",
    RejectionReason.UNFILLED: "the order was still open when the run ended",
    RejectionReason.INTERNAL_ERROR: "the bot failed while handling the signal (see the log)",
    RejectionReason.SHORT_NOT_POSSIBLE: "a short needs base the spot account does not hold",
    RejectionReason.NOT_CONFIRMED: "the strategy's own analysis did not confirm the signal in time",
    RejectionReason.INSUFFICIENT_DATA: "too little market data for the strategy's own analysis",
    RejectionReason.BUFFER_FULL: "pushed out of the full confirmation buffer by a newer signal",
    RejectionReason.TRADING_REDUCING: "trading is REDUCING: only the part that shrinks a position passes",
    RejectionReason.TRADING_HALTED: "trading is HALTED by the kill switch: nothing new is placed",
    RejectionReason.INVALID_PROTECTION: "the bracket's stop-loss or take-profit is missing or "
    "on the wrong side of the entry price",
    RejectionReason.VENUE_UNAVAILABLE: "the venue could not be reached, or the circuit breaker "
    "in front of it is open: the order was not placed",
    RejectionReason.VENUE_RATE_LIMITED: "the venue answered 429 (too many requests): sending is "
    "paused while it backs off",
    RejectionReason.VENUE_BANNED: "the venue banned this IP or key (HTTP 418): nothing is sent "
    "until the ban ends",
    RejectionReason.VENUE_AUTH_FAILED: "the venue refused the API key or its permissions",
}


class Rejection:
    """Why something was not done: a stable code plus a human detail for this case."""

    __slots__ = ("detail", "reason")

    def __init__(self, reason: RejectionReason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail or REASON_TEXT[reason]

    def __repr__(self) -> str:
        return f"Rejection({self.reason.value!r}, {self.detail!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rejection) and (self.reason, self.detail) == (
            other.reason,
            other.detail,
        )

    def __hash__(self) -> int:
        return hash((self.reason, self.detail))
