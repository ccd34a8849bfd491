"""Matching on live trades as they arrive (`LiveMatcher`), on a simulated clock: each trade is
handed to the venue at the moment it is "received", as the live feed's callback does."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.conftest import T0
from tests.venues.simulated.harness import Recorder, Venue
from trading_bot.domain.enums import LiquiditySide
from trading_bot.domain.market import Market
from trading_bot.domain.rejections import RejectionReason as R
from trading_bot.engine.clock import SimulatedClock
from trading_bot.market_data.live.trades import LiveTrade
from trading_bot.venues.simulated.exchange import SimulatedExchange

D = Decimal
SYMBOL = "BTC/USDT"


class LiveVenue(Venue):
    """The simulated exchange on one live market, fed trade by trade."""

    def __init__(self, venue_rules: Market | None = None, **params: Any) -> None:
        params.setdefault("balances", {"USDT": "100000", "BTC": "100"})
        params.setdefault("fees", {"maker": "0.001", "taker": "0.002"})
        self.exchange = SimulatedExchange(params)
        self.exchange.add_live_market(SYMBOL, venue_rules)
        self.clock = SimulatedClock(T0)
        self.reports = Recorder(self.clock)
        self.exchange.bind(self.reports, self.clock)
        self._next_id = 0

    def trade(self, price: str, amount: str = "1", *, at: int, stamped: int | None = None) -> None:
        """A trade received at `at`, stamped by the exchange at `stamped` (default `at`)."""
        self.clock.advance_to(at)
        self._next_id += 1
        trade = LiveTrade(
            SYMBOL, at if stamped is None else stamped, D(price), D(amount), self._next_id, None
        )
        self.exchange.on_live_trade(trade)


def test_a_market_order_fills_at_the_next_trade_as_taker() -> None:
    v = LiveVenue()
    v.trade("100", at=T0 + 10)
    v.at(T0 + 20).send("m", "buy", "0.5")
    assert v.reports.kinds("m") == ["accepted"]  # on arrival; it fills at the next trade
    assert v.free("USDT") == D("100000") - D("50.1")  # held at the last trade: 0.5 x 100 x 1.002
    v.trade("101", at=T0 + 30)
    (fill,) = v.reports.fills("m")
    assert (fill.price, fill.amount, fill.ts_ms) == (D("101"), D("0.5"), T0 + 30)
    assert fill.liquidity is LiquiditySide.TAKER
    assert fill.fee == D("0.1010")  # 50.5 x 0.002
    assert v.total("USDT") == D("100000") - D("50.5") - D("0.1010")
    assert v.total("BTC") == D("100.5")


def test_a_trade_stamped_before_the_order_arrived_does_not_fill_it() -> None:
    v = LiveVenue()
    v.at(T0 + 100).send("m", "sell", "1")
    v.trade("99", at=T0 + 150, stamped=T0 + 90)  # printed before the order, delivered late
    assert v.reports.fills("m") == []
    v.trade("98", at=T0 + 160)
    (fill,) = v.reports.fills("m")
    assert fill.price == D("98")


def test_slippage_moves_the_market_fill_from_the_trade_price() -> None:
    v = LiveVenue(
        slippage={"model": "fixed_bps", "bps": "10"}, markets={SYMBOL: {"price_step": "0.01"}}
    )
    v.at(T0 + 1).send("m", "buy", "1")
    v.trade("100", at=T0 + 2)
    assert v.reports.fills("m")[0].price == D("100.10")


def test_a_limit_rests_then_fills_at_its_limit_as_maker_when_a_trade_goes_through() -> None:
    v = LiveVenue()
    v.at(T0 + 1).send("l", "buy", "2", "limit", price="99")
    v.trade("100", at=T0 + 2)
    assert v.reports.kinds("l") == ["accepted"]
    assert v.free("USDT") < D("100000")  # its funds are reserved while it rests
    v.trade("99", at=T0 + 3)  # touches only: no fill with the default `through`
    assert v.reports.fills("l") == []
    v.trade("98.5", at=T0 + 4)
    (fill,) = v.reports.fills("l")
    assert (fill.price, fill.amount, fill.ts_ms) == (D("99"), D("2"), T0 + 4)
    assert fill.liquidity is LiquiditySide.MAKER
    assert fill.fee == D("0.198")  # 198 x 0.001
    assert v.free("USDT") == v.total("USDT") == D("100000") - D("198") - D("0.198")


def test_a_limit_marketable_at_its_first_trade_fills_as_taker_at_that_trade() -> None:
    v = LiveVenue()
    v.at(T0 + 1).send("l", "sell", "1", "limit", price="95")
    v.trade("97", at=T0 + 2)
    (fill,) = v.reports.fills("l")
    assert (fill.price, fill.liquidity) == (D("97"), LiquiditySide.TAKER)


def test_a_sell_limit_fills_when_a_trade_prints_above_it() -> None:
    v = LiveVenue(fills={"limit_fill": "touch"})
    v.at(T0 + 1).send("l", "sell", "1", "limit", price="105")
    v.trade("100", at=T0 + 2)
    v.trade("104.99", at=T0 + 3)
    assert v.reports.fills("l") == []
    v.trade("105", at=T0 + 4)  # `touch`: equality is enough
    assert v.reports.fills("l")[0].price == D("105")


def test_an_ioc_limit_not_marketable_at_its_first_trade_expires() -> None:
    v = LiveVenue()
    v.at(T0 + 1).send("i", "buy", "1", "limit", price="90", tif="ioc")
    v.trade("100", at=T0 + 2)
    assert v.reports.kinds("i") == ["accepted", "expired"]
    assert v.reports.reason("i") is R.WOULD_NOT_FILL
    assert v.free("USDT") == D("100000")


def test_a_post_only_limit_that_would_cross_is_rejected() -> None:
    v = LiveVenue()
    v.at(T0 + 1).send("p", "buy", "1", "limit", price="101", post_only=True)  # no price yet
    assert v.reports.kinds("p") == []
    v.trade("100", at=T0 + 2)
    assert v.reports.kinds("p") == ["rejected"]  # at its first trade
    assert v.reports.reason("p") is R.POST_ONLY_WOULD_CROSS
    v.at(T0 + 3).send("q", "buy", "1", "limit", price="100.5", post_only=True)
    assert v.reports.kinds("q") == ["rejected"]  # on arrival: it crosses the last trade
    assert v.reports.reason("q") is R.POST_ONLY_WOULD_CROSS


def test_a_market_order_before_any_trade_is_acknowledged_at_its_first_trade() -> None:
    v = LiveVenue()
    v.at(T0 + 1).send("m", "buy", "0.5")
    assert v.reports.kinds("m") == []  # no price to check it against yet
    v.trade("100", at=T0 + 2)
    assert v.reports.kinds("m") == ["accepted", "filled"]


def test_a_post_only_limit_that_does_not_cross_rests_and_fills_as_maker() -> None:
    v = LiveVenue()
    v.at(T0 + 1).send("p", "buy", "1", "limit", price="99", post_only=True)
    v.trade("100", at=T0 + 2)
    v.trade("98", at=T0 + 3)
    (fill,) = v.reports.fills("p")
    assert (fill.price, fill.liquidity) == (D("99"), LiquiditySide.MAKER)


def test_a_stop_market_triggers_when_a_trade_reaches_it_and_fills_at_that_trade() -> None:
    v = LiveVenue()
    v.at(T0 + 1).send("s", "sell", "1", "stop_market", trigger="95")
    v.trade("100", at=T0 + 2)
    v.trade("95.5", at=T0 + 3)
    assert v.reports.kinds("s") == ["accepted"]
    v.trade("94", at=T0 + 4)  # gapped below the trigger: fills at the trade, not the trigger
    assert v.reports.kinds("s") == ["accepted", "triggered", "filled"]
    (fill,) = v.reports.fills("s")
    assert (fill.price, fill.liquidity) == (D("94"), LiquiditySide.TAKER)


def test_a_stop_limit_triggers_then_rests_at_its_limit_until_a_trade_goes_through() -> None:
    v = LiveVenue()
    v.at(T0 + 1).send("s", "buy", "1", "stop_limit", trigger="105", price="105.5")
    v.trade("100", at=T0 + 2)
    v.trade("106", at=T0 + 3)  # triggers; 106 is above the limit: rests
    assert v.reports.kinds("s") == ["accepted", "triggered"]
    v.trade("105", at=T0 + 4)
    (fill,) = v.reports.fills("s")
    assert (fill.price, fill.liquidity) == (D("105.5"), LiquiditySide.MAKER)


def test_a_canceled_resting_order_no_longer_fills() -> None:
    v = LiveVenue()
    order = v.at(T0 + 1).send("l", "buy", "1", "limit", price="99")
    v.trade("100", at=T0 + 2)
    v.exchange.cancel_order(order)
    v.trade("90", at=T0 + 3)
    assert v.reports.kinds("l") == ["accepted", "canceled"]
    assert v.free("USDT") == D("100000")


def test_a_modified_limit_acts_on_the_next_trade_at_its_new_price() -> None:
    v = LiveVenue()
    order = v.at(T0 + 1).send("l", "buy", "1", "limit", price="95")
    v.trade("100", at=T0 + 2)
    v.clock.advance_to(T0 + 3)
    v.exchange.modify_order(order, price=D("101"))
    v.trade("100", at=T0 + 4)  # now marketable: taker at the trade's price
    (fill,) = v.reports.fills("l")
    assert (fill.price, fill.liquidity) == (D("100"), LiquiditySide.TAKER)


def test_an_oco_leg_that_fills_cancels_the_other() -> None:
    v = LiveVenue()
    v.at(T0 + 1).send("tp", "sell", "1", "limit", price="110", oco="g")
    v.send("sl", "sell", "1", "stop_market", trigger="90", oco="g")
    v.trade("100", at=T0 + 2)
    v.trade("111", at=T0 + 3)
    assert v.reports.fills("tp")[0].price == D("110")
    assert v.reports.kinds("sl") == ["accepted", "canceled"]
    v.trade("80", at=T0 + 4)
    assert v.reports.fills("sl") == []


def test_a_market_order_under_the_minimum_notional_is_rejected_at_its_trade() -> None:
    v = LiveVenue(markets={SYMBOL: {"min_notional": "10"}})
    v.at(T0 + 1).send("m", "buy", "0.05")
    v.trade("100", at=T0 + 2)
    assert v.reports.rejections() == [R.BELOW_MIN_NOTIONAL]


def test_rules_come_from_the_live_venue_unless_the_config_gives_them() -> None:
    venue_rules = Market.for_symbol(
        SYMBOL, amount_step=D("0.001"), price_step=D("0.1"), min_notional=D("5"), taker_fee=D("0.5")
    )
    market = LiveVenue(venue_rules).exchange.market(SYMBOL)
    assert market is not None
    assert (market.amount_step, market.price_step, market.min_notional) == (
        D("0.001"),
        D("0.1"),
        D("5"),
    )
    assert (market.maker_fee, market.taker_fee) == (D("0.001"), D("0.002"))  # ours, not theirs
    configured = LiveVenue(venue_rules, markets={SYMBOL: {"amount_step": "0.01"}}).exchange
    assert configured.market(SYMBOL).amount_step == D("0.01")  # type: ignore[union-attr]


def test_trades_between_resting_orders_leave_them_alone() -> None:
    v = LiveVenue()
    v.at(T0 + 1).send("b", "buy", "1", "limit", price="90")
    v.send("s", "sell", "1", "limit", price="110")
    v.send("st", "sell", "1", "stop_market", trigger="85")
    v.trade("100", at=T0 + 2)
    for i, price in enumerate(["95", "105", "90", "110", "100"]):
        v.trade(price, at=T0 + 3 + i)
    assert v.reports.fills() == []
    v.trade("84", at=T0 + 20)  # through the buy limit and the stop at once
    assert v.reports.fills("b")[0].price == D("90")
    assert v.reports.fills("st")[0].price == D("84")
    assert v.reports.fills("s") == []


def test_a_late_print_does_not_move_the_price_an_order_is_acknowledged_at() -> None:
    v = LiveVenue()
    v.trade("100", at=T0 + 10)
    v.trade("50", at=T0 + 11, stamped=T0 + 5)  # an old print delivered late
    v.at(T0 + 20).send("m", "buy", "0.5")
    assert v.free("USDT") == D("100000") - D("50.1")  # held at 100: 0.5 x 100 x 1.002
