"""Following a JSONL signal file as a detector appends to it.

Only complete lines (ending in a newline) are read, so a line the detector is still writing is
never parsed half-way. The position is a byte offset plus the line number, saved in the store
with the signals read up to it: a restarted bot continues exactly after the last signal it
recorded. With it go the file's identity (device and inode) and a fingerprint of the bytes
just before the offset, so a file that was replaced, rotated or rewritten is noticed and read
from its start (signals already received then count as duplicates) instead of being read from
the middle of some other line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

MAX_LINES_PER_READ = 2_000
MAX_LINE_BYTES = 1024 * 1024
READ_BYTES = 8 * 1024 * 1024
FINGERPRINT_BYTES = 64


@dataclass(frozen=True, slots=True)
class TailLine:
    text: str
    location: str
    problem: str | None = None  # set when the line cannot be a signal at all


class SignalFileTail:
    def __init__(self, path: str | Path, position: str | None = None) -> None:
        self.path = Path(path)
        saved = json.loads(position) if position else {}
        self.offset: int = int(saved.get("offset", 0))
        self.line: int = int(saved.get("line", 0))
        self._identity: list[int] | None = saved.get("file")
        self._fingerprint: str = saved.get("tail", "")
        self._checked = False

    @property
    def position(self) -> str:
        return json.dumps(
            {
                "offset": self.offset,
                "line": self.line,
                "file": self._identity,
                "tail": self._fingerprint,
            }
        )

    def read(self) -> list[TailLine]:
        """The complete lines appended since the last read (at most MAX_LINES_PER_READ)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return []
        identity = [stat.st_dev, stat.st_ino]
        with self.path.open("rb") as handle:
            self._check_same_file(handle, identity, stat.st_size)
            if stat.st_size == self.offset:
                return []
            handle.seek(self.offset)
            chunk = handle.read(min(stat.st_size - self.offset, READ_BYTES))
            lines = self._lines(handle, chunk)
            if self.offset:
                handle.seek(max(0, self.offset - FINGERPRINT_BYTES))
                self._fingerprint = handle.read(min(self.offset, FINGERPRINT_BYTES)).hex()
        return lines

    def _check_same_file(self, handle: object, identity: list[int], size: int) -> None:
        reason = None
        if self._identity is not None and self._identity != identity:
            reason = "was replaced (another file now has its name)"
        elif size < self.offset:
            reason = "shrank below the read position"
        elif self.offset and not self._checked and self._fingerprint:
            handle.seek(max(0, self.offset - FINGERPRINT_BYTES))  # type: ignore[attr-defined]
            before = handle.read(min(self.offset, FINGERPRINT_BYTES))  # type: ignore[attr-defined]
            if before.hex() != self._fingerprint:
                reason = "was rewritten before the read position"
        self._identity = identity
        self._checked = True
        if reason is not None:
            logger.warning(
                "{} {}: reading it from the start (signals already received count as duplicates)",
                self.path,
                reason,
            )
            self.offset, self.line, self._fingerprint = 0, 0, ""

    def _lines(self, handle: object, chunk: bytes) -> list[TailLine]:
        lines: list[TailLine] = []
        start = 0
        while len(lines) < MAX_LINES_PER_READ:
            end = chunk.find(b"\n", start)
            if end < 0:
                if len(chunk) - start >= MAX_LINE_BYTES:
                    skipped = self._skip_long_line(handle, start)
                    if skipped is not None:
                        lines.append(skipped)
                    start = -1  # `_skip_long_line` set the offset
                break
            self.line += 1
            raw = chunk[start:end].rstrip(b"\r")
            start = end + 1
            if len(raw) > MAX_LINE_BYTES:
                lines.append(self._too_long(len(raw)))
            elif raw.strip():
                lines.append(self._decoded(raw))
        if start >= 0:
            self.offset += start
        return lines

    def _decoded(self, raw: bytes) -> TailLine:
        location = f"{self.path}:{self.line}"
        try:
            return TailLine(raw.decode("utf-8").lstrip("\ufeff"), location)
        except UnicodeDecodeError as error:
            text = raw.decode("utf-8", errors="replace")
            return TailLine(text, location, f"not UTF-8 text: {error.reason} at byte {error.start}")

    def _too_long(self, size: int) -> TailLine:
        return TailLine(
            "", f"{self.path}:{self.line}", f"line of {size} bytes, over the {MAX_LINE_BYTES} limit"
        )

    def _skip_long_line(self, handle: object, start: int) -> TailLine | None:
        """A line with no newline within MAX_LINE_BYTES: once its end is written, skip it and
        keep it as a dead letter, so it never blocks the lines after it."""
        position = self.offset + start
        size = 0
        handle.seek(position)  # type: ignore[attr-defined]
        while block := handle.read(READ_BYTES):  # type: ignore[attr-defined]
            newline = block.find(b"\n")
            if newline >= 0:
                self.line += 1
                self.offset = position + size + newline + 1
                return self._too_long(size + newline)
            size += len(block)
        self.offset = position  # its end is not written yet: look again later
        return None
