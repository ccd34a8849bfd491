"""A client order id is executed at most once: the same id sent again, while the first order
is open or after it finished, is refused `duplicate_order` and trades nothing. This is what
makes resending after an unknown outcome (a timeout) safe."""

from __future__ import annotations

from decimal import Decimal

from tests.venues.conformance.harness import VenueHarness
from tests.venues.conformance.scenario import BASE, QUOTE
from trading_bot.domain.rejections import RejectionReason

D = Decimal


async def test_resending_an_open_orders_id_is_refused_and_the_order_fills_once(
    harness: VenueHarness,
) -> None:
    buy = harness.order("buy", "0.5", "limit", price="97")
    harness.venue.submit_order(buy)
    await harness.until_reported(buy, "accepted")

    harness.venue.submit_order(buy)
    await harness.until_reported(buy, "rejected")
    reason = harness.reports.reason(buy.client_order_id, "rejected")
    assert reason is RejectionReason.DUPLICATE_ORDER

    await harness.until_filled(buy)
    await harness.pass_bars(10)  # through the next dip: the refused copy never rests there
    assert harness.reports.filled(buy.client_order_id) == D("0.5")
    await harness.until_balances({QUOTE: D("9951.4515"), BASE: D("1.5")})


async def test_resending_a_filled_orders_id_is_refused_and_nothing_trades_again(
    harness: VenueHarness,
) -> None:
    buy = harness.order("buy", "0.5")
    harness.venue.submit_order(buy)
    await harness.until_filled(buy)

    harness.venue.submit_order(buy)
    await harness.until_reported(buy, "rejected")
    await harness.pass_bars(2)

    reason = harness.reports.reason(buy.client_order_id, "rejected")
    assert reason is RejectionReason.DUPLICATE_ORDER
    assert len(harness.reports.fills(buy.client_order_id)) == 1
    await harness.until_balances({QUOTE: D("9949.9"), BASE: D("1.5")})
