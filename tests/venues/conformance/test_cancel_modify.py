"""Cancel and modify: acknowledged with a report, or refused with a reason; either way the
order then behaves exactly as the venue said."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from tests.venues.conformance.harness import VenueHarness
from tests.venues.conformance.scenario import BASE, QUOTE
from trading_bot.domain.enums import OrderType
from trading_bot.domain.rejections import RejectionReason

D = Decimal
R = RejectionReason


async def test_cancel_of_a_resting_order_cancels_it_and_it_never_fills(
    harness: VenueHarness,
) -> None:
    buy = harness.order("buy", "0.5", "limit", price="97")
    harness.venue.submit_order(buy)
    await harness.until_reported(buy, "accepted")

    harness.venue.cancel_order(buy)
    await harness.until_reported(buy, "canceled")
    await harness.pass_bars(10)  # through the first dip, which would have filled it

    assert harness.reports.kinds(buy.client_order_id) == ["accepted", "canceled"]
    await harness.until_balances(harness.scenario.balances)


async def test_cancel_of_an_order_the_venue_never_had_is_refused_order_not_found(
    harness: VenueHarness,
) -> None:
    never_sent = harness.order("buy", "0.5", "limit", price="97")
    harness.venue.cancel_order(never_sent)
    await harness.until_reported(never_sent, "cancel_rejected")

    assert harness.reports.kinds(never_sent.client_order_id) == ["cancel_rejected"]
    assert (
        harness.reports.reason(never_sent.client_order_id, "cancel_rejected") is R.ORDER_NOT_FOUND
    )


async def test_cancel_of_a_filled_order_is_refused_and_the_fill_stands(
    harness: VenueHarness,
) -> None:
    buy = harness.order("buy", "0.5")
    harness.venue.submit_order(buy)
    await harness.until_filled(buy)

    harness.venue.cancel_order(buy)
    await harness.until_reported(buy, "cancel_rejected")

    assert harness.reports.reason(buy.client_order_id, "cancel_rejected") is R.ORDER_NOT_FOUND
    assert not harness.reports.has(buy.client_order_id, "canceled")
    await harness.until_balances({QUOTE: D("9949.9"), BASE: D("1.5")})


async def test_modified_price_is_acknowledged_and_the_order_fills_at_the_new_price(
    harness: VenueHarness,
) -> None:
    buy = harness.order("buy", "0.5", "limit", price="90")  # below anything the tape reaches
    harness.venue.submit_order(buy)
    await harness.until_reported(buy, "accepted")

    harness.venue.modify_order(buy, price=D("97"))
    await harness.until_reported(buy, "modified")
    (modified,) = harness.reports.of(buy.client_order_id, "modified")
    assert (modified.amount, modified.price) == (D("0.5"), D("97"))

    await harness.until_filled(buy)
    (fill,) = harness.reports.fills(buy.client_order_id)
    assert (fill.amount, fill.price, fill.fee) == (D("0.5"), D("97"), D("0.0485"))
    await harness.until_balances({QUOTE: D("9951.4515"), BASE: D("1.5")})


async def test_modified_amount_is_acknowledged_and_the_new_amount_fills(
    harness: VenueHarness,
) -> None:
    buy = harness.order("buy", "0.5", "limit", price="97")
    harness.venue.submit_order(buy)
    await harness.until_reported(buy, "accepted")

    harness.venue.modify_order(buy, amount=D("0.8"))
    await harness.until_reported(buy, "modified")
    (modified,) = harness.reports.of(buy.client_order_id, "modified")
    assert modified.amount == D("0.8")

    await harness.until_filled(buy, D("0.8"))
    assert harness.reports.filled(buy.client_order_id) == D("0.8")
    # 77.6 USDT plus the 0.1% maker fee 0.0776
    await harness.until_balances({QUOTE: D("9922.3224"), BASE: D("1.8")})


async def test_modify_breaking_the_market_rules_is_refused_and_the_order_keeps_its_terms(
    harness: VenueHarness,
) -> None:
    buy = harness.order("buy", "0.5", "limit", price="97")
    harness.venue.submit_order(buy)
    await harness.until_reported(buy, "accepted")

    harness.venue.modify_order(buy, price=D("97.005"))  # off the 0.01 price grid
    await harness.until_reported(buy, "modify_rejected")
    reason = harness.reports.reason(buy.client_order_id, "modify_rejected")
    assert reason is R.INVALID_PRICE_PRECISION

    await harness.until_filled(buy)
    (fill,) = harness.reports.fills(buy.client_order_id)
    assert (fill.amount, fill.price) == (D("0.5"), D("97"))


async def test_modify_of_an_order_the_venue_never_had_is_refused_order_not_found(
    harness: VenueHarness,
) -> None:
    never_sent = harness.order("buy", "0.5", "limit", price="97")
    harness.venue.modify_order(never_sent, price=D("98"))
    await harness.until_reported(never_sent, "modify_rejected")

    assert harness.reports.kinds(never_sent.client_order_id) == ["modify_rejected"]
    reason = harness.reports.reason(never_sent.client_order_id, "modify_rejected")
    assert reason is R.ORDER_NOT_FOUND


async def test_a_modified_stop_stays_a_stop_and_fills_only_once_triggered(
    harness: VenueHarness,
) -> None:
    # ccxt's edit reads the trigger from `triggerPrice` alone: sent as a create is, a stop
    # came back a plain market order and sold at once at 100 (an OCO leg being reduced)
    stop = replace(
        harness.order("sell", "0.5"), order_type=OrderType.STOP_MARKET, trigger_price=D("90")
    )
    harness.venue.submit_order(stop)
    await harness.until_reported(stop, "accepted")

    harness.venue.modify_order(stop, amount=D("0.3"), price=D("97"))
    await harness.until_reported(stop, "modified")
    await harness.until_filled(stop, D("0.3"))
    (fill,) = harness.reports.fills(stop.client_order_id)
    assert fill.amount == D("0.3")
    assert fill.price <= D("97")  # on the dip, past its trigger: not at the open of 100
