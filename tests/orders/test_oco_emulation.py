"""The order manager links OCO legs itself on a venue that does not (`Venue.links_oco`)."""

from decimal import Decimal

from tests.conftest import T0
from trading_bot.domain.enums import LiquiditySide, OrderType, Side
from trading_bot.domain.fill import Fill
from trading_bot.domain.market import Market
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import RejectionReason
from trading_bot.engine.bus import EventBus
from trading_bot.engine.clock import Clock, SimulatedClock
from trading_bot.orders.manager import OrderManager
from trading_bot.venues.base import Venue, VenueReports
from trading_bot.venues.simulated.exchange import SimulatedExchange

D = Decimal
S = OrderStatus


class UnlinkedVenue(Venue):
    """Takes every order and records the requests; the test reports what the venue did."""

    Params = SimulatedExchange.Params

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, str, Decimal | None]] = []

    def bind(self, reports: VenueReports, clock: Clock) -> None:
        self.reports = reports

    def market(self, symbol: str) -> Market | None:
        return Market.for_symbol(symbol)

    def balances(self) -> dict[str, Decimal]:
        return {}

    def submit_order(self, order: Order) -> None:
        self.reports.order_accepted(order.client_order_id, f"v-{order.client_order_id}")

    def cancel_order(self, order: Order) -> None:
        self.requests.append(("cancel", order.client_order_id, None))

    def modify_order(
        self, order: Order, *, amount: Decimal | None = None, price: Decimal | None = None
    ) -> None:
        self.requests.append(("modify", order.client_order_id, amount))


def legs(amount: str = "1") -> tuple[OrderManager, UnlinkedVenue, Order, Order]:
    venue = UnlinkedVenue()
    orders = OrderManager(EventBus(), SimulatedClock(T0), venue)
    stop = Order(
        "stop", "BTC/USDT", Side.SELL, OrderType.STOP_MARKET, D(amount), T0, "s",
        trigger_price=D(95), oco_group="g",
    )  # fmt: skip
    take_profit = Order(
        "tp", "BTC/USDT", Side.SELL, OrderType.LIMIT, D(amount), T0, "s",
        price=D(110), oco_group="g",
    )  # fmt: skip
    orders.submit(stop)
    orders.submit(take_profit)
    return orders, venue, stop, take_profit


def sell(order: Order, amount: str, trade_id: str) -> Fill:
    return Fill(
        trade_id, order.client_order_id, "BTC/USDT", Side.SELL, D(amount), D(100), D(0),
        "USDT", LiquiditySide.TAKER, T0,
    )  # fmt: skip


def test_a_stop_that_triggers_gets_the_take_profit_canceled() -> None:
    orders, venue, stop, _take_profit = legs()
    orders.order_triggered("stop")
    assert venue.requests == [("cancel", "tp", None)]
    orders.order_filled(sell(stop, "1", "t1"))
    assert venue.requests == [("cancel", "tp", None)]  # asked once


def test_a_filled_take_profit_gets_the_stop_canceled() -> None:
    orders, venue, _stop, take_profit = legs()
    orders.order_filled(sell(take_profit, "1", "t1"))
    assert venue.requests == [("cancel", "stop", None)]


def test_a_partial_fill_reduces_the_other_leg_to_what_is_left() -> None:
    orders, venue, _stop, take_profit = legs()
    orders.order_filled(sell(take_profit, "0.4", "t1"))
    assert venue.requests == [("modify", "stop", D("0.6"))]
    orders.order_modified("stop", D("0.6"), None)
    orders.order_filled(sell(take_profit, "0.6", "t2"))
    assert venue.requests[-1] == ("cancel", "stop", None)


def test_a_reduction_the_venue_refuses_cancels_the_leg() -> None:
    orders, venue, _stop, take_profit = legs()
    orders.order_filled(sell(take_profit, "0.4", "t1"))
    orders.modify_rejected("stop", RejectionReason.INVALID_ORDER, "refused")
    assert venue.requests[-1] == ("cancel", "stop", None)


def test_both_legs_filling_at_once_is_an_over_sell_raised_as_an_alarm(errors: list[str]) -> None:
    orders, _venue, stop, take_profit = legs()
    alarms: list[tuple[str, str]] = []
    assert orders.oco is not None
    orders.oco.alarm = lambda title, body: alarms.append((title, body))
    orders.order_filled(sell(stop, "1", "t1"))
    orders.order_filled(sell(take_profit, "1", "t2"))  # before the cancel reached the venue
    assert [title for title, _ in alarms] == ["OCO OVER-SELL on BTC/USDT"]
    assert any(line.startswith("OCO OVER-SELL") for line in errors)


def test_after_a_restart_the_stored_legs_are_still_linked() -> None:
    _, _, stop, take_profit = legs()
    venue = UnlinkedVenue()
    restarted = OrderManager(EventBus(), SimulatedClock(T0), venue)
    restarted.restore(stop, [])
    restarted.restore(take_profit, [])
    restarted.order_filled(sell(stop, "1", "t1"))
    assert venue.requests == [("cancel", "tp", None)]


def test_a_venue_that_links_oco_itself_gets_no_emulation() -> None:
    orders = OrderManager(EventBus(), SimulatedClock(T0), SimulatedExchange())
    assert orders.oco is None
