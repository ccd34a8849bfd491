"""Searching a long sorted list near where the last search ended.

A backtest asks "which bar is at time t" with t moving forward a little at a time. `bisect`
answers from scratch: ~20 probes spread over a million-element list, most of them cache misses
that cost more than the rest of the lookup. Galloping from the previous answer probes a few
neighbouring elements instead. The results are exactly `bisect_left` / `bisect_right`'s.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right


def gallop_left(items: list[int], x: int, hint: int) -> int:
    """`bisect_left(items, x)`, searched forward from `hint` (any index: a hint past the answer
    only costs a full bisect)."""
    lo = hint if 0 < hint <= len(items) and items[hint - 1] < x else 0
    hi, step, n = lo, 1, len(items)
    while hi < n and items[hi] < x:  # everything before lo is < x; the answer is in [lo, hi]
        lo = hi + 1
        hi += step
        step <<= 1
    return bisect_left(items, x, lo, min(hi, n))


def gallop_right(items: list[int], x: int, hint: int) -> int:
    """`bisect_right(items, x)`, searched forward from `hint` like `gallop_left`."""
    lo = hint if 0 < hint <= len(items) and items[hint - 1] <= x else 0
    hi, step, n = lo, 1, len(items)
    while hi < n and items[hi] <= x:  # everything before lo is <= x; the answer is in [lo, hi]
        lo = hi + 1
        hi += step
        step <<= 1
    return bisect_right(items, x, lo, min(hi, n))
