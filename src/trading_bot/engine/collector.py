"""When the garbage collector may walk the heap while the bot runs.

A run keeps every signal record, order and fill it handled alive to its end (reports and the
status API read them), and its per-signal path makes no reference cycles (tested: what a
signal leaves behind is freed by reference counting alone). The collector's passes over the
old generation therefore walk an ever larger heap and free next to nothing, while the event
loop waits: a paper bot at 1,000 signals/s stalled 30-50 ms on one of them within ten seconds,
and each pass costs more the longer the bot runs. Young passes go on, so short-lived cycles
(a dropped connection's objects, an exception's traceback) are still freed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# passes of a younger generation before an older one is collected: more than any run makes
NEVER = 1_000_000_000


def collect_young_only(*, middle: bool) -> tuple[int, int, int]:
    """Leave the old generation (and unless `middle`, the middle one too) uncollected from
    now on; returns the thresholds to restore with `gc.set_threshold`."""
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], thresholds[1] if middle else NEVER, NEVER)
    return thresholds


@contextmanager
def young_collections_only() -> Iterator[None]:
    """Only the youngest generation is collected for the duration (a backtest: nothing it
    builds dies before its end); the thresholds are restored afterwards."""
    thresholds = collect_young_only(middle=False)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
