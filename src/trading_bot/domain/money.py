"""Exact money arithmetic helpers.

Every amount, price, balance and fee in the bot is a `Decimal`. Binary floats never carry money:
`to_decimal` turns a float into the Decimal of its shortest text form (`0.1` -> `0.1`), never
into its binary expansion.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation

ZERO = Decimal(0)
ONE = Decimal(1)


def to_decimal(value: object) -> Decimal:
    """Convert text or an integer to a finite Decimal.

    Floats go through their shortest repr so `0.1` becomes `Decimal("0.1")`, never the binary
    expansion. Anything else raises `ValueError` with the offending value.
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise ValueError(f"expected a number, got a boolean {value!r}")
    elif isinstance(value, int | str):
        try:
            result = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            raise ValueError(f"expected a number, got {value!r}") from None
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        raise ValueError(f"expected a number, got {type(value).__name__} {value!r}")
    if not result.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    return result


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Round down to a multiple of `step` (amounts: never trade more than asked)."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def ceil_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Round up to a multiple of `step`."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


def is_multiple_of(value: Decimal, step: Decimal) -> bool:
    """True when `value` sits exactly on the `step` grid (a step of 0 means no grid)."""
    return step <= 0 or value % step == 0


def format_decimal(value: Decimal) -> str:
    """Plain decimal text without exponent and without trailing zeros (`1E+1` -> `10`)."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text
