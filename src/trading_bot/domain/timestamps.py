"""Timestamps are integer epoch milliseconds (UTC) everywhere inside the bot."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

# Epoch ms before 2000-01-01 are almost always epoch *seconds* sent by mistake; reading them as ms
# would put the signal in 1970 and fill it on the first bar of any data set.
EARLIEST_PLAUSIBLE_MS = 946_684_800_000
# After 2100-01-01 as epoch ms is almost always microseconds or nanoseconds sent by mistake.
LATEST_PLAUSIBLE_MS = 4_102_444_800_000


def parse_epoch_ms(value: object) -> int:
    """Parse epoch milliseconds (int, integral text) or ISO-8601 text into epoch ms.

    ISO-8601 without a zone is read as UTC. Raises `ValueError` saying what was expected.
    """
    if isinstance(value, bool):
        raise ValueError("expected epoch milliseconds or an ISO-8601 time, got a boolean")
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    if isinstance(value, int | float | Decimal):
        return _check_plausible(_integral_ms(value))
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("expected epoch milliseconds or an ISO-8601 time, got an empty string")
        try:
            return _check_plausible(_integral_ms(Decimal(text)))
        except InvalidOperation:
            pass
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"expected epoch milliseconds or an ISO-8601 time, got {value!r}"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
        return _check_plausible(
            delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000
        )
    raise ValueError(f"expected epoch milliseconds or an ISO-8601 time, got {value!r}")


def _integral_ms(value: int | float | Decimal) -> int:
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite() or number != number.to_integral_value():
        raise ValueError(f"expected whole epoch milliseconds, got {value!r}")
    return int(number)


def _check_plausible(ms: int) -> int:
    if ms < EARLIEST_PLAUSIBLE_MS:
        raise ValueError(
            f"{ms} is before the year 2000 as epoch milliseconds; "
            "times must be epoch milliseconds (not seconds) or ISO-8601"
        )
    if ms >= LATEST_PLAUSIBLE_MS:
        raise ValueError(
            f"{ms} is after the year 2100 as epoch milliseconds; "
            "times must be epoch milliseconds (not micro- or nanoseconds) or ISO-8601"
        )
    return ms


def format_ms(ms: int) -> str:
    """ISO-8601 UTC text with millisecond precision, for reports and CSV."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
