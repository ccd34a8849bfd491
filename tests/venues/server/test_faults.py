"""Injected faults reach real ccxt as the exceptions a live connector must handle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import ccxt
import pytest

from tests.venues.server.rig import venue_and_client
from trading_bot.venues.server import FaultRule


@pytest.mark.parametrize(
    ("status", "raised"),
    [
        (500, ccxt.OperationFailed),
        (502, ccxt.ExchangeNotAvailable),
        (503, ccxt.ExchangeNotAvailable),
        (504, ccxt.RequestTimeout),
        (429, ccxt.DDoSProtection),
        (418, ccxt.DDoSProtection),
    ],
)
async def test_error_status_raises_the_ccxt_exception(tmp_path: Path, status, raised):
    async with venue_and_client(tmp_path) as (server, client):
        server.faults.inject(FaultRule(kind="status", status=status, path="/api/v3/account"))
        with pytest.raises(raised):
            await client.fetch_balance()
        assert (await client.fetch_balance())["USDT"]["total"] == 10000  # one request only


async def test_ip_ban_body_is_binance_s(tmp_path: Path):
    async with venue_and_client(tmp_path) as (server, client):
        server.faults.inject(FaultRule(kind="status", status=418))
        with pytest.raises(ccxt.DDoSProtection, match="IP banned until"):
            await client.fetch_ticker("BTC/USDT")


@pytest.mark.parametrize(
    ("rule", "retry_after"),
    [
        ({"status": 429}, "1"),
        ({"status": 418}, "120"),  # the default body's ban
        ({"status": 429, "retry_after": 7}, "7"),
        ({"status": 418, "retry_after": "Wed, 21 Oct 2037 07:28:00 GMT"}, "Wed, 21 Oct 2037 07:28:00 GMT"),
        ({"status": 429, "retry_after": None}, None),
        ({"status": 503, "retry_after": 7}, None),  # only with a 429 or 418
    ],
)  # fmt: skip
async def test_throttling_and_bans_carry_a_retry_after_the_rule_can_set(
    tmp_path: Path, rule: dict[str, Any], retry_after: str | None
) -> None:
    async with venue_and_client(tmp_path) as (server, _), aiohttp.ClientSession() as http:
        fault = {"kind": "status", "path": "/api/v3/time", **rule}
        async with http.post(f"{server.rest_url}/_admin/faults", json=fault):
            pass
        async with http.get(f"{server.rest_url}/api/v3/time") as reply:
            assert reply.status == rule["status"]
            assert reply.headers.get("Retry-After") == retry_after


async def test_dropped_connection_before_the_order_is_not_available_and_places_nothing(
    tmp_path: Path,
):
    async with venue_and_client(tmp_path) as (server, client):
        server.faults.inject(FaultRule(kind="drop", method="POST", path="/api/v3/order"))
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await client.create_order("BTC/USDT", "limit", "buy", 1, 50)
        assert server.orders == []


async def test_reply_slower_than_the_client_timeout_is_a_request_timeout(tmp_path: Path):
    async with venue_and_client(tmp_path) as (server, client):
        client.timeout = 300
        server.faults.inject(FaultRule(kind="delay", delay_s=0.8, path="/api/v3/account"))
        with pytest.raises(ccxt.RequestTimeout):
            await client.fetch_balance()


async def test_order_accepted_then_timed_out_is_there_when_fetched_by_client_order_id(
    tmp_path: Path,
):
    async with venue_and_client(tmp_path) as (server, client):
        client.timeout = 300
        server.faults.inject(
            FaultRule(kind="timeout_after_accept", delay_s=0.8, method="POST", path="/api/v3/order")
        )
        params = {"clientOrderId": "bot-lost-0"}
        with pytest.raises(ccxt.RequestTimeout):
            await client.create_order("BTC/USDT", "limit", "buy", 1, 50, params)
        found = await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": "bot-lost-0"})
        assert found["status"] == "open" and found["amount"] == 1
        # sending it again while it is open is refused: never two orders
        with pytest.raises(ccxt.InvalidOrder, match="Duplicate"):
            await client.create_order("BTC/USDT", "limit", "buy", 1, 50, params)
        assert [o.client_order_id for o in server.orders] == ["bot-lost-0"]


async def test_order_accepted_then_connection_dropped_is_placed(tmp_path: Path):
    async with venue_and_client(tmp_path) as (server, client):
        server.faults.inject(
            FaultRule(
                kind="timeout_after_accept",
                drop_connection=True,
                method="POST",
                path="/api/v3/order",
            )
        )
        with pytest.raises(ccxt.NetworkError):
            await client.create_order(
                "BTC/USDT", "market", "buy", 0.1, None, {"clientOrderId": "bot-drop-0"}
            )
        found = await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": "bot-drop-0"})
        assert found["status"] == "closed" and found["filled"] == 0.1


async def test_faults_can_be_set_over_http_by_another_process(tmp_path: Path):
    async with venue_and_client(tmp_path) as (server, client), aiohttp.ClientSession() as http:
        rule = {"kind": "status", "status": 503, "path": "/api/v3/account", "count": 2}
        async with http.post(f"{server.rest_url}/_admin/faults", json=rule) as reply:
            assert reply.status == 200
        for _ in range(2):
            with pytest.raises(ccxt.ExchangeNotAvailable):
                await client.fetch_balance()
        await client.fetch_balance()
        async with http.post(f"{server.rest_url}/_admin/faults", json=rule):
            pass
        async with http.delete(f"{server.rest_url}/_admin/faults") as reply:
            assert json.loads(await reply.text()) == {"rules": []}
        await client.fetch_balance()


async def test_request_weight_over_the_limit_is_answered_429(tmp_path: Path):
    async with venue_and_client(tmp_path, request_weight_per_minute=50) as (_, client):
        # load_markets used 20; two account reads use 40 more
        await client.fetch_ticker("BTC/USDT")
        await client.fetch_balance()
        with pytest.raises(ccxt.DDoSProtection, match="request weight"):
            await client.fetch_balance()
        # Retry-After: the seconds left in this minute's window
        headers = {k.lower(): v for k, v in client.last_response_headers.items()}
        assert 1 <= int(headers["retry-after"]) <= 60
