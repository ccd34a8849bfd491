"""Paper trading on live prices: `BotService` in paper mode on the simulated exchange with
`paper.live_data` pointed at the venue server on 127.0.0.1, whose public trade stream prints
recorded BTC/USDT trades. Real ccxt.pro, no keys; orders never leave the process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import config_data
from trading_bot.config.loader import load_config_data
from trading_bot.domain.enums import LiquiditySide
from trading_bot.domain.order_status import OrderStatus
from trading_bot.market_data.trade_csv import load_trades_csv
from trading_bot.service.assembly import ServiceSetupError
from trading_bot.service.bot_service import BotService
from trading_bot.venues.paper.exchange import PaperExchange
from trading_bot.venues.server import VenueServerConfig, running_venue_server
from trading_bot.venues.server.server import VenueServer

D = Decimal
SYMBOL = "BTC/USDT"
DATA = Path(__file__).resolve().parents[1] / "data" / "BTCUSDT_trades_binance_2021-01-08.csv"
TRADES = load_trades_csv(DATA, SYMBOL)
PRINTED = {TRADES.bar(i).open for i in range(len(TRADES))}  # every price the server prints
TAKER_FEE, MAKER_FEE = D("0.002"), D("0.001")


@pytest.fixture
async def server() -> AsyncIterator[VenueServer]:
    config = VenueServerConfig(
        market_data={SYMBOL: DATA},
        replay_speed=1,
        horizon_hours=1,
        exchange={
            "markets": {
                SYMBOL: {"amount_step": "0.0001", "price_step": "0.01", "min_notional": "5"}
            }
        },
    )
    async with running_venue_server(config) as running:
        yield running


def live_config(server: VenueServer, store: Path, **overrides: Any) -> dict[str, Any]:
    return config_data(
        mode="paper",
        exchange={
            "class": "simulated",
            "params": {
                "balances": {"USDT": "10000"},
                "fees": {"maker": str(MAKER_FEE), "taker": str(TAKER_FEE)},
            },
        },
        execution={"class": "limit"},
        paper={
            "live_data": {
                "exchange": "binance",
                "api_url": server.rest_url,
                "ws_url": server.ws_url,
                "symbols": [SYMBOL],
            }
        },
        store={"url": f"sqlite:///{store}"},
        **overrides,
    )


@asynccontextmanager
async def live_paper_bot(server: VenueServer, store: Path) -> AsyncIterator[BotService]:
    service = BotService(
        load_config_data(live_config(server, store), source="bot.yaml", environ={})
    )
    await service.start()
    assert service.started
    try:
        yield service
    finally:
        assert await service.stop() == 0


async def eventually(check: Any, timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        assert loop.time() < deadline, "condition never reached"
        await asyncio.sleep(0.05)


def signal(signal_id: str, price: str) -> dict[str, str]:
    return {"signal_id": signal_id, "asset": SYMBOL, "side": "buy", "size": "0.01", "price": price}


async def test_a_signal_fills_at_a_printed_live_price_and_the_books_survive_a_restart(
    server: VenueServer, tmp_path: Path
) -> None:
    store = tmp_path / "store.sqlite"
    async with live_paper_bot(server, store) as service:
        running = service.running
        assert running is not None
        venue = running.venue
        assert isinstance(venue, PaperExchange)
        market = venue.market(SYMBOL)  # no exchange.params.markets: the live venue's rules
        assert market is not None
        assert (market.amount_step, market.price_step, market.min_notional) == (
            D("0.0001"),
            D("0.01"),
            D("5"),
        )
        assert (market.maker_fee, market.taker_fee) == (MAKER_FEE, TAKER_FEE)
        await eventually(lambda: running.prices.last_price(SYMBOL) is not None)

        # a limit far above the market: taker at the first live trade's price
        await service.send_signal(signal("take", "50000"))
        # a limit far below it: rests
        await service.send_signal(signal("rest", "1000"))
        await eventually(
            lambda: (service.signal_status("", "take") or {}).get("status") == "executed"
        )
        (fill,) = running.bot.portfolio.fills
        assert fill.price in PRINTED
        assert fill.liquidity is LiquiditySide.TAKER
        assert fill.amount == D("0.01")
        assert fill.fee == fill.price * D("0.01") * TAKER_FEE
        balances = running.bot.portfolio.balances
        assert balances["USDT"] == D("10000") - fill.price * D("0.01") - fill.fee
        assert balances["BTC"] == D("0.01")
        await eventually(lambda: venue.balances() == running.bot.portfolio.balances)
        resting = [o for o in running.bot.orders.open_orders()]
        assert [o.price for o in resting] == [D("1000")]
        assert resting[0].status is OrderStatus.ACCEPTED

    async with live_paper_bot(server, store) as again:
        running = again.running
        assert running is not None
        assert running.bot.portfolio.fills == [fill]
        assert running.bot.portfolio.balances == balances
        assert running.venue.balances() == balances
        (restored,) = running.bot.orders.open_orders()
        assert (restored.client_order_id, restored.status) == (
            resting[0].client_order_id,
            OrderStatus.ACCEPTED,
        )
        venue = running.venue
        assert isinstance(venue, PaperExchange)
        (open_at_venue,) = await venue.fetch_open_orders()
        assert open_at_venue.client_order_id == restored.client_order_id
        # the restored order matches on live trades again: still resting after some arrive
        printed_before = running.prices.last_price(SYMBOL)
        await eventually(lambda: running.prices.last_price(SYMBOL) != printed_before)
        assert restored.is_open
    assert server.orders == []  # nothing was sent to the venue: it only gave prices


async def test_a_symbol_the_live_venue_does_not_list_refuses_the_start(
    server: VenueServer, tmp_path: Path
) -> None:
    data = live_config(server, tmp_path / "store.sqlite")
    data["paper"]["live_data"]["symbols"] = ["ETH/USDT"]
    service = BotService(load_config_data(data, source="bot.yaml", environ={}))
    with pytest.raises(ServiceSetupError, match=r"paper\.live_data\.symbols: ETH/USDT not listed"):
        await service.start()
    await service.abandon()
