"""OrderTracker: each venue update reported once, and memory bounded over a long run."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.venues.conformance.reports import RecordingReports
from trading_bot.domain.enums import OrderType, Side
from trading_bot.domain.order import Order
from trading_bot.venues.ccxt import tracked as tracked_module
from trading_bot.venues.ccxt.tracked import OrderTracker


def order(coid: str) -> Order:
    return Order(coid, "BTC/USDT", Side.BUY, OrderType.MARKET, Decimal("0.1"), 0, "s")


def filled_view(coid: str, venue_id: str) -> dict[str, object]:
    trade = {
        "id": f"t-{venue_id}",
        "amount": "0.1",
        "price": "100",
        "fee": {"cost": "0.01", "currency": "USDT"},
    }
    return {
        "id": venue_id,
        "clientOrderId": coid,
        "status": "closed",
        "filled": "0.1",
        "trades": [trade],
    }


def test_the_same_view_told_twice_is_reported_once() -> None:
    reports = RecordingReports()
    tracker = OrderTracker(reports)
    tracked = tracker.track(order("a"), 0)
    assert tracker.apply_order(tracked, filled_view("a", "1"), 0)
    assert tracker.apply_order(tracked, filled_view("a", "1"), 0)
    assert reports.kinds("a") == ["accepted", "filled"]
    assert tracker.open_orders() == []


def test_finished_orders_are_forgotten_oldest_first_past_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tracked_module, "KEEP_FINISHED", 100)
    tracker = OrderTracker(RecordingReports())
    for n in range(1_000):
        coid = f"o{n}"
        tracker.apply_order(tracker.track(order(coid), n), filled_view(coid, str(n)), n)
    assert len(tracker.orders) == 100
    assert "o999" in tracker.orders and "o899" not in tracker.orders
    assert tracker.by_venue_id("999") is tracker.orders["o999"]
    assert tracker.by_venue_id("5") is None


def test_an_update_naming_another_client_order_id_is_not_booked_onto_ours() -> None:
    """A venue that forgot its orders reuses their ids: the client order id tells them apart."""
    reports = RecordingReports()
    tracker = OrderTracker(reports)
    ours = tracker.track(order("ours"), 0)
    tracker.add_venue_id(ours, "14")
    tracker.apply_order(ours, filled_view("someone-else", "14"), 0)
    stream_trade = {**filled_view("x", "14")["trades"][0], "order": "14", "info": {"c": "x"}}  # type: ignore[index]
    tracker.apply_trade(ours, stream_trade, 0, taker=True)
    assert reports.kinds("ours") == []


def test_a_fill_beyond_a_limit_orders_price_is_refused_as_not_ours() -> None:
    reports = RecordingReports()
    tracker = OrderTracker(reports)
    limit = Order(
        "lim", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.1"), 0, "s", price=Decimal("40")
    )
    tracked = tracker.track(limit, 0)
    trade = {
        "id": "t1",
        "order": "9",
        "amount": "0.1",
        "price": "46",
        "fee": {"cost": "0", "currency": "USDT"},
    }
    tracker.apply_trade(tracked, trade, 0, taker=True)
    assert reports.fills("lim") == []


def cancel_answer(order_coid: str, venue_id: str) -> dict[str, object]:
    """ccxt's parse of a Binance DELETE /api/v3/order answer: `clientOrderId` is the cancel's."""
    return {
        "id": venue_id,
        "clientOrderId": "cancel-1",
        "status": "canceled",
        "filled": "0",
        "info": {"origClientOrderId": order_coid, "clientOrderId": "cancel-1"},
    }


def test_a_cancel_answer_naming_the_order_as_its_original_id_closes_ours() -> None:
    reports = RecordingReports()
    tracker = OrderTracker(reports)
    ours = tracker.track(order("ours"), 0)
    tracker.add_venue_id(ours, "14")
    tracker.apply_order(ours, cancel_answer("ours", "14"), 0)
    assert reports.kinds("ours") == ["accepted", "canceled"]


def test_a_cancel_answer_naming_another_order_as_its_original_id_is_not_applied() -> None:
    reports = RecordingReports()
    tracker = OrderTracker(reports)
    ours = tracker.track(order("ours"), 0)
    tracker.add_venue_id(ours, "14")
    tracker.apply_order(ours, cancel_answer("someone-else", "14"), 0)
    assert reports.kinds("ours") == []
