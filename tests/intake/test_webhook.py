"""The webhook over real HTTP on 127.0.0.1: what a detector sees when things go right, the
status route, and what the webhook refuses to start with."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from loguru import logger

from tests.conftest import config_data
from tests.intake.rig import eventually, live_bot
from tests.intake.webhook_rig import SECRET, running_webhook, signal
from trading_bot.config.errors import ConfigError
from trading_bot.config.loader import LoadedConfig, load_config_data
from trading_bot.config.registry import resolve
from trading_bot.intake.http_auth import signed_headers
from trading_bot.intake.webhook import WebhookParams, WebhookSource
from trading_bot.service.intake_runner import IntakeStartError


async def test_signed_signal_is_answered_202_once_recorded_then_executed_once(
    tmp_path: Path,
) -> None:
    async with running_webhook(tmp_path, source="det") as hook:
        response = await hook.post(signal("x1"))
        assert response.status_code == 202
        body = response.json()
        assert body["outcome"] == "accepted"
        assert body["signal_id"] == "x1"
        assert body["source"] == "det"
        assert body["status"] in {"received", "executed"}
        assert body["status_url"] == "/signals/x1?source=det"
        assert response.headers["location"] == body["status_url"]
        # answered only once durable: the store has it the moment the answer arrives
        assert ("det", "x1") in hook.rig.signals()
        await eventually(lambda: hook.rig.signals()[("det", "x1")] == "executed")
        assert len(hook.rig.orders_at_venue()) == 1


async def test_duplicate_is_answered_200_with_the_original_status(tmp_path: Path) -> None:
    async with running_webhook(tmp_path) as hook:
        assert (await hook.post(signal("d1"))).status_code == 202
        await eventually(lambda: hook.rig.signals()[("", "d1")] == "executed")
        again = await hook.post(signal("d1", size="0.02"))
        assert again.status_code == 200
        assert again.json()["outcome"] == "duplicate"
        assert again.json()["status"] == "executed"
        assert hook.rig.duplicates() == 1
        assert len(hook.rig.orders_at_venue()) == 1


async def test_status_route_shows_executed_signal_with_its_order(tmp_path: Path) -> None:
    async with running_webhook(tmp_path, source="det") as hook:
        await hook.post(signal("s1"))
        await eventually(lambda: hook.rig.signals()[("det", "s1")] == "executed")
        response = await hook.status("s1")  # source defaults to the webhook's `source`
        assert response.status_code == 200
        status = response.json()
        assert status["status"] == "executed"
        assert status["reason"] is None
        (order,) = status["orders"]
        assert order["status"] == "filled"
        assert order["amount"] == order["filled"] == "0.01"
        assert order["symbol"] == "BTC/USDT"


async def test_status_route_says_why_a_signal_was_rejected(tmp_path: Path) -> None:
    async with running_webhook(tmp_path) as hook:
        await hook.post(signal("big", size="1000"))  # far more than the paper balance buys
        await eventually(lambda: hook.rig.signals()[("", "big")] == "rejected")
        status = (await hook.status("big", source="")).json()
        assert status["status"] == "rejected"
        assert status["reason"]


async def test_status_of_unknown_signal_is_404_and_needs_a_signature(tmp_path: Path) -> None:
    async with running_webhook(tmp_path) as hook:
        missing = await hook.status("nope")
        assert missing.status_code == 404
        assert missing.json() == {
            "error": "not_found",
            "reason": "no signal 'nope' from source ''",
        }
        unsigned = await hook.http.get("/signals/nope")
        assert unsigned.status_code == 401
        assert unsigned.json()["error"] == "missing_signature"


async def test_unknown_route_and_method_answer_json(tmp_path: Path) -> None:
    async with running_webhook(tmp_path) as hook:
        response = await hook.http.get("/admin")
        assert response.status_code == 404
        assert "POST /signals" in response.json()["reason"]
        assert (await hook.http.put("/signals")).status_code == 405


async def test_webhook_without_secret_serves_loopback_and_warns(tmp_path: Path) -> None:
    warnings: list[str] = []
    sink = logger.add(lambda message: warnings.append(str(message)), level="WARNING")
    try:
        async with running_webhook(tmp_path, hmac_secret=None) as hook:
            response = await hook.post(signal("open1"), secret=None)
            assert response.status_code == 202
            assert (await hook.status("open1")).status_code == 200
    finally:
        logger.remove(sink)
    assert any("the webhook has no secret" in line for line in warnings)
    assert "NO authentication" in hook.source.describe()


def _load(params: dict[str, Any], environ: dict[str, str]) -> LoadedConfig:
    sources = {"sources": [{"class": "webhook", "params": params}]}
    return load_config_data(config_data(intake=sources), source="bot.yaml", environ=environ)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_webhook_without_secret_refuses_a_non_loopback_host(host: str) -> None:
    params = {"host": host, "hmac_secret": "${WEBHOOK_SECRET:-}"}
    with pytest.raises(ConfigError) as error:
        _load(params, environ={})  # the variable is not set: no secret
    (issue,) = error.value.issues
    assert issue.path == "intake.sources[0].params"
    assert "needs hmac_secret or tradingview_secret" in issue.message
    loaded = _load(params, environ={"WEBHOOK_SECRET": SECRET})
    assert loaded.sources[0].cls is WebhookSource
    assert SECRET in loaded.secrets  # masked in every log line


def test_short_secret_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as error:
        _load({"hmac_secret": "${WEBHOOK_SECRET}"}, environ={"WEBHOOK_SECRET": "hunter2"})
    assert "intake.sources[0].params.hmac_secret: must be at least 16 characters" in str(
        error.value
    )
    assert "hunter2" not in str(error.value)


def test_describe_never_shows_a_secret() -> None:
    params = WebhookParams(hmac_secret=SECRET, tradingview_secret=SECRET[::-1], port=9000)
    line = WebhookSource(params, "webhook").describe()
    assert SECRET not in line
    assert SECRET[::-1] not in line
    assert "http://127.0.0.1:9000" in line


def test_config_names_resolve_to_the_sources() -> None:
    assert resolve("intake", "webhook") is WebhookSource
    assert resolve("intake", "websocket_server").__name__ == "WebSocketServerSource"


async def test_port_in_use_stops_the_start_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        source = WebhookSource(WebhookParams(port=port, hmac_secret=SECRET), "webhook")
        async with live_bot(tmp_path) as rig:
            with pytest.raises(IntakeStartError, match=f"127.0.0.1:{port}: the port is already"):
                async with rig.serving(source):
                    pass


async def test_http_server_that_dies_is_reported_and_relaunched_by_run(tmp_path: Path) -> None:
    source = WebhookSource(WebhookParams(port=0, hmac_secret=SECRET), "webhook")
    async with live_bot(tmp_path) as rig:
        source.attach(rig.gate)
        await source.start()
        server = source._server
        assert server is not None
        server.should_exit = True  # the server ends without the bot asking
        with pytest.raises(RuntimeError, match="stopped unexpectedly"):
            await source.run()
        running = asyncio.create_task(source.run())  # what the supervisor does next
        await eventually(lambda: source._server is not server and source._server.started)
        async with httpx.AsyncClient(base_url=source.url) as http:
            assert (await http.get("/signals/x")).status_code == 401
        source.stopping.set()
        await running
        await source.close()


async def test_a_signal_id_with_slashes_has_a_working_status_url(tmp_path: Path) -> None:
    async with running_webhook(tmp_path, source="det") as hook:
        answer = await hook.post(signal("ema/2026-12-06/1"))
        assert answer.status_code == 202
        url = answer.json()["status_url"]
        assert url == "/signals/ema%2F2026-12-06%2F1?source=det"
        headers = signed_headers(SECRET, b"")
        for _ in range(2):  # polled twice in the same second: a read is not a replay
            status = await hook.http.get(url, headers=headers)
            assert status.status_code == 200
            assert status.json()["signal_id"] == "ema/2026-12-06/1"
