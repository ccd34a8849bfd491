"""Exact money arithmetic helpers.

Every amount, price, balance and fee in the bot is a `Decimal`; binary floats never carry
money (inputs are parsed from text: JSON numbers are read as Decimals, CSV cells as text).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Final

ZERO: Final = Decimal(0)


# Rounding modes are passed positionally below: keyword parsing in Decimal's C methods costs
# more than the rounding itself, and amounts are rounded on every order.


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Round down to a multiple of `step` (amounts: never trade more than asked)."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(ROUND_FLOOR) * step


def ceil_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Round up to a multiple of `step`."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(ROUND_CEILING) * step


def is_multiple_of(value: Decimal, step: Decimal) -> bool:
    """True when `value` sits exactly on the `step` grid (a step of 0 means no grid)."""
    return step <= 0 or value % step == 0


def significant(value: Decimal, digits: int = 12) -> Decimal:
    """`value` to `digits` significant digits: for showing a computed quotient (an average
    fill price), which otherwise carries the full context precision."""
    if not value:
        return value
    return round(value, digits - value.adjusted() - 1)


def format_decimal(value: Decimal) -> str:
    """Plain decimal text without exponent and without trailing zeros (`1E+1` -> `10`)."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text
