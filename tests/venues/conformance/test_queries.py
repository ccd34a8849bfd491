"""What the venue answers when asked (recovery after an unknown outcome asks exactly this):
an order it never had is None, an order it had is described as it was reported, the open
orders are exactly those still open. A venue that keeps no books says it cannot answer
(`VenueQueryError`) and never answers "nothing"."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.venues.conformance.harness import VenueHarness
from trading_bot.domain.enums import OrderType, Side
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.venues.base import VenueOrderSnapshot, VenueQueryError

D = Decimal
S = OrderStatus


@pytest.fixture
def queryable(harness: VenueHarness) -> VenueHarness:
    if not harness.supports_queries:
        pytest.skip(f"{harness.name} keeps no books: recovery never asks it")
    return harness


async def snapshot(harness: VenueHarness, order: Order) -> VenueOrderSnapshot:
    found = await harness.venue.fetch_order(order.client_order_id, order.symbol)
    assert found is not None, f"{harness.name} has no record of {order.client_order_id}"
    return found


def assert_matches_reports(harness: VenueHarness, found: VenueOrderSnapshot, order: Order) -> None:
    """The snapshot is the order as sent, with the venue id and fills it reported."""
    coid = order.client_order_id
    assert (found.client_order_id, found.symbol, found.side, found.order_type) == (
        coid, order.symbol, order.side, order.order_type,
    )  # fmt: skip
    assert found.venue_order_id == harness.reports.venue_order_id(coid)
    assert found.filled == harness.reports.filled(coid)
    reported = harness.reports.fills(coid)
    assert [(f.trade_id, f.amount, f.price, f.fee, f.fee_asset) for f in found.fills] == [
        (f.trade_id, f.amount, f.price, f.fee, f.fee_asset) for f in reported
    ]


async def test_an_order_never_sent_is_unknown_to_the_venue(queryable: VenueHarness) -> None:
    never_sent = queryable.order("buy", "0.5")
    assert await queryable.venue.fetch_order(never_sent.client_order_id, never_sent.symbol) is None


async def test_a_filled_order_is_described_as_it_was_reported(queryable: VenueHarness) -> None:
    buy = queryable.order("buy", "0.5")
    queryable.venue.submit_order(buy)
    await queryable.until_filled(buy)

    found = await snapshot(queryable, buy)
    assert (found.status, found.amount, found.filled) == (S.FILLED, D("0.5"), D("0.5"))
    assert_matches_reports(queryable, found, buy)


async def test_a_resting_order_is_described_with_its_terms_and_fills_so_far(
    queryable: VenueHarness,
) -> None:
    buy = queryable.order("buy", "1.5", "limit", price="97")
    queryable.venue.submit_order(buy)
    await queryable.until_reported(buy, "accepted")
    found = await snapshot(queryable, buy)
    assert (found.status, found.amount, found.price, found.filled) == (
        S.ACCEPTED, D("1.5"), D("97"), D(0),
    )  # fmt: skip

    await queryable.until_filled(buy, D("1"))
    found = await snapshot(queryable, buy)
    assert (found.status, found.filled) == (S.PARTIALLY_FILLED, D("1"))
    assert_matches_reports(queryable, found, buy)


async def test_a_canceled_order_is_described_canceled(queryable: VenueHarness) -> None:
    buy = queryable.order("buy", "0.5", "limit", price="97")
    queryable.venue.submit_order(buy)
    await queryable.until_reported(buy, "accepted")
    queryable.venue.cancel_order(buy)
    await queryable.until_reported(buy, "canceled")

    found = await snapshot(queryable, buy)
    assert (found.status, found.filled) == (S.CANCELED, D(0))
    assert_matches_reports(queryable, found, buy)


async def test_a_modified_order_is_described_with_its_new_terms(queryable: VenueHarness) -> None:
    buy = queryable.order("buy", "0.5", "limit", price="90")
    queryable.venue.submit_order(buy)
    await queryable.until_reported(buy, "accepted")
    queryable.venue.modify_order(buy, amount=D("0.8"), price=D("95"))
    await queryable.until_reported(buy, "modified")

    found = await snapshot(queryable, buy)
    assert (found.status, found.amount, found.price) == (S.ACCEPTED, D("0.8"), D("95"))


async def test_a_refused_order_is_never_described_as_open(queryable: VenueHarness) -> None:
    too_big = queryable.order("buy", "200", "limit", price="99")
    queryable.venue.submit_order(too_big)
    await queryable.until_reported(too_big, "rejected")

    found = await queryable.venue.fetch_order(too_big.client_order_id, too_big.symbol)
    # a venue may forget an order it refused (a real exchange does), never call it open
    assert found is None or found.status is S.REJECTED
    open_ids = {o.client_order_id for o in await queryable.venue.fetch_open_orders()}
    assert too_big.client_order_id not in open_ids


async def test_open_orders_are_exactly_the_ones_still_open(queryable: VenueHarness) -> None:
    venue = queryable.venue
    resting = queryable.order("buy", "0.5", "limit", price="90")
    resting_sell = queryable.order("sell", "0.4", "limit", price="110")
    canceled = queryable.order("buy", "0.5", "limit", price="91")
    filled = queryable.order("buy", "0.3")
    for order in (resting, resting_sell, canceled, filled):
        venue.submit_order(order)
    await queryable.until_filled(filled)
    await queryable.until_reported(resting, "accepted")
    await queryable.until_reported(resting_sell, "accepted")
    await queryable.until_reported(canceled, "accepted")
    venue.cancel_order(canceled)
    await queryable.until_reported(canceled, "canceled")

    listed = {o.client_order_id: o for o in await venue.fetch_open_orders()}
    assert set(listed) == {resting.client_order_id, resting_sell.client_order_id}
    sell = listed[resting_sell.client_order_id]
    assert (sell.side, sell.order_type, sell.amount, sell.price, sell.status) == (
        Side.SELL, OrderType.LIMIT, D("0.4"), D("110"), S.ACCEPTED,
    )  # fmt: skip
    assert sell.venue_order_id == queryable.reports.venue_order_id(resting_sell.client_order_id)


async def test_a_venue_that_keeps_no_books_says_so_instead_of_answering_nothing(
    harness: VenueHarness,
) -> None:
    if harness.supports_queries:
        pytest.skip(f"{harness.name} answers queries (the other tests here hold it to them)")
    buy = harness.order("buy", "0.5", "limit", price="97")
    harness.venue.submit_order(buy)
    await harness.until_reported(buy, "accepted")

    with pytest.raises(VenueQueryError):
        await harness.venue.fetch_order(buy.client_order_id, buy.symbol)
    with pytest.raises(VenueQueryError):
        await harness.venue.fetch_open_orders()
