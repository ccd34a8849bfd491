"""Sequence numbers for pushed streams: the `{"seq": N, "signal": {...}}` envelope and the
cursor of the highest seq below which everything is recorded.

A detector that numbers its messages lets the bot say, after a drop or a restart, exactly
where to resume (`after_seq`). The cursor only covers an unbroken run: if seq 7 is recorded
before 6 (a replay interleaved with live messages), the cursor stays at 5 until 6 is in, so a
crash in between makes the detector send 6 again instead of losing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from trading_bot.intake.parsing import PayloadError, load_json

ENVELOPE_KEYS = frozenset({"seq", "signal"})
MAX_SEQ = 2**63 - 1
# Recorded seqs held above a hole before the hole is given up as never coming (bounds memory).
MAX_AHEAD = 10_000


@dataclass(frozen=True, slots=True)
class Unpacked:
    """One message, ready for the channel: `payload` to offer (the raw message when it is not
    an envelope, so a dead letter keeps what was sent), or `problems` to dead-letter it with."""

    seq: int | None
    payload: object
    problems: list[str] = field(default_factory=list)


def unpack(message: str | bytes, max_bytes: int, read_limit: int) -> Unpacked:
    """Split an envelope from its signal. `read_limit` (above `max_bytes`) lets an oversized
    envelope still be read for its seq, so it can be acknowledged and not resent forever."""
    try:
        decoded = load_json(message, read_limit)
    except PayloadError:
        return Unpacked(None, message)  # the channel says why, in the same words as elsewhere
    if not isinstance(decoded, dict) or not (ENVELOPE_KEYS & decoded.keys()):
        return Unpacked(None, message)  # a bare signal (or not a signal at all)
    problems: list[str] = []
    seq = decoded.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
        problems.append(f"seq: expected a whole number from 0 up, got {_short(seq)}")
        seq = None
    if "signal" not in decoded:
        problems.append("signal: required field of the envelope is missing")
    elif not isinstance(decoded["signal"], dict):
        problems.append("signal: expected a JSON object")
    unknown = sorted(decoded.keys() - ENVELOPE_KEYS)
    if unknown:
        problems.append(f"envelope: unknown field(s) {', '.join(map(repr, unknown))}")
    size = len(message) if isinstance(message, bytes) else len(message.encode("utf-8", "replace"))
    if size > max_bytes:
        problems.append(f"payload is {size} bytes, larger than the {max_bytes}-byte limit")
    if problems:
        return Unpacked(seq, message, problems)
    return Unpacked(seq, decoded["signal"])


def _short(value: Any) -> str:
    text = "null" if value is None else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class SeqCursor:
    """The highest seq such that every seq from the start up to it has been recorded."""

    def __init__(self, cursor: int | None) -> None:
        """`cursor`: the saved one (None: nothing recorded yet; the first seq received then
        starts the count)."""
        self.cursor = cursor
        self._ahead: set[int] = set()

    @classmethod
    def from_saved(cls, saved: str | None, name: str) -> SeqCursor:
        if saved is None:
            return cls(None)
        try:
            return cls(int(saved))
        except ValueError:
            logger.warning(
                "intake {}: saved position {!r} is not a seq; resuming from the detector's choice",
                name,
                saved[:40],
            )
            return cls(None)

    def recorded(self, seq: int) -> bool:
        """Note `seq` as recorded; True if the cursor moved."""
        if self.cursor is None:
            self.cursor = seq - 1
        if seq <= self.cursor:
            return False  # a replay of something already covered
        self._ahead.add(seq)
        before = self.cursor
        self._advance()
        if len(self._ahead) > MAX_AHEAD:
            lowest = min(self._ahead)
            logger.warning(
                "seq {} to {} never arrived while {} later ones did; moving past them",
                self.cursor + 1,
                lowest - 1,
                len(self._ahead),
            )
            self.cursor = lowest - 1
            self._advance()
        return self.cursor != before

    def _advance(self) -> None:
        assert self.cursor is not None
        while self.cursor + 1 in self._ahead:
            self.cursor += 1
            self._ahead.discard(self.cursor)
