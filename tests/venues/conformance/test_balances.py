"""Balances: totals per asset that move exactly (Decimal) with fills and fees, the same
whether read (`balances()`) or asked (`fetch_balances()`); funds held by open orders leave
the totals alone but cannot be spent twice."""

from __future__ import annotations

from decimal import Decimal

from tests.venues.conformance.harness import VenueHarness, held
from tests.venues.conformance.scenario import BASE, QUOTE
from trading_bot.domain.rejections import RejectionReason

D = Decimal


async def test_balances_before_any_trade_are_the_starting_account(harness: VenueHarness) -> None:
    assert held(harness.venue.balances()) == harness.scenario.balances
    assert held(await harness.venue.fetch_balances()) == harness.scenario.balances


async def test_fetched_balances_agree_with_the_balances_read_after_trading(
    harness: VenueHarness,
) -> None:
    buy = harness.order("buy", "0.5")
    sell = harness.order("sell", "0.2", "limit", price="103")
    harness.venue.submit_order(buy)
    harness.venue.submit_order(sell)
    await harness.until_filled(buy)
    await harness.until_filled(sell)

    # bought 0.5 at 100 (fee 0.1), sold 0.2 at 103 as maker (fee 0.0206)
    expected = {QUOTE: D("10000") - D("50.1") + D("20.6") - D("0.0206"), BASE: D("1.3")}
    await harness.until_balances(expected)
    assert held(await harness.venue.fetch_balances()) == expected


async def test_open_orders_hold_funds_without_changing_totals_or_spending_them_twice(
    harness: VenueHarness,
) -> None:
    venue = harness.venue
    first = harness.order("buy", "60", "limit", price="90")  # holds 5400 USDT plus fee
    venue.submit_order(first)
    await harness.until_reported(first, "accepted")
    assert held(venue.balances()) == harness.scenario.balances
    assert held(await venue.fetch_balances()) == harness.scenario.balances

    second = harness.order("buy", "60", "limit", price="90")  # would need 5400 more
    venue.submit_order(second)
    await harness.until_reported(second, "rejected")
    assert harness.reports.reason(second.client_order_id, "rejected") is (
        RejectionReason.INSUFFICIENT_BALANCE
    )

    venue.cancel_order(first)
    await harness.until_reported(first, "canceled")
    third = harness.order("buy", "60", "limit", price="90")  # the funds are free again
    venue.submit_order(third)
    await harness.until_reported(third, "accepted")


async def test_base_held_by_a_resting_sell_cannot_be_sold_again(harness: VenueHarness) -> None:
    venue = harness.venue
    resting = harness.order("sell", "1", "limit", price="110")  # all the BTC
    venue.submit_order(resting)
    await harness.until_reported(resting, "accepted")

    again = harness.order("sell", "0.5")
    venue.submit_order(again)
    await harness.until_reported(again, "rejected")
    assert harness.reports.reason(again.client_order_id, "rejected") is (
        RejectionReason.INSUFFICIENT_BALANCE
    )
    assert held(venue.balances()) == harness.scenario.balances
