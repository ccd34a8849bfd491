"""What a ccxt exception means for the bot, as data.

ccxt raises one exception tree for every venue. The bot needs fewer answers: the venue
refused the request (reject it, with our reason code); the request may or may not have
happened (never send an order again: look it up by client order id); the venue is throttling
or banned us (stop sending); it is down (retry what is safe to repeat). Rules are checked in
order, so subclasses come before their parents.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any

import ccxt

from trading_bot.domain.rejections import RejectionReason

R = RejectionReason


class Outcome(Enum):
    REFUSED = "refused"  # the venue answered no: the request did not happen
    NOT_FOUND = "not_found"  # the order the request names does not exist (or is closed)
    UNKNOWN = "unknown"  # no clear answer: it may have happened
    RATE_LIMITED = "rate_limited"
    BANNED = "banned"
    AUTH_FAILED = "auth_failed"


@dataclass(frozen=True, slots=True)
class VenueError:
    outcome: Outcome
    reason: RejectionReason
    detail: str

    @property
    def venue_down(self) -> bool:
        """No usable answer (unreachable, failing, throttling, banning, the breaker open),
        rather than a refusal of the request itself."""
        return (
            self.outcome in (Outcome.UNKNOWN, Outcome.RATE_LIMITED, Outcome.BANNED)
            or self.reason is RejectionReason.VENUE_UNAVAILABLE
        )

    @property
    def safe_to_retry(self) -> bool:
        """A query or cancel may be sent again after this (an order create never is)."""
        return self.outcome in (Outcome.UNKNOWN, Outcome.RATE_LIMITED)


# (exception class, outcome, reason), most specific first
RULES: tuple[tuple[type[Exception], Outcome, RejectionReason], ...] = (
    (ccxt.OrderImmediatelyFillable, Outcome.REFUSED, R.POST_ONLY_WOULD_CROSS),
    (ccxt.OrderNotFound, Outcome.NOT_FOUND, R.ORDER_NOT_FOUND),
    (ccxt.DuplicateOrderId, Outcome.REFUSED, R.DUPLICATE_ORDER),
    (ccxt.InsufficientFunds, Outcome.REFUSED, R.INSUFFICIENT_BALANCE),
    (ccxt.BadSymbol, Outcome.REFUSED, R.UNKNOWN_ASSET),
    (ccxt.InvalidOrder, Outcome.REFUSED, R.INVALID_ORDER),
    (ccxt.AuthenticationError, Outcome.AUTH_FAILED, R.VENUE_AUTH_FAILED),
    (ccxt.PermissionDenied, Outcome.AUTH_FAILED, R.VENUE_AUTH_FAILED),
    (ccxt.AccountSuspended, Outcome.AUTH_FAILED, R.VENUE_AUTH_FAILED),
    # a request outside the receive window (clock skew) is refused before it is looked at
    (ccxt.InvalidNonce, Outcome.REFUSED, R.VENUE_UNAVAILABLE),
    (ccxt.DDoSProtection, Outcome.RATE_LIMITED, R.VENUE_RATE_LIMITED),
    (ccxt.RateLimitExceeded, Outcome.RATE_LIMITED, R.VENUE_RATE_LIMITED),
    (ccxt.NetworkError, Outcome.UNKNOWN, R.VENUE_UNAVAILABLE),
    # an internal error (HTTP 5xx with a JSON body): Binance says the outcome is unknown
    (ccxt.OperationFailed, Outcome.UNKNOWN, R.VENUE_UNAVAILABLE),
    (ccxt.BadRequest, Outcome.REFUSED, R.INVALID_ORDER),
    (ccxt.ExchangeError, Outcome.REFUSED, R.INVALID_ORDER),
)

# a venue's text that names the rule an invalid order broke (Binance filter failures)
REFINED_BY_TEXT: tuple[tuple[str, RejectionReason], ...] = (
    ("NOTIONAL", R.BELOW_MIN_NOTIONAL),
    ("LOT_SIZE", R.INVALID_AMOUNT_PRECISION),
    ("PRICE_FILTER", R.INVALID_PRICE_PRECISION),
    ("insufficient balance", R.INSUFFICIENT_BALANCE),
    ("Duplicate order", R.DUPLICATE_ORDER),
)

# an HTTP 418 is a ban (Binance: "IP banned until ..."), a 429 a warning before one
_BANNED = re.compile(r"(?:^|\s)418(?:\s|$)")
_BANNED_UNTIL = re.compile(r"banned until (\d{13})")
# a longer Retry-After is read as this: a bogus header must not stop the bot for years
RETRY_AFTER_MAX_MS = 24 * 3_600_000
_URL_QUERY = re.compile(r"(\b[a-z]+://[^\s?]+)\?\S*", re.IGNORECASE)
# `user:password@` of a URL (a proxy's, or a venue URL given with credentials)
_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^\s/?#@]+@", re.IGNORECASE)


def classify(error: Exception, secrets: frozenset[str] = frozenset()) -> VenueError:
    """Our reading of `error`; the detail is safe to log (no query strings, no secrets)."""
    detail = describe(error, secrets)
    for kind, outcome, reason in RULES:
        if isinstance(error, kind):
            if outcome is Outcome.RATE_LIMITED and _BANNED.search(str(error)):
                return VenueError(Outcome.BANNED, R.VENUE_BANNED, detail)
            if outcome is Outcome.REFUSED and reason in (R.INVALID_ORDER,):
                reason = _refined(str(error)) or reason
            return VenueError(outcome, reason, detail)
    return VenueError(Outcome.UNKNOWN, R.VENUE_UNAVAILABLE, detail)


def banned_until_ms(error: Exception) -> int | None:
    """When a ban ends, if the venue said (Binance puts it in the message)."""
    found = _BANNED_UNTIL.search(str(error))
    return int(found.group(1)) if found else None


def failed_response_headers(exchange: Any, error: Exception) -> Mapping[str, str] | None:
    """The headers of the HTTP response `error` was raised for, or None if that is not sure.

    ccxt keeps the latest response's headers and body (`last_response_headers`,
    `last_http_response`, set in `fetch` just before `handle_errors` raises), so read them as
    soon as the error is caught. Another request on the same client may have answered in
    between: they are trusted only if that body is in the error's text (ccxt puts it there
    for a 429 / 418 and the venue's error codes)."""
    body = getattr(exchange, "last_http_response", None)
    headers = getattr(exchange, "last_response_headers", None)
    if isinstance(body, str) and body and body in str(error) and isinstance(headers, Mapping):
        return headers
    return None


def retry_after_ms(headers: Mapping[str, str] | None, now_ms: int) -> int | None:
    """How long the venue's `Retry-After` header asks to wait (seconds, or an HTTP date),
    at most `RETRY_AFTER_MAX_MS`; None without one, when it cannot be read, or when it asks
    for no wait at all."""
    value = next((v for k, v in (headers or {}).items() if k.lower() == "retry-after"), None)
    if not isinstance(value, str):
        return None
    value = value.strip()
    try:
        if value.isascii() and value.isdigit():
            wait_ms = int(value) * 1000
        else:
            when = parsedate_to_datetime(value)
            if when.tzinfo is None:  # "-0000": UTC, as HTTP dates are
                when = when.replace(tzinfo=UTC)
            wait_ms = int(when.timestamp() * 1000) - now_ms
    except (TypeError, ValueError, OverflowError):  # not a number or a date
        return None
    return min(wait_ms, RETRY_AFTER_MAX_MS) if wait_ms > 0 else None


def describe(error: Exception, secrets: frozenset[str] = frozenset()) -> str:
    """The exception as one line for logs and rejection details: the class name and the
    venue's text, with query strings (signatures, timestamps, keys some venues put there), a
    URL's user and password and any secret value removed."""
    text = _URL_QUERY.sub(r"\1?…", str(error))
    text = _URL_USERINFO.sub(r"\1***@", text).replace("\n", " ").strip()
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    if len(text) > 300:
        text = text[:300] + "…"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _refined(text: str) -> RejectionReason | None:
    for needle, reason in REFINED_BY_TEXT:
        if needle.lower() in text.lower():
            return reason
    return None
