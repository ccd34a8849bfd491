"""Log setup on loguru: console and optional rotated file, text or JSON, secrets masked.

Masking happens on the final formatted text of every record, tracebacks and JSON included,
so a secret read from config (API key, token, webhook URL) cannot reach a log however it got
into a message.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TextIO

from loguru import logger

from trading_bot.config.models import LoggingConfig

MASK = "***"
ROTATE_BYTES = 50 * 1024 * 1024
KEEP_FILES = 10


class SecretMasker:
    """Replaces registered secret values in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is masked whole. Very short values
        # would mask ordinary words, so they are not treated as secrets.
        kept = {s for s in secrets if len(s) >= 4}
        # JSON logs write a secret with `"` or `\` in it escaped: that form is masked too
        escaped = {json.dumps(s, ensure_ascii=ascii)[1:-1] for s in kept for ascii in (False, True)}
        self._secrets = sorted(kept | escaped, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


class _MaskedStream:
    def __init__(self, stream: TextIO, masker: SecretMasker) -> None:
        self._stream = stream
        self._masker = masker

    def __call__(self, message: str) -> None:
        self._stream.write(self._masker.mask(str(message)))
        self._stream.flush()


class _MaskedRotatingFile:
    """A file sink that masks, then writes through the standard library's rotating handler."""

    def __init__(self, path: str, masker: SecretMasker) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._handler = RotatingFileHandler(
            path, maxBytes=ROTATE_BYTES, backupCount=KEEP_FILES, encoding="utf-8"
        )
        self._handler.terminator = ""
        self._masker = masker

    def __call__(self, message: str) -> None:
        text = self._masker.mask(str(message))
        self._handler.emit(logging.makeLogRecord({"msg": text, "args": None}))


def configure_logging(
    settings: LoggingConfig,
    *,
    secrets: Iterable[str] = (),
    console: TextIO | None = None,
    console_level: str | None = None,
) -> SecretMasker:
    """(Re)configure loguru for the bot. Returns the masker so callers can mask their own text."""
    masker = SecretMasker(secrets)
    logger.remove()
    text_format = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {message}"
    logger.add(
        _MaskedStream(console or sys.stderr, masker),
        level=console_level or settings.level,
        serialize=settings.json_format,
        format=text_format,
        backtrace=False,
        diagnose=False,  # diagnose would print local variables, secrets included
    )
    if settings.file:
        logger.add(
            _MaskedRotatingFile(settings.file, masker),
            level=settings.level,
            serialize=settings.json_format,
            format=text_format,
            backtrace=False,
            diagnose=False,
        )
    _take_library_logs()
    return masker


class _LibraryLogs(logging.Handler):
    """Hands what libraries log through the standard `logging` module (aiormq, aiokafka,
    uvicorn...) to loguru, so it reaches the same sinks, formatted, masked and as JSON when
    asked. One line per record: a library's traceback for a condition the bot already handles
    (a broker dropping the connection) is cut to its exception's type and message."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a library's bad format string must not break logging
            message = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            message = f"{message} ({type(error).__name__}: {error})"
        level = record.levelname if record.levelname in _LEVELS else record.levelno
        logger.opt(depth=0).log(level, "{}: {}", record.name, message)


_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


def _take_library_logs() -> None:
    root = logging.getLogger()
    kept = [handler for handler in root.handlers if not isinstance(handler, _LibraryLogs)]
    root.handlers = [*kept, _LibraryLogs()]
    root.setLevel(logging.WARNING)  # libraries' own info and debug chatter stays out
