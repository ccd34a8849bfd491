"""ccxt.pro against the venue server's WebSockets: market streams and the user data stream."""

from __future__ import annotations

import asyncio
from pathlib import Path

import ccxt
import pytest

from tests.venues.server.rig import venue_and_client

TIMEOUT = 5


async def test_watch_order_book_follows_the_replayed_price(tmp_path: Path):
    async with venue_and_client(tmp_path, pro=True) as (_, client):
        book = await asyncio.wait_for(client.watch_order_book("BTC/USDT"), TIMEOUT)
        first_nonce = book["nonce"]
        assert book["bids"] and book["asks"]
        assert book["bids"][0][0] < book["asks"][0][0]
        book = await asyncio.wait_for(client.watch_order_book("BTC/USDT"), TIMEOUT)
        assert book["nonce"] > first_nonce
        assert book["bids"][0][0] < book["asks"][0][0]


async def test_watch_trades_prints_each_bar_as_it_closes(tmp_path: Path):
    async with venue_and_client(tmp_path, pro=True) as (_, client):
        trades = await asyncio.wait_for(client.watch_trades("BTC/USDT"), TIMEOUT)
        assert trades and trades[-1]["symbol"] == "BTC/USDT"
        assert 89 <= trades[-1]["price"] <= 100


async def test_watch_ticker(tmp_path: Path):
    async with venue_and_client(tmp_path, pro=True) as (_, client):
        ticker = await asyncio.wait_for(client.watch_ticker("BTC/USDT"), TIMEOUT)
        assert 89 <= ticker["last"] <= 100


async def watch_until(watch, check, seconds: float = TIMEOUT):
    async def loop():
        while True:
            found = await watch()
            if check(found):
                return found

    return await asyncio.wait_for(loop(), seconds)


async def test_watch_orders_sees_the_order_open_then_filled(tmp_path: Path):
    async with venue_and_client(tmp_path, pro=True) as (_, client):
        watcher = asyncio.create_task(
            watch_until(
                lambda: client.watch_orders("BTC/USDT"),
                lambda orders: any(o["status"] == "closed" for o in orders),
            )
        )
        await asyncio.sleep(0.3)  # subscribed
        placed = await client.create_order(
            "BTC/USDT", "limit", "buy", 0.2, 95, {"clientOrderId": "bot-ws-0"}
        )
        orders = await watcher
        closed = [o for o in orders if o["status"] == "closed"]
        assert closed[-1]["id"] == placed["id"]
        assert closed[-1]["clientOrderId"] == "bot-ws-0"
        assert closed[-1]["filled"] == 0.2


async def test_watch_my_trades_and_balance_after_a_fill(tmp_path: Path):
    async with venue_and_client(tmp_path, pro=True) as (_, client):
        trades_task = asyncio.create_task(
            asyncio.wait_for(client.watch_my_trades("BTC/USDT"), TIMEOUT)
        )
        balance_task = asyncio.create_task(
            watch_until(client.watch_balance, lambda b: b.get("BTC", {}).get("total") == 1.25)
        )
        await asyncio.sleep(0.3)
        order = await client.create_order("BTC/USDT", "market", "buy", 0.25)
        trades = await trades_task
        assert trades[-1]["order"] == order["id"]
        assert trades[-1]["amount"] == 0.25 and trades[-1]["fee"]["currency"] == "USDT"
        balance = await balance_task
        assert balance["BTC"]["free"] == 1.25


async def test_user_stream_with_a_wrong_secret_is_refused(tmp_path: Path):
    async with venue_and_client(tmp_path, pro=True) as (_, client):
        client.secret = "wrong"
        # ccxt 4.5.90 turns the -1022 reply into KeyError('spot') (its error path deletes the
        # subscription twice); real Binance answers the same, so connectors must catch both
        with pytest.raises((ccxt.AuthenticationError, KeyError)):
            await asyncio.wait_for(client.watch_orders("BTC/USDT"), TIMEOUT)


async def test_streams_resume_after_the_server_drops_every_websocket(tmp_path: Path):
    async with venue_and_client(tmp_path, pro=True) as (server, client):
        await asyncio.wait_for(client.watch_trades("BTC/USDT"), TIMEOUT)
        assert await server.drop_websockets() >= 1
        errors = 0
        for _ in range(5):
            try:
                trades = await asyncio.wait_for(client.watch_trades("BTC/USDT"), TIMEOUT)
                break
            except ccxt.NetworkError:
                errors += 1
        else:
            pytest.fail("watch_trades never came back")
        assert trades
        assert errors <= 2
