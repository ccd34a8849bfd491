"""The paper venue on live trades keeps its books across restarts: a limit resting before a
restart is matched on the live trades after it, and the bot hears of the fill. Staged on a
simulated clock, trades handed over as the live feed's callback does."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import T0, make_signal
from tests.service.rig import paper_config, start, store
from trading_bot.domain.enums import LiquiditySide
from trading_bot.domain.order_status import OrderStatus
from trading_bot.engine.clock import SimulatedClock
from trading_bot.engine.context import PriceView
from trading_bot.market_data.live.prices import LivePrices
from trading_bot.market_data.live.trades import LiveTrade
from trading_bot.orders.reconciliation import Reconciler
from trading_bot.service.assembly import RunningBot, ServiceSetupError
from trading_bot.service.paper_venue import assemble_paper_venue_bot
from trading_bot.venues.paper.exchange import PaperExchange

D = Decimal
SYMBOL = "BTC/USDT"
LIVE = {"live_data": {"exchange": "binance", "symbols": [SYMBOL]}}
LIMIT = {"class": "limit", "params": {}}


def start_live(engine: Engine, clock: SimulatedClock) -> tuple[RunningBot, LivePrices]:
    prices = LivePrices(clock)

    def follow(venue: PaperExchange) -> PriceView:
        venue.add_live_market(SYMBOL, None, "binance")
        return prices

    loaded = paper_config(paper=LIVE, execution=LIMIT)
    running = assemble_paper_venue_bot(loaded, engine, clock, [SYMBOL], follow, schedule=None)
    return running, prices


def trade(running: RunningBot, prices: LivePrices, clock: SimulatedClock, price: str) -> None:
    clock.advance_to(clock.now_ms() + 100)
    prices.update(SYMBOL, D(price))
    venue = running.venue
    assert isinstance(venue, PaperExchange)
    venue.on_live_trade(LiveTrade(SYMBOL, clock.now_ms(), D(price), D("1"), None, None))
    running.journal.flush()


async def test_a_limit_resting_before_a_restart_fills_on_live_trades_after_it(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0)
    first, prices = start_live(engine, clock)
    trade(first, prices, clock, "100")
    first.bot.kernel.submit_signal(
        make_signal(asset=SYMBOL, side="buy", size="0.5", order_type="limit", price="99")
    )
    first.journal.flush()
    trade(first, prices, clock, "100")
    (order,) = first.bot.orders.all_orders
    assert order.status is OrderStatus.ACCEPTED

    clock = SimulatedClock(clock.now_ms() + 5_000)  # a new process, on its own clock
    second, prices = start_live(engine, clock)
    report = await Reconciler(second.bot.kernel, second.venue).reconcile(at_start=True)
    assert report.ok and report.checked_orders == 1
    trade(second, prices, clock, "99.5")
    assert second.bot.orders.get(order.client_order_id).status is OrderStatus.ACCEPTED  # type: ignore[union-attr]
    trade(second, prices, clock, "98")
    restored = second.bot.orders.get(order.client_order_id)
    assert restored is not None and restored.status is OrderStatus.FILLED
    (fill,) = second.bot.portfolio.fills
    assert (fill.price, fill.liquidity) == (D("99"), LiquiditySide.MAKER)
    assert second.bot.portfolio.balance("USDT") == D("10000") - D("49.5") - D("0.0495")
    assert second.bot.portfolio.balances == second.venue.balances()


def test_a_store_whose_paper_venue_replayed_files_is_not_continued_on_live_data(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    start(engine, SimulatedClock(T0))  # replays a file
    with pytest.raises(
        ServiceSetupError, match=r"paper\.live_data: this store's paper venue replays"
    ):
        start_live(engine, SimulatedClock(T0 + 1_000))
