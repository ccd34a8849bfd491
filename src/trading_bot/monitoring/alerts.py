"""Alerts to people: what needs a human now (a venue ban, an open circuit breaker, a halt).

Every alert is logged; with `monitoring.alerts.enabled` it also goes to the channels listed,
through apprise (Slack and Discord webhook URLs as the guide writes them, or any apprise URL:
`tgram://`, `mailto://`, `json://`...). Sending happens off the event loop and a channel that
fails is logged, never raised: an alert must not stop trading work.
"""

from __future__ import annotations

import asyncio
import logging
from enum import StrEnum
from typing import ClassVar

import apprise
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

# apprise logs the URLs it cannot parse or reach, tokens included: our own lines say enough
logging.getLogger("apprise").setLevel(logging.CRITICAL)


class AlertLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


_NOTIFY_TYPE = {
    AlertLevel.INFO: apprise.NotifyType.INFO,
    AlertLevel.WARNING: apprise.NotifyType.WARNING,
    AlertLevel.CRITICAL: apprise.NotifyType.FAILURE,
}


class AlerterParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    urls: list[SecretStr] = Field(
        default_factory=list, description="apprise URLs (they often hold tokens: secrets)"
    )
    slack_webhook: SecretStr | None = None
    discord_webhook: SecretStr | None = None
    channels: list[str] = Field(
        default_factory=lambda: ["slack", "discord"],
        description="which of slack_webhook / discord_webhook to use",
    )

    @field_validator("urls", "slack_webhook", "discord_webhook")
    @classmethod
    def _known_to_apprise(cls, value: object) -> object:
        for url in value if isinstance(value, list) else [value]:
            if url is not None and not apprise.Apprise().add(url.get_secret_value()):
                raise ValueError("not a notification URL apprise knows (see apprise's wiki)")
        return value


class Alerter:
    Params: ClassVar[type[BaseModel]] = AlerterParams

    def __init__(self, params: AlerterParams | None = None) -> None:
        self.params = params or AlerterParams()
        self._apprise = apprise.Apprise()
        self._tasks: set[asyncio.Task[None]] = set()
        targets = [url.get_secret_value() for url in self.params.urls]
        for channel, url in (
            ("slack", self.params.slack_webhook),
            ("discord", self.params.discord_webhook),
        ):
            if url is not None and channel in self.params.channels:
                targets.append(url.get_secret_value())
        for target in targets:
            self._apprise.add(target)

    def alert(self, level: AlertLevel, title: str, body: str) -> None:
        """Log the alert and send it to every channel in the background."""
        logger.log(
            "CRITICAL" if level is AlertLevel.CRITICAL else level.upper(),
            "ALERT {}: {}",
            title,
            body,
        )
        if not len(self._apprise):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._send(level, title, body)
            return
        task = loop.create_task(asyncio.to_thread(self._send, level, title, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for alerts still being sent (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _send(self, level: AlertLevel, title: str, body: str) -> None:
        try:
            sent = self._apprise.notify(title=title, body=body, notify_type=_NOTIFY_TYPE[level])
        except Exception as error:
            sent = False
            logger.error("alert {!r} could not be sent: {}", title, type(error).__name__)
        if not sent:
            logger.error("alert {!r} was not delivered to every channel", title)
