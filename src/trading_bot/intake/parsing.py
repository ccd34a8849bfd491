"""The validation path every signal source shares: raw payload -> `Signal` or a reason why not.

Never raises: whatever arrives, the caller gets either a valid signal or the list of problems,
each naming the field, ready to be kept as a dead letter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from trading_bot.domain.signal import Signal

MAX_PAYLOAD_BYTES = 64 * 1024


class PayloadError(Exception):
    """A payload that cannot even be read as a JSON document; `problems` say why."""

    def __init__(self, *problems: str) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def parse_json_signal(text: str | bytes, max_bytes: int = MAX_PAYLOAD_BYTES) -> Signal | list[str]:
    """Parse one canonical JSON signal. Numbers are read as exact decimals."""
    try:
        payload = load_json(text, max_bytes)
    except PayloadError as error:
        return error.problems
    return validate_signal(payload)


def load_json(text: str | bytes, max_bytes: int = MAX_PAYLOAD_BYTES) -> Any:
    """One JSON document, size-checked first; numbers with a fraction become exact decimals.
    Raises `PayloadError`."""
    size = _byte_size(text, max_bytes)
    if size > max_bytes:
        raise PayloadError(f"payload is {size} bytes, larger than the {max_bytes}-byte limit")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise PayloadError(f"not UTF-8 text: {error.reason} at byte {error.start}") from None
    try:
        return json.loads(
            text.lstrip("\ufeff"), parse_float=Decimal, object_pairs_hook=_unique_keys
        )
    except _DuplicateKey as error:
        raise PayloadError(f"key {error} appears twice in one object") from None
    except (ValueError, RecursionError) as error:
        raise PayloadError(f"not valid JSON: {error}") from None


def _byte_size(text: str | bytes, max_bytes: int) -> int:
    """The size in UTF-8 bytes: a text of `max_bytes` characters can be four times larger. The
    character count is enough when it alone is over the limit (no need to encode it all)."""
    if isinstance(text, bytes) or len(text) > max_bytes:
        return len(text)
    return len(text.encode("utf-8", errors="surrogatepass"))


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object that names a key twice is ambiguous (which signal_id?): refused."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(repr(key))
        result[key] = value
    return result


def validate_signal(payload: object) -> Signal | list[str]:
    if not isinstance(payload, Mapping):
        return [f"expected a JSON object, got {_json_type(payload)}"]
    try:
        return Signal.model_validate(payload)
    except ValidationError as error:
        return describe_errors(error)
    except Exception as error:  # a validator bug must not escape into a source's loop
        return [f"could not validate the signal: {type(error).__name__}: {error}"]


def _json_type(value: object) -> str:
    """The JSON name of a decoded value's type, as the detector's author knows it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


def describe_errors(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors(include_url=False):
        loc = ".".join(str(part) for part in item["loc"] if not str(part).startswith("function-"))
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field (put extra data under 'metadata')"
        elif item["type"] == "missing":
            message = "required field is missing"
        elif "input" in item and loc and "got " not in message:
            message = f"{message} (got {_short(item['input'])})"
        problems.append(f"{loc}: {message}" if loc else message)
    return problems


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
