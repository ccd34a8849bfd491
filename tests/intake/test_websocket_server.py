"""The WebSocket server source over a real connection on 127.0.0.1: token checked at the
handshake, one reply per message after it is recorded, bad messages answered without
dropping the connection."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.intake.rig import LiveRig, eventually, live_bot
from tests.intake.webhook_rig import FAST_FILLS, signal
from trading_bot.intake.websocket_server import WebSocketServerParams, WebSocketServerSource

TOKEN = "detector-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@contextlib.asynccontextmanager
async def ws_server(
    tmp_path: Path, **params: Any
) -> AsyncIterator[tuple[LiveRig, WebSocketServerSource]]:
    params.setdefault("auth_token", TOKEN)
    source = WebSocketServerSource(WebSocketServerParams(port=0, **params), "ws")
    async with live_bot(tmp_path, paper=FAST_FILLS) as rig, rig.serving(source):
        yield rig, source


async def ask(connection: ClientConnection, message: str | dict[str, Any]) -> dict[str, Any]:
    await connection.send(message if isinstance(message, str) else json.dumps(message))
    reply: dict[str, Any] = json.loads(await asyncio.wait_for(connection.recv(), 10))
    return reply


async def test_each_signal_is_acked_once_recorded_and_executed_once(tmp_path: Path) -> None:
    async with (
        ws_server(tmp_path, source="det") as (rig, source),
        connect(source.url, additional_headers=BEARER) as ws,
    ):
        for index in range(5):
            await ws.send(json.dumps(signal(f"w{index}")))
        replies = [json.loads(await ws.recv()) for _ in range(5)]
        assert [r["signal_id"] for r in replies] == [f"w{i}" for i in range(5)]  # in order
        assert {r["outcome"] for r in replies} == {"accepted"}
        assert {r["source"] for r in replies} == {"det"}
        assert all(("det", f"w{i}") in rig.signals() for i in range(5))  # recorded before acked
        await eventually(lambda: set(rig.signals().values()) == {"executed"})
        assert len(rig.orders_at_venue()) == 5


async def test_bad_messages_get_an_error_reply_and_the_connection_stays_open(
    tmp_path: Path,
) -> None:
    async with (
        ws_server(tmp_path) as (rig, source),
        connect(source.url, additional_headers=BEARER) as ws,
    ):
        malformed = await ask(ws, "not json")
        assert malformed["outcome"] == "invalid"
        assert malformed["error"] == "malformed_json"
        assert "not valid JSON" in malformed["reason"]
        wrong = await ask(ws, signal("b1", side="up"))
        assert wrong["error"] == "invalid_signal"
        assert wrong["signal_id"] == "b1"
        assert wrong["problems"][0].startswith("side:")
        unknown = await ask(ws, signal("b2", asset="ETH/USDT"))
        assert unknown["problems"] == ["asset: ETH/USDT is not traded on this venue"]
        too_big = await ask(ws, json.dumps(signal("b3", metadata={"x": "y" * 70_000})))
        assert "larger than the 65536-byte limit" in too_big["reason"]
        assert rig.signals() == {}
        good = await ask(ws, signal("g1"))
        assert (good["outcome"], good["signal_id"]) == ("accepted", "g1")
        duplicate = await ask(ws, signal("g1"))
        assert duplicate["outcome"] == "duplicate"
        assert duplicate["status"] in {"received", "executed"}
        await eventually(lambda: len(rig.dead_letters()) == 4)


async def test_over_the_rate_limit_is_answered_with_retry_after(tmp_path: Path) -> None:
    async with (
        ws_server(tmp_path, rate_limit_per_s=1, rate_limit_burst=1) as (_, source),
        connect(source.url, additional_headers=BEARER) as ws,
    ):
        assert (await ask(ws, signal("r1")))["outcome"] == "accepted"
        limited = await ask(ws, signal("r2"))
        assert (limited["outcome"], limited["error"], limited["retry_after_s"]) == (
            "rate_limited",
            "rate_limited",
            1,
        )


@pytest.mark.parametrize(
    ("headers", "path", "status", "error"),
    [
        ({}, "/ws", 401, "missing_token"),
        ({"Authorization": "Bearer wrong-token-000000000"}, "/ws", 401, "bad_token"),
        ({"Authorization": f"Basic {TOKEN}"}, "/ws", 401, "missing_token"),
        (BEARER, "/other", 404, "not_found"),
    ],
)
async def test_connection_without_the_right_token_is_refused(
    tmp_path: Path, headers: dict[str, str], path: str, status: int, error: str
) -> None:
    async with ws_server(tmp_path) as (rig, source):
        url = source.url.removesuffix("/ws") + path
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, additional_headers=headers):
                pass
        response = refused.value.response
        assert response.status_code == status
        assert json.loads(response.body)["error"] == error
        assert TOKEN.encode() not in response.body
        async with connect(source.url + f"?token={TOKEN}") as ws:  # still serving
            assert (await ask(ws, signal("ok")))["outcome"] == "accepted"
        assert set(rig.signals()) == {("", "ok")}


async def test_address_outside_the_allowlist_is_refused(tmp_path: Path) -> None:
    async with ws_server(tmp_path, allowed_ips=["10.0.0.0/8"]) as (_, source):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(source.url, additional_headers=BEARER):
                pass
        assert refused.value.response.status_code == 403


async def test_heartbeat_keeps_an_idle_connection_open(tmp_path: Path) -> None:
    params = {"ping_interval_s": 0.1, "ping_timeout_s": 0.5}
    async with (
        ws_server(tmp_path, **params) as (_, source),
        connect(source.url, additional_headers=BEARER, ping_interval=None) as ws,
    ):
        await asyncio.sleep(0.6)  # several server pings, answered by the client
        assert (await ask(ws, signal("late")))["outcome"] == "accepted"


async def test_heartbeat_drops_a_peer_that_stopped_answering(tmp_path: Path) -> None:
    params = {"ping_interval_s": 0.1, "ping_timeout_s": 0.3}
    async with ws_server(tmp_path, **params) as (_, source):
        reader, writer = await asyncio.open_connection("127.0.0.1", source.port)
        writer.write(
            (
                "GET /ws HTTP/1.1\r\nHost: bot\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                f"Authorization: Bearer {TOKEN}\r\n\r\n"
            ).encode()
        )
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
        # a peer that never answers the pings is closed by the server
        received = await asyncio.wait_for(reader.read(), 5)
        assert received[:1] == b"\x89"  # a ping frame came first
        writer.close()


def test_server_without_token_refuses_a_non_loopback_host() -> None:
    with pytest.raises(ValidationError, match="needs auth_token"):
        WebSocketServerParams(host="0.0.0.0")
    assert WebSocketServerParams(host="0.0.0.0", auth_token=TOKEN).auth_token is not None
    assert WebSocketServerParams().auth_token is None  # loopback: allowed, with a warning


async def test_loopback_server_without_token_takes_signals(tmp_path: Path) -> None:
    async with (
        ws_server(tmp_path, auth_token=None) as (_, source),
        connect(source.url) as ws,
    ):
        assert (await ask(ws, signal("open")))["outcome"] == "accepted"
    assert "NO token" in source.describe()
    assert (
        TOKEN not in WebSocketServerSource(WebSocketServerParams(auth_token=TOKEN), "ws").describe()
    )
