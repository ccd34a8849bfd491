"""When the garbage collector may walk the heap while a backtest runs.

A backtest keeps every signal record, order and fill it handled alive to its end (its report
reads them) and its per-signal path makes no reference cycles (tested for the running bot in
tests/service/test_garbage.py): the collector's passes over the older generations walk an
ever larger heap and free next to nothing, while the run waits. Young passes go on, so
short-lived cycles are still freed. The running bot does not use this: its connections and
retry state die in cycles that only full passes free.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# passes of a younger generation before an older one is collected: more than any run makes
NEVER = 1_000_000_000


@contextmanager
def young_collections_only() -> Iterator[None]:
    """Only the youngest generation is collected for the duration; the thresholds are
    restored afterwards."""
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], NEVER, NEVER)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
