"""A venue behind a connection survives losing it: orders placed before are still there and
fill, orders placed after work, and nothing is reported twice or lost. In-process venues have
no connection to lose."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.venues.conformance.harness import VenueHarness
from tests.venues.conformance.scenario import BASE, QUOTE

D = Decimal


@pytest.fixture
def connected(harness: VenueHarness) -> VenueHarness:
    if not harness.supports_reconnect:
        pytest.skip(f"{harness.name} runs in-process: there is no connection to drop")
    return harness


async def test_orders_survive_a_dropped_connection_and_new_ones_work(
    connected: VenueHarness,
) -> None:
    venue = connected.venue
    resting = connected.order("buy", "0.5", "limit", price="97")
    venue.submit_order(resting)
    await connected.until_reported(resting, "accepted")

    await connected.drop_connection()

    after = connected.order("buy", "0.3")
    venue.submit_order(after)
    await connected.until_filled(after)
    await connected.until_filled(resting)  # on the dip, after the reconnect

    fills = connected.reports.fills()
    assert len({f.trade_id for f in fills}) == len(fills), "a fill was reported twice"
    assert connected.reports.filled(resting.client_order_id) == D("0.5")
    assert connected.reports.filled(after.client_order_id) == D("0.3")
    # 0.3 at 100 as taker (fee 0.06), 0.5 at 97 as maker (fee 0.0485)
    await connected.until_balances({QUOTE: D("10000") - D("30.06") - D("48.5485"), BASE: D("1.8")})
    if connected.supports_queries:
        assert await venue.fetch_open_orders() == []
