"""Alerts reach people through apprise, and never stop the bot when a channel fails."""

from __future__ import annotations

import asyncio

import pytest
from loguru import logger

from tests.alert_receiver import alert_receiver
from tests.conftest import config_data
from trading_bot.config.errors import ConfigError
from trading_bot.config.loader import load_config_data
from trading_bot.monitoring.alerts import Alerter, AlerterParams, AlertLevel


async def test_an_alert_is_delivered_to_the_channel_and_logged() -> None:
    lines: list[str] = []
    sink = logger.add(lines.append, format="{level} {message}")
    try:
        with alert_receiver() as inbox:
            alerter = Alerter(AlerterParams.model_validate({"urls": [inbox.url]}))
            alerter.alert(AlertLevel.CRITICAL, "binance banned the bot", "until 12:00")
            await alerter.drain()
    finally:
        logger.remove(sink)
    (message,) = inbox.messages()
    assert message["title"] == "binance banned the bot"
    assert message["message"] == "until 12:00"
    assert message["type"] == "failure"
    assert any(line.startswith("CRITICAL ALERT binance banned the bot") for line in lines)


async def test_a_channel_that_fails_is_logged_and_nothing_is_raised() -> None:
    lines: list[str] = []
    sink = logger.add(lines.append, format="{level} {message}")
    try:
        alerter = Alerter(AlerterParams.model_validate({"urls": ["json://127.0.0.1:9/nobody"]}))
        alerter.alert(AlertLevel.WARNING, "breaker open", "orders refused")
        await asyncio.wait_for(alerter.drain(), 30)
    finally:
        logger.remove(sink)
    assert any("was not delivered" in line for line in lines)


def test_an_unknown_channel_url_is_a_config_error_that_does_not_echo_it() -> None:
    data = config_data(
        monitoring={"alerts": {"enabled": True, "params": {"urls": ["nonsense-token-s3cr3t"]}}}
    )
    with pytest.raises(ConfigError) as caught:
        load_config_data(data, source="bot.yaml", environ={})
    text = str(caught.value)
    assert "monitoring.alerts.params.urls" in text
    assert "not a notification URL" in text
    assert "s3cr3t" not in text
