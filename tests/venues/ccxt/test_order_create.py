"""An order create is sent once. Without a clear answer it is looked up by client order id:
found, it is followed; not found after the receive window, it was never placed. Refusals come
back as rejections with the venue's reason. Faults are injected at the venue server."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from tests.venues.ccxt.rig import ORDER_PATH, R, live_rig
from trading_bot.domain.order_status import OrderStatus
from trading_bot.venues.server import FaultRule

D = Decimal
S = OrderStatus


async def test_create_failing_before_the_server_acts_is_rejected_after_the_lookup_window(
    tmp_path: Path,
) -> None:
    faults = {
        "503": FaultRule(kind="status", status=503, method="POST", path=ORDER_PATH),
        "502": FaultRule(kind="status", status=502, method="POST", path=ORDER_PATH),
        "500 -1001": FaultRule(kind="status", status=500, method="POST", path=ORDER_PATH),
        "dropped": FaultRule(kind="drop", method="POST", path=ORDER_PATH),
    }
    async with live_rig(tmp_path) as rig:
        orders = {}
        for name, rule in faults.items():  # one at a time, so each order meets its own fault
            rig.server.faults.inject(rule)
            orders[name] = rig.submit(rig.order("buy", "0.1"))
            await rig.until(lambda: not rig.server.faults.rules, f"the {name} fault used")

        for order in orders.values():
            await rig.until_reported(order, "rejected", timeout_s=8)

        for name, order in orders.items():
            coid = order.client_order_id
            assert rig.reports.kinds(coid) == ["rejected"], name
            assert rig.reports.reason(coid, "rejected") is R.VENUE_UNAVAILABLE, name
            assert order.status is S.REJECTED
            # rejected only once the receive window ruled out a late arrival
            assert rig.clock.now_ms() - order.created_ms >= rig.venue.lookup_settle_ms
        assert rig.server.orders == []
        assert rig.order_requests() == 4  # each create sent once, never again


@pytest.mark.parametrize("drop_connection", [False, True], ids=["late reply", "reply dropped"])
async def test_create_placed_but_unanswered_is_found_by_client_order_id_and_never_resent(
    tmp_path: Path, drop_connection: bool
) -> None:
    async with live_rig(tmp_path, timeout_ms=500) as rig:
        rig.server.faults.inject(
            FaultRule(
                kind="timeout_after_accept",
                method="POST",
                path=ORDER_PATH,
                delay_s=1.5,
                drop_connection=drop_connection,
            )
        )
        market = rig.submit(rig.order("buy", "0.1"))
        await rig.until_filled(market)
        rig.server.faults.inject(
            FaultRule(
                kind="timeout_after_accept",
                method="POST",
                path=ORDER_PATH,
                delay_s=1.5,
                drop_connection=drop_connection,
            )
        )
        resting = rig.submit(rig.order("buy", "0.2", "limit", price="90"))
        await rig.until_reported(resting, "accepted")

        assert rig.reports.kinds(market.client_order_id) == ["accepted", "filled"]
        (fill,) = rig.reports.fills(market.client_order_id)
        assert (fill.amount, fill.price) == (D("0.1"), D("100"))
        assert market.status is S.FILLED and resting.status is S.ACCEPTED
        for order in (market, resting):
            assert len(rig.server_orders(order.client_order_id)) == 1
        assert rig.order_requests() == 2


async def test_create_held_past_the_client_timeout_is_followed_if_it_lands_in_the_window(
    tmp_path: Path,
) -> None:
    """The server holds the request, then processes it after the client gave up: inside the
    receive window the order is placed (and found), past it the venue refuses it (and the
    bot, having looked until then, knows it was not placed)."""
    async with live_rig(tmp_path, timeout_ms=300) as rig:
        rig.server.faults.inject(
            FaultRule(kind="delay", method="POST", path=ORDER_PATH, delay_s=0.6)
        )
        landed = rig.submit(rig.order("buy", "0.1"))
        await rig.until(lambda: not rig.server.faults.rules, "the first delay used")
        rig.server.faults.inject(
            FaultRule(kind="delay", method="POST", path=ORDER_PATH, delay_s=1.5)
        )
        too_late = rig.submit(rig.order("buy", "0.2"))

        await rig.until_filled(landed)
        await rig.until_reported(too_late, "rejected")

        assert rig.reports.kinds(landed.client_order_id) == ["accepted", "filled"]
        assert len(rig.server_orders(landed.client_order_id)) == 1
        assert rig.reports.reason(too_late.client_order_id, "rejected") is R.VENUE_UNAVAILABLE
        assert rig.server_orders(too_late.client_order_id) == []
        assert rig.order_requests() == 2


async def test_refusals_only_the_server_knows_are_rejected_with_its_reason(
    tmp_path: Path,
) -> None:
    async with live_rig(tmp_path) as rig:
        poor = rig.submit(rig.order("buy", "500"))  # 50,000 USDT of 10,000
        crossing = rig.submit(rig.order("buy", "0.1", "limit", price="101", post_only=True))
        oversold = rig.submit(rig.order("sell", "5"))  # 1 BTC held
        for order in (poor, crossing, oversold):
            await rig.until_reported(order, "rejected")
        # a symbol the venue stopped listing after the bot loaded its markets
        rig.server.faults.inject(
            FaultRule(kind="status", status=400, code=-1121, msg="Invalid symbol.", path=ORDER_PATH)
        )
        delisted = rig.submit(rig.order("buy", "0.1"))
        await rig.until_reported(delisted, "rejected")

        assert rig.reports.reason(poor.client_order_id, "rejected") is R.INSUFFICIENT_BALANCE
        assert rig.reports.reason(crossing.client_order_id, "rejected") is R.POST_ONLY_WOULD_CROSS
        assert rig.reports.reason(oversold.client_order_id, "rejected") is R.INSUFFICIENT_BALANCE
        assert rig.reports.reason(delisted.client_order_id, "rejected") is R.UNKNOWN_ASSET
        assert rig.server.orders == []
        assert rig.venue._guard is not None and not rig.venue._guard.breaker_open


async def test_filter_failures_from_rules_tighter_than_the_markets_loaded_are_mapped(
    tmp_path: Path,
) -> None:
    """The venue changed its rules after the bot loaded markets: only its answer knows."""
    async with live_rig(tmp_path) as rig:
        feed = rig.server.venue.feeds["BTC/USDT"]
        feed.market = replace(
            feed.market, amount_step=D("0.01"), price_step=D("1"), min_notional=D("50")
        )

        off_step = rig.submit(rig.order("buy", "0.605", "limit", price="90"))
        off_tick = rig.submit(rig.order("buy", "1", "limit", price="90.5"))
        small = rig.submit(rig.order("buy", "0.1", "limit", price="90"))  # 9 USDT < 50
        for order in (off_step, off_tick, small):
            await rig.until_reported(order, "rejected")

        assert (
            rig.reports.reason(off_step.client_order_id, "rejected") is R.INVALID_AMOUNT_PRECISION
        )
        assert rig.reports.reason(off_tick.client_order_id, "rejected") is R.INVALID_PRICE_PRECISION
        assert rig.reports.reason(small.client_order_id, "rejected") is R.BELOW_MIN_NOTIONAL
        assert rig.server.orders == []


async def test_orders_the_venue_would_round_are_refused_before_sending(tmp_path: Path) -> None:
    async with live_rig(tmp_path) as rig:
        off_step = rig.submit(rig.order("buy", "0.0155"))
        unknown = rig.submit(rig.order("buy", "1", symbol="DOGE/USDT"))
        for order in (off_step, unknown):
            await rig.until_reported(order, "rejected")
        assert (
            rig.reports.reason(off_step.client_order_id, "rejected") is R.INVALID_AMOUNT_PRECISION
        )
        assert rig.reports.reason(unknown.client_order_id, "rejected") is R.UNKNOWN_ASSET
        assert rig.order_requests() == 0
