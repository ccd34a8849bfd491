"""What the network sources share: header values kept secret, a URL that is safe to log, and
an outage told once instead of once per retry.

A detector's auth token usually travels in a header or in the URL's query. Neither may reach a
log line, an error message or the store: the config marks header values as secrets (masked by
the log filter), and these helpers keep a source's own messages free of them even when an HTTP
or WebSocket library puts them in an exception's text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Annotated, TypeVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from loguru import logger
from pydantic import AfterValidator, SecretStr

from trading_bot.monitoring.logging import SecretMasker

_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def check_headers(headers: dict[str, SecretStr]) -> dict[str, SecretStr]:
    """Header names must be HTTP tokens and values one line: an HTTP library refuses them later
    with an error that may quote the value. The message names the header, never its value."""
    for name, value in headers.items():
        if not name or not set(name) <= _TOKEN_CHARS:
            raise ValueError(f"header name {name!r} is not a valid HTTP header name")
        text = value.get_secret_value()
        if any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in text):
            raise ValueError(f"the value of header {name!r} contains a line break or control code")
    return headers


# A source's `headers` param: values are secrets (never shown by repr, config errors or logs).
SecretHeaders = Annotated[dict[str, SecretStr], AfterValidator(check_headers)]


def check_url(value: str, schemes: tuple[str, ...]) -> str:
    """`value` if it is a URL with one of `schemes`, a host and a valid port (or none). The
    error says what is wrong without quoting the URL, which may hold a password: a bad port
    found only when the library connects was a traceback at start instead of a config error."""
    parts = urlsplit(value)
    names = [f"{scheme}://" for scheme in schemes]
    expected = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    if parts.scheme not in schemes:
        raise ValueError(f"expected a URL starting with {expected}")
    if not parts.hostname and parts.scheme != "unix":
        raise ValueError(f"expected a URL starting with {expected} and naming a host")
    try:
        parts.port  # noqa: B018  (a bad port only raises when read)
    except ValueError:
        raise ValueError("the URL's port is not a number from 0 to 65535") from None
    return value


def plain_headers(headers: Mapping[str, SecretStr]) -> dict[str, str]:
    return {name: value.get_secret_value() for name, value in headers.items()}


def safe_url(url: str) -> str:
    """The URL without user, password, query or fragment, any of which may hold a token."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port is not None else host
    hidden = "?…" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")) + hidden


def source_masker(url: str, headers: Mapping[str, SecretStr]) -> SecretMasker:
    """Masks a source's secrets in text it did not write itself (a library's exception)."""
    parts = urlsplit(url)
    secrets = [value.get_secret_value() for value in headers.values()]
    secrets += [value for _, value in parse_qsl(parts.query)]
    secrets += [part for part in (parts.username, parts.password) if part]
    return SecretMasker(secrets)


T = TypeVar("T")


async def unless_stopping(work: Awaitable[T], stopping: asyncio.Event) -> T | None:
    """The result of `work`, or None as soon as `stopping` is set (`work` is then cancelled):
    a stop is not held up by a connect or a request that nothing depends on yet."""
    task = asyncio.ensure_future(work)
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if not task.done():
        task.cancel()
        await asyncio.wait({task})
        if task.cancelled():
            return None
    return task.result()  # done, possibly just before the stop: the caller sees `stopping`


class OutageLog:
    """Tells an outage once when it starts and once when it ends; the retries in between are
    debug lines, so a detector down for a night does not fill the log."""

    def __init__(self, name: str, what: str) -> None:
        self.name = name
        self.what = what
        self.failures = 0

    def failed(self, reason: str) -> None:
        self.failures += 1
        if self.failures == 1:
            logger.warning(
                "intake {}: {} failed: {}; retrying with backoff", self.name, self.what, reason
            )
        else:
            logger.debug(
                "intake {}: {} failed again ({}): {}", self.name, self.what, self.failures, reason
            )

    def recovered(self) -> None:
        if self.failures:
            logger.info(
                "intake {}: {} works again after {} failed attempt(s)",
                self.name,
                self.what,
                self.failures,
            )
        self.failures = 0
