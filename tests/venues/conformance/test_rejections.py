"""Orders the venue refuses: one `rejected` report with a stable reason code
(domain/rejections.py), nothing filled, the account untouched. A live venue maps its
exchange's errors to these same codes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.venues.conformance.harness import VenueHarness, held
from trading_bot.domain.rejections import RejectionReason

R = RejectionReason

# (order as harness.order arguments, reason); the account holds 10000 USDT and 1 BTC, every
# bar opens at 100, the market wants amounts on 0.001, prices on 0.01, at least 0.01 BTC and 5 USDT
REFUSED: dict[str, tuple[dict[str, Any], RejectionReason]] = {
    "limit buy costing more than the quote balance": (
        {"side": "buy", "amount": "200", "kind": "limit", "price": "99"},
        R.INSUFFICIENT_BALANCE,
    ),
    "market buy costing more than the quote balance": (
        {"side": "buy", "amount": "200"},
        R.INSUFFICIENT_BALANCE,
    ),
    "market sell of more base than held": ({"side": "sell", "amount": "2"}, R.INSUFFICIENT_BALANCE),
    "limit below the minimum notional": (
        {"side": "buy", "amount": "0.04", "kind": "limit", "price": "99"},
        R.BELOW_MIN_NOTIONAL,
    ),
    "market below the minimum notional": ({"side": "buy", "amount": "0.04"}, R.BELOW_MIN_NOTIONAL),
    "amount below the minimum amount": (
        {"side": "buy", "amount": "0.005", "kind": "limit", "price": "99"},
        R.BELOW_MIN_AMOUNT,
    ),
    "amount off the amount step": (
        {"side": "buy", "amount": "0.0105", "kind": "limit", "price": "99"},
        R.INVALID_AMOUNT_PRECISION,
    ),
    "price off the price step": (
        {"side": "buy", "amount": "0.5", "kind": "limit", "price": "97.005"},
        R.INVALID_PRICE_PRECISION,
    ),
    "post-only buy above the price": (
        {"side": "buy", "amount": "0.5", "kind": "limit", "price": "101", "post_only": True},
        R.POST_ONLY_WOULD_CROSS,
    ),
    "symbol the venue does not list": (
        {"side": "buy", "amount": "0.5", "symbol": "ETH/USDT"},
        R.UNKNOWN_ASSET,
    ),
}


@pytest.mark.parametrize(("spec", "reason"), REFUSED.values(), ids=REFUSED.keys())
async def test_refused_order_is_rejected_with_its_reason_and_changes_nothing(
    harness: VenueHarness, spec: dict[str, Any], reason: RejectionReason
) -> None:
    order = harness.order(**spec)
    harness.venue.submit_order(order)
    await harness.until_reported(order, "rejected")
    await harness.pass_bars(1)  # nothing follows a rejection

    coid = order.client_order_id
    assert harness.reports.kinds(coid) == ["rejected"]
    assert harness.reports.reason(coid, "rejected") is reason
    (rejected,) = harness.reports.of(coid, "rejected")
    assert rejected.detail, "a rejection says why in words too"
    assert held(harness.venue.balances()) == harness.scenario.balances


async def test_refusal_of_one_order_does_not_disturb_the_next(harness: VenueHarness) -> None:
    too_big = harness.order("buy", "200")
    fine = harness.order("buy", "0.5")
    harness.venue.submit_order(too_big)
    harness.venue.submit_order(fine)
    await harness.until_filled(fine)
    await harness.until_reported(too_big, "rejected")

    assert harness.reports.fills(too_big.client_order_id) == []
    assert harness.reports.filled(fine.client_order_id) == Decimal("0.5")
