"""Log setup on loguru: console and optional file, text or JSON, secrets masked everywhere.

Every record passes through a patcher that replaces any known secret value (API keys, tokens
read from config) with `***` before any sink sees it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO

from loguru import logger

if TYPE_CHECKING:
    from loguru import Record

from trading_bot.config.models import LoggingConfig

MASK = "***"


class SecretMasker:
    """Replaces registered secret values in log messages and their extra fields."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def __call__(self, record: Record) -> None:
        if not self._secrets:
            return
        record["message"] = self.mask(record["message"])
        extra: dict[str, Any] = record["extra"]
        for key, value in extra.items():
            if isinstance(value, str):
                extra[key] = self.mask(value)
        if record["exception"] is not None:
            _, value, _ = record["exception"]
            if value is not None:
                value.args = tuple(self.mask(a) if isinstance(a, str) else a for a in value.args)


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
    logger.configure(patcher=masker)
    level = console_level or settings.level
    logger.add(
        console or sys.stderr,
        level=level,
        serialize=settings.json_format,
        backtrace=False,
        diagnose=False,
        format="<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <8}</level> | {message}",
    )
    if settings.file:
        logger.add(
            settings.file,
            level=settings.level,
            serialize=settings.json_format,
            backtrace=False,
            diagnose=False,
            rotation="50 MB",
            retention=10,
        )
    return masker
