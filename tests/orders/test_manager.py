from decimal import Decimal

import pytest

from tests.conftest import T0, make_bars
from trading_bot.domain.enums import LiquiditySide, OrderType, Side
from trading_bot.domain.events import OrderFilled, OrderRejected, OrderSubmitted
from trading_bot.domain.fill import Fill
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.engine.bus import EventBus
from trading_bot.engine.clock import SimulatedClock
from trading_bot.orders.manager import DuplicateClientOrderId, OrderManager
from trading_bot.venues.simulated.exchange import SimulatedExchange

D = Decimal


def manager(**params: object) -> tuple[OrderManager, EventBus, list[object]]:
    bus = EventBus()
    seen: list[object] = []
    bus.subscribe(OrderFilled, seen.append)
    bus.subscribe(OrderRejected, seen.append)
    exchange = SimulatedExchange({"balances": {"USDT": "1000"}, **params})

    exchange.add_market_data(make_bars("BTC/USDT", ["100", "100"]))
    return OrderManager(bus, SimulatedClock(T0), exchange), bus, seen


def new_order(coid: str = "c1", amount: str = "2") -> Order:
    return Order(coid, "BTC/USDT", Side.BUY, OrderType.MARKET, D(amount), T0, "s")


def fill(trade_id: str, amount: str, coid: str = "c1") -> Fill:
    return Fill(
        trade_id,
        coid,
        "BTC/USDT",
        Side.BUY,
        D(amount),
        D(100),
        D(0),
        "USDT",
        LiquiditySide.TAKER,
        T0,
    )


def test_a_client_order_id_is_never_sent_twice() -> None:
    orders, _, _ = manager()
    orders.submit(new_order())
    with pytest.raises(DuplicateClientOrderId):
        orders.submit(new_order())


def test_repeated_trade_id_is_applied_once() -> None:
    orders, _, seen = manager()
    orders.submit(new_order())
    orders.order_filled(fill("t1", "1"))
    orders.order_filled(fill("t1", "1"))
    order = orders.get("c1")
    assert order is not None
    assert order.filled_amount == D(1)
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert len(seen) == 1


def test_overfill_and_unknown_orders_are_refused_as_anomalies() -> None:
    orders, _, seen = manager()
    orders.submit(new_order(amount="1"))
    orders.order_filled(fill("t1", "2"))
    orders.order_filled(fill("t2", "1", coid="nobody"))
    assert seen == []
    assert len(orders.anomalies) == 2
    assert "would fill 2 of 1" in orders.anomalies[0]
    assert "unknown order nobody" in orders.anomalies[1]


def test_open_exposure_counts_unfilled_remainders_per_side() -> None:
    orders, _, _ = manager()
    orders.submit(new_order("c1", "2"))
    orders.submit(Order("c2", "BTC/USDT", Side.SELL, OrderType.MARKET, D("0.5"), T0, "s2"))
    orders.order_filled(fill("t1", "0.5"))
    assert orders.open_exposure("BTC/USDT") == (D("1.5"), D("0.5"))
    assert orders.open_exposure("ETH/USDT") == (0, 0)


def test_rejection_closes_the_order_and_is_published() -> None:
    orders, _, seen = manager()
    orders.submit(new_order())
    orders.order_rejected("c1", RejectionReason.INSUFFICIENT_BALANCE, "no money")
    assert orders.open_orders() == []
    (event,) = seen
    assert isinstance(event, OrderRejected)
    assert event.reason is RejectionReason.INSUFFICIENT_BALANCE


def test_one_cancel_or_modify_in_flight_per_order() -> None:
    orders, _, _ = manager(latency={"submit_ms": 1000, "cancel_ms": 1000})  # requests in flight

    order = Order("c1", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("1"), T0, "s", price=D("50"))
    orders.submit(order)
    assert orders.modify(order, price=D("60")) is False  # not acknowledged yet
    orders.order_accepted("c1", "1")
    assert orders.modify(order, price=D("60")) is True
    assert order.status is OrderStatus.PENDING_UPDATE
    assert orders.modify(order, price=D("70")) is False
    orders.cancel(order)  # a cancel may overtake a pending modify
    assert order.status is OrderStatus.PENDING_CANCEL
    assert orders.modify(order, price=D("70")) is False


def test_open_exposure_follows_fills_modifications_and_closes() -> None:
    orders, _, _ = manager(latency={"submit_ms": 1000, "cancel_ms": 1000})
    order = Order("c1", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("3"), T0, "s", price=D("50"))
    orders.submit(order)
    orders.order_accepted("c1", "1")
    orders.order_filled(fill("t1", "1"))
    assert orders.open_exposure("BTC/USDT") == (D("2"), D("0"))
    orders.order_modified("c1", D("5"), D("50"))
    assert orders.open_exposure("BTC/USDT") == (D("4"), D("0"))
    orders.order_canceled("c1", "bye")
    assert orders.open_exposure("BTC/USDT") == (D("0"), D("0"))
    orders.order_filled(fill("t2", "1"))  # late fill: already out of the open exposure
    assert orders.open_exposure("BTC/USDT") == (D("0"), D("0"))
    assert orders.symbols_with_open_orders() == set()


def test_repeated_trade_id_with_different_terms_is_an_anomaly_and_the_first_is_kept() -> None:
    orders, _, seen = manager()
    orders.submit(new_order())
    orders.order_filled(fill("t1", "1"))
    orders.order_filled(fill("t1", "1.5"))
    order = orders.get("c1")
    assert order is not None and order.filled_amount == D(1)
    assert len(seen) == 1
    assert len(orders.anomalies) == 1
    assert "reported again with different terms: 1.5 at 100" in orders.anomalies[0]


class RefusingExchange(SimulatedExchange):
    """A venue that refuses every order without a request, as a live one does during a ban."""

    def __init__(self) -> None:
        super().__init__({"balances": {"USDT": "1000"}})
        self.submitted: list[str] = []

    def refusal(self, order: Order) -> Rejection | None:
        return Rejection(RejectionReason.VENUE_BANNED, "banned until 12:00")

    def submit_order(self, order: Order) -> None:
        self.submitted.append(order.client_order_id)


def test_an_order_the_venue_refuses_without_a_request_is_rejected_never_submitted() -> None:
    bus = EventBus()
    seen: list[object] = []
    bus.subscribe(OrderSubmitted, seen.append)
    bus.subscribe(OrderRejected, seen.append)
    venue = RefusingExchange()
    orders = OrderManager(bus, SimulatedClock(T0), venue)
    order = new_order()
    orders.submit(order)
    assert venue.submitted == []
    assert order.status is OrderStatus.REJECTED
    assert order.reject_reason is RejectionReason.VENUE_BANNED
    assert [type(e) for e in seen] == [OrderRejected]
    assert order.reject_detail == "not sent: banned until 12:00"
    assert orders.open_exposure("BTC/USDT") == (D(0), D(0))
