"""A payload as the text a dead letter keeps: whatever the payload was, masked, cut to a
bounded size, and always writable to the store."""

from __future__ import annotations

import json
from collections.abc import Callable

from trading_bot.domain.signal import Signal

KEPT_RAW_BYTES = 64 * 1024  # a dead letter keeps at most this much of an oversized payload


def raw_text(payload: object, mask: Callable[[str], str]) -> str:
    """The payload as text to keep in a dead letter, secrets masked before it is cut (a cut
    through a secret would keep its first half). Total: a source may hand over any decoded
    JSON value (a list, a number, null), and a dead letter must never fail to be written."""
    if isinstance(payload, bytes):
        text = payload.decode("utf-8", errors="replace")
    elif isinstance(payload, str):
        text = payload
    elif isinstance(payload, Signal):
        text = payload.model_dump_json()
    else:
        try:
            text = json.dumps(payload, default=str, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError):
            try:
                text = repr(payload)
            except Exception:  # too deep even to print
                text = f"<{type(payload).__name__} that cannot be printed>"
    text = mask(text)
    return storable(text[:KEPT_RAW_BYTES]) + _cut_note(len(text))


def storable(text: str) -> str:
    """Lone surrogates (a JSON `\\ud800` escape) cannot be encoded as UTF-8 and PostgreSQL text
    cannot hold NUL, so the store would refuse the row and hold back every later write: keep
    them as visible escapes instead."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return text


def _cut_note(size: int) -> str:
    cut = size - KEPT_RAW_BYTES
    return f" [... {cut} more characters not kept]" if cut > 0 else ""
