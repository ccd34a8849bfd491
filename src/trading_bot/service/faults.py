"""Deliberate crashes for the crash-safety tests, chosen by an environment variable.

`TRADING_BOT_FAULT=<point>:<n>` makes the process kill itself with SIGKILL the n-th time it
reaches `<point>`, so a test can hit a precise window (an intent committed but not yet sent,
a venue fill committed but not yet recorded by the bot) that random kills would rarely hit.
Unset (always, outside tests) it costs one comparison.
"""

from __future__ import annotations

import os
import signal

POINTS = ("after_intent_commit", "after_venue_commit")


class FaultPlan:
    def __init__(self, spec: str | None) -> None:
        self._point = ""
        self._remaining = 0
        if spec:
            point, _, count = spec.partition(":")
            if point not in POINTS or not count.isdigit() or int(count) < 1:
                raise ValueError(
                    f"TRADING_BOT_FAULT={spec!r}: expected <point>:<n> with point one of "
                    f"{', '.join(POINTS)} and n >= 1"
                )
            self._point, self._remaining = point, int(count)

    @classmethod
    def from_environment(cls) -> FaultPlan:
        return cls(os.environ.get("TRADING_BOT_FAULT"))

    def reached(self, point: str) -> None:
        if point != self._point:
            return
        self._remaining -= 1
        if self._remaining == 0:
            os.kill(os.getpid(), signal.SIGKILL)
