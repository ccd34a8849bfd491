"""Following a JSONL signal file as a detector appends to it.

Only complete lines (ending in a newline) are read, so a line the detector is still writing is
never parsed half-way. The position is a byte offset plus the line number, saved in the store
with the signals read up to it: a restarted bot continues exactly after the last signal it
recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

MAX_LINES_PER_READ = 2_000


@dataclass(frozen=True, slots=True)
class TailLine:
    text: str
    location: str


class SignalFileTail:
    def __init__(self, path: str | Path, position: str | None = None) -> None:
        self.path = Path(path)
        saved = json.loads(position) if position else {}
        self.offset: int = int(saved.get("offset", 0))
        self.line: int = int(saved.get("line", 0))

    @property
    def position(self) -> str:
        return json.dumps({"offset": self.offset, "line": self.line})

    def read(self) -> list[TailLine]:
        """The complete lines appended since the last read (at most MAX_LINES_PER_READ)."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.offset:
            logger.warning(
                "{} shrank below the read position: it was replaced; reading it from the start "
                "(signals already received count as duplicates)",
                self.path,
            )
            self.offset, self.line = 0, 0
        if size == self.offset:
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read(min(size - self.offset, 8 * 1024 * 1024))
        lines: list[TailLine] = []
        start = 0
        while len(lines) < MAX_LINES_PER_READ:
            end = chunk.find(b"\n", start)
            if end < 0:
                break
            self.line += 1
            raw = chunk[start:end].rstrip(b"\r")
            start = end + 1
            if raw.strip():
                text = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
                lines.append(TailLine(text, f"{self.path}:{self.line}"))
        self.offset += start
        return lines
