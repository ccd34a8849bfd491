"""Reading one page of a polled detector API: a JSON array of signals, or an object
`{"signals": [...], "cursor": "..."}` (`next` is accepted for `cursor`).

A page is taken apart leniently so that one bad signal costs only itself: an object that names
a key twice (refused everywhere else, as ambiguous) is marked instead of failing the whole
page, and dead-lettered on its own while the rest of the page is still taken.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

MAX_CURSOR_CHARS = 1024


class PageError(Exception):
    """The response is not a page at all; the message says why (no secrets in it)."""


@dataclass(frozen=True, slots=True)
class Page:
    items: list[object]
    cursor: str | None  # the page's own cursor; None: take the last signal's signal_id


class _TwiceNamed(dict[str, Any]):
    """An object in which a key appeared twice (`key` is the first such key)."""

    def __init__(self, pairs: dict[str, Any], key: str) -> None:
        super().__init__(pairs)
        self.key = key


def _marking_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    twice: str | None = None
    for key, value in pairs:
        if key in result and twice is None:
            twice = key
        result[key] = value
    return result if twice is None else _TwiceNamed(result, twice)


def read_page(body: bytes) -> Page:
    """Raises `PageError`."""
    try:
        text = body.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as error:
        raise PageError(
            f"response is not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    if not text.strip():
        return Page([], None)  # an empty body: nothing new
    try:
        decoded = json.loads(text, parse_float=Decimal, object_pairs_hook=_marking_pairs)
    except (ValueError, RecursionError) as error:
        raise PageError(f"response is not JSON: {str(error)[:120]}") from None
    if isinstance(decoded, list):
        return Page(decoded, None)
    if isinstance(decoded, _TwiceNamed):
        raise PageError(f"the page object names key {decoded.key!r} twice")
    if isinstance(decoded, dict) and isinstance(decoded.get("signals"), list):
        cursor = decoded.get("cursor")
        if cursor is None:
            cursor = decoded.get("next")
        if cursor is not None and (isinstance(cursor, bool) or not isinstance(cursor, str | int)):
            raise PageError(f"the page's cursor must be a string, got {type(cursor).__name__}")
        if cursor is None or cursor == "":
            return Page(decoded["signals"], None)
        if not storable_cursor(str(cursor)):
            raise PageError(
                f"the page's cursor cannot be saved (longer than {MAX_CURSOR_CHARS} characters, "
                "a NUL or not valid Unicode)"
            )
        return Page(decoded["signals"], str(cursor))
    raise PageError("expected a JSON array of signals or an object with a 'signals' array")


def twice_named(item: object) -> str | None:
    """The problem with an item that has (at any depth) an object naming a key twice."""
    stack = [item]
    while stack:
        value = stack.pop()
        if isinstance(value, _TwiceNamed):
            return f"key {value.key!r} appears twice in one object"
        if isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return None


def item_id(item: object) -> str | None:
    """The item's signal_id, if it has a usable one (the array form's cursor); an object that
    names a key twice has none (which signal_id would it be?)."""
    if isinstance(item, Mapping) and not isinstance(item, _TwiceNamed):
        signal_id = item.get("signal_id")
        if isinstance(signal_id, str) and signal_id.strip() and storable_cursor(signal_id):
            return signal_id  # as the detector wrote it: it is the detector's position
    return None


def storable_cursor(text: str) -> bool:
    """A cursor is saved in the store: one it cannot hold would hold back every later write."""
    if len(text) > MAX_CURSOR_CHARS or "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def item_text(item: object) -> str:
    """The item as text for a dead letter."""
    try:
        return json.dumps(item, default=str, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return f"<{type(item).__name__} that cannot be printed>"
