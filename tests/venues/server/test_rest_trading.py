"""Real ccxt (async_support) trading against the venue server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

import ccxt
import pytest

from tests.venues.server.rig import dec, venue_and_client
from trading_bot.venues.server.testing import ccxt_client


async def wait_for_status(client, order_id: str, status: str, seconds: float = 5.0) -> dict:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        order = await client.fetch_order(order_id, "BTC/USDT")
        if order["status"] == status or asyncio.get_running_loop().time() > deadline:
            return order
        await asyncio.sleep(0.05)


async def test_markets_carry_the_configured_steps_minimums_and_order_types(tmp_path: Path):
    async with venue_and_client(tmp_path) as (_, client):
        market = client.market("BTC/USDT")
        assert market["spot"] and market["active"]
        assert market["id"] == "BTCUSDT"
        assert market["precision"]["amount"] == 0.001
        assert market["precision"]["price"] == 0.01
        assert market["limits"]["amount"]["min"] == 0.001
        assert market["limits"]["cost"]["min"] == 5
        assert list(client.markets) == ["BTC/USDT"]


async def test_balance_shows_free_and_locked_from_the_account(tmp_path: Path):
    async with venue_and_client(tmp_path) as (_, client):
        balance = await client.fetch_balance()
        assert balance["USDT"] == {"free": 10000.0, "used": 0.0, "total": 10000.0}
        await client.create_order("BTC/USDT", "limit", "buy", 1, 50)
        balance = await client.fetch_balance()
        # 1 x 50 plus the worse fee rate (0.2%) is held for the open buy
        assert balance["USDT"]["used"] == pytest.approx(50.1)
        assert balance["USDT"]["free"] == pytest.approx(10000 - 50.1)


async def test_market_buy_and_sell_fill_at_once_with_taker_fee(tmp_path: Path):
    async with venue_and_client(tmp_path) as (server, client):
        bought = await client.create_order("BTC/USDT", "market", "buy", 0.5)
        assert bought["status"] == "closed"
        assert bought["filled"] == 0.5
        price = dec(bought["average"])
        assert dec(bought["fee"]["cost"]) == price * dec("0.5") * dec("0.002")
        assert bought["fee"]["currency"] == "USDT"
        sold = await client.create_order("BTC/USDT", "market", "sell", 1.5)
        assert sold["status"] == "closed" and sold["filled"] == 1.5
        balance = await client.fetch_balance()
        assert balance["BTC"]["total"] == 0
        assert len(server.trades) == 2


async def test_limit_order_rests_then_fills_when_the_replayed_price_comes_down(tmp_path: Path):
    async with venue_and_client(tmp_path) as (_, client):
        order = await client.create_order("BTC/USDT", "limit", "buy", 0.1, 95)
        assert order["status"] == "open"
        filled = await wait_for_status(client, order["id"], "closed")
        assert filled["status"] == "closed"
        assert filled["price"] == 95 and filled["average"] == 95
        trades = await client.fetch_my_trades("BTC/USDT")
        assert [t["takerOrMaker"] for t in trades] == ["maker"]
        assert dec(trades[0]["fee"]["cost"]) == dec("9.5") * dec("0.001")


async def test_market_order_larger_than_the_volume_share_fills_over_several_bars(tmp_path: Path):
    fills = {"max_volume_share": "0.5"}
    async with venue_and_client(tmp_path, volume=1.0, exchange={"fills": fills}) as (_, client):
        order = await client.create_order("BTC/USDT", "market", "buy", 2)
        assert order["status"] == "open" and order["filled"] == 0.5
        done = await wait_for_status(client, order["id"], "closed")
        assert done["filled"] == 2
        trades = await client.fetch_my_trades("BTC/USDT")
        assert [t["amount"] for t in trades] == [0.5, 0.5, 0.5, 0.5]


async def test_cancel_releases_the_hold_and_a_second_cancel_is_order_not_found(tmp_path: Path):
    async with venue_and_client(tmp_path) as (_, client):
        order = await client.create_order("BTC/USDT", "limit", "buy", 1, 50)
        canceled = await client.cancel_order(order["id"], "BTC/USDT")
        assert canceled["status"] == "canceled"
        assert (await client.fetch_balance())["USDT"]["used"] == 0
        with pytest.raises(ccxt.OrderNotFound):
            await client.cancel_order(order["id"], "BTC/USDT")
        with pytest.raises(ccxt.OrderNotFound):
            await client.cancel_order("999999", "BTC/USDT")
        with pytest.raises(ccxt.OrderNotFound):
            await client.fetch_order("999999", "BTC/USDT")


async def test_cancel_all_orders_of_a_symbol(tmp_path: Path):
    async with venue_and_client(tmp_path) as (_, client):
        await client.create_order("BTC/USDT", "limit", "buy", 1, 50)
        await client.create_order("BTC/USDT", "limit", "sell", 0.5, 500)
        canceled = await client.cancel_all_orders("BTC/USDT")
        assert sorted(o["status"] for o in canceled) == ["canceled", "canceled"]
        assert await client.fetch_open_orders("BTC/USDT") == []


async def test_edit_order_replaces_it_with_a_new_price(tmp_path: Path):
    async with venue_and_client(tmp_path) as (server, client):
        order = await client.create_order("BTC/USDT", "limit", "buy", 1, 50)
        edited = await client.edit_order(order["id"], "BTC/USDT", "limit", "buy", 2, 60)
        assert edited["id"] != order["id"]
        assert edited["price"] == 60 and edited["amount"] == 2 and edited["status"] == "open"
        old = await client.fetch_order(order["id"], "BTC/USDT")
        assert old["status"] == "canceled"
        assert [o["id"] for o in await client.fetch_open_orders("BTC/USDT")] == [edited["id"]]
        assert len(server.orders) == 2


async def test_orders_are_found_by_client_order_id(tmp_path: Path):
    async with venue_and_client(tmp_path) as (_, client):
        placed = await client.create_order(
            "BTC/USDT", "limit", "buy", 1, 50, {"clientOrderId": "bot-sig1-0"}
        )
        found = await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": "bot-sig1-0"})
        assert found["id"] == placed["id"] and found["clientOrderId"] == "bot-sig1-0"
        opened = await client.fetch_open_orders("BTC/USDT")
        assert [o["clientOrderId"] for o in opened] == ["bot-sig1-0"]
        everything = await client.fetch_open_orders()
        assert len(everything) == 1


async def test_a_client_order_id_still_open_is_refused_and_never_placed_twice(tmp_path: Path):
    async with venue_and_client(tmp_path) as (server, client):
        params = {"clientOrderId": "bot-dup-0"}
        await client.create_order("BTC/USDT", "limit", "buy", 1, 50, params)
        with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
            await client.create_order("BTC/USDT", "limit", "buy", 1, 50, params)
        assert [o.client_order_id for o in server.orders] == ["bot-dup-0"]


async def test_refusals_raise_the_matching_ccxt_errors(tmp_path: Path):
    async with venue_and_client(tmp_path) as (server, client):
        with pytest.raises(ccxt.InsufficientFunds):
            await client.create_order("BTC/USDT", "market", "buy", 1000)
        with pytest.raises(ccxt.InsufficientFunds):
            await client.create_order("BTC/USDT", "limit", "sell", 5, 200)
        with pytest.raises(ccxt.OrderImmediatelyFillable):
            await client.create_order("BTC/USDT", "limit", "buy", 1, 150, {"postOnly": True})
        with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
            await client.private_post_order(
                {
                    "symbol": "BTCUSDT",
                    "side": "BUY",
                    "type": "LIMIT",
                    "timeInForce": "GTC",
                    "quantity": "0.0001",
                    "price": "50",
                }
            )
        with pytest.raises(ccxt.InvalidOrder, match="PRICE_FILTER"):
            await client.private_post_order(
                {
                    "symbol": "BTCUSDT",
                    "side": "BUY",
                    "type": "LIMIT",
                    "timeInForce": "GTC",
                    "quantity": "1",
                    "price": "50.001",
                }
            )
        with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):
            await client.create_order("BTC/USDT", "limit", "buy", 0.01, 50)
        with pytest.raises(ccxt.BadSymbol):
            await client.public_get_depth({"symbol": "DOGEUSDT"})
        with pytest.raises(ccxt.BadRequest):
            await client.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT"})
        assert server.orders == []


@pytest.mark.parametrize("latency_ms", [0, 100])
async def test_a_marketable_limit_is_answered_filled_whatever_the_submit_latency(
    tmp_path: Path, latency_ms: int
):
    exchange = {"latency": {"submit_ms": latency_ms}}
    async with venue_and_client(tmp_path, exchange=exchange) as (_, client):
        order = await client.create_order("BTC/USDT", "limit", "buy", 0.1, 150)
        assert (order["status"], order["filled"]) == ("closed", 0.1)


async def test_ioc_limit_that_cannot_fill_expires(tmp_path: Path):
    async with venue_and_client(tmp_path) as (_, client):
        order = await client.create_order("BTC/USDT", "limit", "buy", 1, 50, {"timeInForce": "IOC"})
        assert order["status"] == "expired"


async def test_stop_loss_order_rests_until_triggered(tmp_path: Path):
    async with venue_and_client(tmp_path) as (_, client):
        stop = await client.create_order("BTC/USDT", "market", "sell", 0.5, None, {"stopPrice": 93})
        assert stop["info"]["type"] == "STOP_LOSS"
        done = await wait_for_status(client, stop["id"], "closed")
        assert done["filled"] == 0.5
        assert done["average"] <= 93


async def test_wrong_secret_or_key_is_an_authentication_error(tmp_path: Path):
    async with venue_and_client(tmp_path) as (server, _):
        wrong_secret = ccxt_client(server, enableRateLimit=False)
        wrong_secret.secret = "not-the-secret"
        unknown_key = ccxt_client(server, enableRateLimit=False)
        unknown_key.apiKey = "someone-else"
        try:
            with pytest.raises(ccxt.AuthenticationError):
                await wrong_secret.fetch_balance()
            with pytest.raises(ccxt.AuthenticationError):
                await unknown_key.fetch_balance()
        finally:
            await wrong_secret.close()
            await unknown_key.close()


async def test_a_timestamp_outside_the_receive_window_is_an_invalid_nonce(tmp_path: Path):
    async with venue_and_client(tmp_path) as (_, client):
        client.options["timeDifference"] = 60_000  # the client's clock a minute behind
        with pytest.raises(ccxt.InvalidNonce):
            await client.fetch_balance()
        client.options["timeDifference"] = -5_000  # five seconds ahead
        with pytest.raises(ccxt.InvalidNonce):
            await client.fetch_balance()


async def test_public_market_data(tmp_path: Path):
    async with venue_and_client(tmp_path, closes=[100.0] * 400) as (_, client):
        await asyncio.sleep(0.2)
        book = await client.fetch_order_book("BTC/USDT", 5)
        assert len(book["bids"]) == 5 and len(book["asks"]) == 5
        assert book["bids"][0][0] < book["asks"][0][0]
        ticker = await client.fetch_ticker("BTC/USDT")
        assert ticker["last"] == 100
        candles = await client.fetch_ohlcv("BTC/USDT", "1s", limit=5)
        assert candles and all(c[4] == 100 for c in candles)
        trades = await client.fetch_trades("BTC/USDT", limit=3)
        assert trades and trades[-1]["price"] == 100
        assert abs(await client.fetch_time() - client.milliseconds()) < 1000
