"""Order types, time in force, fees, slippage, volume caps and latency on bars, each with a
hand-computed expectation. Bars are 'open high low close', one minute apart from T0."""

from decimal import Decimal

import pytest

from tests.conftest import MINUTE, T0
from tests.venues.simulated.harness import Venue, ohlc
from trading_bot.domain.enums import LiquiditySide
from trading_bot.domain.fill import Fill
from trading_bot.domain.rejections import RejectionReason as R

D = Decimal
END = T0 + 60 * MINUTE
BARS = ohlc(
    [
        "100 101 99 100",  # 0
        "100 102 98 101",  # 1: dips to 98, peaks at 102
        "101 101 97 99",  # 2: dips to 97
        "95 96 94 95",  # 3: gapped down to 95
        "95 110 95 109",  # 4: rallies to 110
    ]
)


def test_resting_buy_limit_fills_at_its_price_when_a_later_bar_trades_through() -> None:
    v = Venue(BARS)
    v.at(T0 + 1).send("a", "buy", "1", "limit", price="98.5")
    v.run(END)
    (fill,) = v.reports.fills("a")
    # bar 1 (opening T0+1m) dips to 98: known, and reported, at its close
    assert (fill.price, fill.ts_ms, fill.liquidity) == (
        D("98.5"),
        T0 + 2 * MINUTE,
        LiquiditySide.MAKER,
    )
    assert fill.fee == D("0.0985")  # maker 0.1% of 98.5


def test_a_bar_that_only_touches_the_limit_does_not_fill_it_unless_touch_is_configured() -> None:
    strict = Venue(BARS)
    strict.at(T0 + 1).send("a", "buy", "1", "limit", price="98")
    strict.run(T0 + 2 * MINUTE)  # bar 1 low is exactly 98; bar 2 (low 97) not closed yet
    assert strict.reports.fills("a") == []
    touch = Venue(BARS, fills={"limit_fill": "touch"})
    touch.at(T0 + 1).send("a", "buy", "1", "limit", price="98")
    touch.run(T0 + 2 * MINUTE)
    assert [f.price for f in touch.reports.fills("a")] == [D("98")]


def test_resting_limit_that_the_market_gapped_through_fills_at_the_open() -> None:
    v = Venue(BARS)
    v.at(T0 + 1).send("a", "buy", "1", "limit", price="96")
    v.run(END)
    (fill,) = v.reports.fills("a")
    assert (fill.price, fill.ts_ms, fill.liquidity) == (
        D("95"),
        T0 + 3 * MINUTE,
        LiquiditySide.MAKER,
    )


def test_marketable_limit_fills_at_the_open_as_taker() -> None:
    v = Venue(BARS)
    v.at(T0 + 1).send("a", "buy", "2", "limit", price="105")
    v.run(END)
    (fill,) = v.reports.fills("a")
    assert (fill.price, fill.liquidity, fill.fee) == (D("100"), LiquiditySide.TAKER, D("0.4"))


def test_ioc_and_fok_that_cannot_fill_at_once_expire_without_resting() -> None:
    v = Venue(BARS)
    v.at(T0 + 1)
    v.send("ioc", "buy", "1", "limit", price="99", tif="ioc")  # bar 1 opens at 100: not marketable
    v.send("fok", "sell", "1", "limit", price="101", tif="fok")
    v.run(END)
    assert v.reports.reason("ioc") is R.WOULD_NOT_FILL
    assert v.reports.reason("fok") is R.WOULD_NOT_FILL
    assert v.reports.fills() == []


def test_volume_cap_partially_fills_ioc_and_refuses_fok() -> None:
    v = Venue(BARS, fills={"max_volume_share": "0.001"})  # 1 BTC of each bar's 1000
    v.at(T0 + 1)
    v.send("ioc", "buy", "3", "limit", price="100", tif="ioc")
    v.send("fok", "buy", "3", "limit", price="100", tif="fok")
    v.run(END)
    assert [f.amount for f in v.reports.fills("ioc")] == [D("1")]
    assert v.reports.kinds("ioc")[-1] == "expired"
    assert v.reports.fills("fok") == []
    assert v.reports.reason("fok") is R.WOULD_NOT_FILL


def test_market_order_over_the_volume_cap_fills_over_the_next_bars_opens() -> None:
    v = Venue(BARS, fills={"max_volume_share": "0.002"})  # 2 BTC per bar
    v.at(T0 + 1).send("a", "buy", "5", "market")
    v.run(END)
    assert [(f.amount, f.price) for f in v.reports.fills("a")] == [
        (D("2"), D("100")),
        (D("2"), D("101")),
        (D("1"), D("95")),
    ]


def test_volume_in_quote_units_is_converted_at_the_fill_price() -> None:
    bars = ohlc(["100 100 100 100", "100 100 100 100"], volume="1000")  # 1000 USDT = 10 BTC
    v = Venue(bars, fills={"max_volume_share": "0.5", "bar_volume_in": "quote"})
    v.at(T0).send("a", "buy", "8", "market")
    v.run(END)
    assert [f.amount for f in v.reports.fills("a")] == [D("5"), D("3")]


def test_post_only_is_rejected_if_it_would_cross_and_otherwise_fills_as_maker() -> None:
    v = Venue(BARS)
    v.at(T0 + 1)
    v.send("cross", "buy", "1", "limit", price="100", post_only=True)
    v.send("rest", "buy", "1", "limit", price="99", post_only=True)
    v.run(END)
    assert v.reports.reason("cross") is R.POST_ONLY_WOULD_CROSS
    (fill,) = v.reports.fills("rest")
    assert (fill.price, fill.liquidity) == (D("99"), LiquiditySide.MAKER)


def test_stop_market_triggers_at_the_stop_or_at_a_gapped_open_then_fills_as_taker() -> None:
    v = Venue(BARS)
    v.at(T0 + 1)
    v.send("up", "buy", "1", "stop_market", trigger="101.5")  # bar 1 high 102
    v.send("down", "sell", "1", "stop_market", trigger="96")  # bar 3 opens at 95, below 96
    v.run(END)
    assert v.reports.kinds("up") == ["accepted", "triggered", "filled"]
    assert [(f.price, f.ts_ms) for f in v.reports.fills("up")] == [(D("101.5"), T0 + 2 * MINUTE)]
    assert [(f.price, f.ts_ms) for f in v.reports.fills("down")] == [(D("95"), T0 + 3 * MINUTE)]


def test_stop_limit_becomes_a_limit_when_triggered() -> None:
    v = Venue(BARS)
    v.at(T0 + 1)
    # triggers at 98 in bar 1's range (at its close) and may sell down to 97.5: marketable
    v.send("within", "sell", "1", "stop_limit", trigger="98", price="97.5")
    # triggers at the 95 open of bar 3, below its limit 96.5: rests, bar 4 trades through it
    v.send("gapped", "sell", "1", "stop_limit", trigger="96", price="96.5")
    v.run(END)
    assert [(f.price, f.ts_ms, f.liquidity) for f in v.reports.fills("within")] == [
        (D("98"), T0 + 2 * MINUTE, LiquiditySide.TAKER)
    ]
    assert [(f.price, f.ts_ms, f.liquidity) for f in v.reports.fills("gapped")] == [
        (D("96.5"), T0 + 5 * MINUTE, LiquiditySide.MAKER)
    ]


@pytest.mark.parametrize(("rule", "winner"), [("stop_first", "sl"), ("limit_first", "tp")])
def test_oco_legs_hit_in_the_same_bar_follow_the_configured_rule(rule: str, winner: str) -> None:
    bars = ohlc(["100 100 100 100", "100 106 94 100"])
    v = Venue(bars, fills={"oco_same_bar": rule})
    v.at(T0 + 1)
    v.send("tp", "sell", "1", "limit", price="105", oco="g")
    v.send("sl", "sell", "1", "stop_market", trigger="95", oco="g")
    v.run(END)
    loser = "tp" if winner == "sl" else "sl"
    assert len(v.reports.fills(winner)) == 1
    assert v.reports.kinds(loser)[-1] == "canceled"
    assert v.total("BTC") == D("99")


def test_oco_leg_reached_at_a_gapped_open_wins_whatever_the_rule() -> None:
    bars = ohlc(["100 100 100 100", "106 107 94 100"])  # opens above the take-profit
    v = Venue(bars)
    v.at(T0 + 1)
    v.send("tp", "sell", "1", "limit", price="105", oco="g")
    v.send("sl", "sell", "1", "stop_market", trigger="95", oco="g")
    v.run(END)
    assert [f.price for f in v.reports.fills("tp")] == [D("106")]
    assert v.reports.kinds("sl")[-1] == "canceled"


def test_oco_legs_share_one_reservation() -> None:
    v = Venue(BARS, balances={"BTC": "1"})
    v.at(T0 + 1)
    v.send("tp", "sell", "1", "limit", price="200", oco="g")
    v.send("sl", "sell", "1", "stop_market", trigger="50", oco="g")
    v.run(T0 + MINUTE + 1)
    assert v.reports.kinds("sl") == ["accepted"]
    assert v.free("BTC") == 0


def test_open_orders_reserve_funds_and_release_them_on_cancel() -> None:
    v = Venue(BARS, balances={"USDT": "1000"})
    v.at(T0 + 1)
    a = v.send("a", "buy", "5", "limit", price="90")  # reserves 5 x 90 x 1.002 = 450.9
    v.send("b", "buy", "7", "limit", price="90")  # needs 631.26, only 549.1 free
    v.run(T0 + MINUTE + 1)
    assert v.free("USDT") == D("549.1")
    assert v.reports.reason("b") is R.INSUFFICIENT_BALANCE
    v.exchange.cancel_order(a)
    assert v.reports.kinds("a")[-1] == "canceled"
    assert v.free("USDT") == D("1000")
    v.exchange.cancel_order(a)
    assert v.reports.kinds("a")[-1] == "cancel_rejected"


def test_modify_reprices_a_resting_order_and_its_reservation() -> None:
    v = Venue(BARS, balances={"USDT": "1000"})
    v.at(T0 + 1)
    order = v.send("a", "buy", "2", "limit", price="90")
    v.run(T0 + MINUTE + 30_000)
    v.exchange.modify_order(order, price=D("97.5"))
    assert v.free("USDT") == D("1000") - D("2") * D("97.5") * D("1.002")
    v.run(END)
    # treated as new from bar 2, whose range (low 97) trades through the new price
    assert [(f.price, f.ts_ms) for f in v.reports.fills("a")] == [(D("97.5"), T0 + 3 * MINUTE)]
    v.exchange.modify_order(order, price=D("96"))  # already filled: nothing to modify
    assert v.reports.kinds("a")[-1] == "modify_rejected"


def test_modify_that_needs_more_than_is_free_is_refused_and_keeps_the_order() -> None:
    v = Venue(BARS, balances={"USDT": "300"})
    order = v.at(T0 + 1).send("a", "buy", "2", "limit", price="90")
    v.run(T0 + MINUTE + 1)
    v.exchange.modify_order(order, amount=D("4"))
    assert v.reports.kinds("a")[-1] == "modify_rejected"
    assert v.reports.reason("a") is None
    assert v.free("USDT") == D("300") - D("2") * D("90") * D("1.002")


def test_fixed_bps_slippage_worsens_taker_fills_on_the_price_grid() -> None:
    v = Venue(
        BARS,
        slippage={"model": "fixed_bps", "bps": "10"},
        markets={"BTC/USDT": {"price_step": "0.01"}},
    )
    v.at(T0 + 1)
    v.send("b", "buy", "1", "market")
    v.send("s", "sell", "1", "market")
    v.run(END)
    assert [f.price for f in v.reports.fills("b")] == [D("100.10")]
    assert [f.price for f in v.reports.fills("s")] == [D("99.90")]


def test_volume_slippage_grows_with_the_share_of_volume_taken_up_to_a_cap() -> None:
    v = Venue(BARS, slippage={"model": "volume", "bps": "100", "max_bps": "30"})
    v.at(T0 + 1)
    v.send("small", "buy", "100", "market")  # 10% of 1000: 10 bps
    v.send("big", "buy", "600", "market")  # 60%: 60 bps, capped at 30
    v.run(END)
    assert [f.price for f in v.reports.fills("small")] == [D("100.1")]
    assert [f.price for f in v.reports.fills("big")] == [D("100.3")]


def test_submit_latency_delays_the_fill_bar_and_cancel_latency_can_lose_the_race() -> None:
    v = Venue(BARS, latency={"submit_ms": 55_000, "cancel_ms": 120_000})
    v.at(T0 + 10_000).send("a", "buy", "1", "market")  # arrives T0+65s: fills at bar 2
    v.run(END)
    assert [(f.ts_ms, f.price) for f in v.reports.fills("a")] == [(T0 + 2 * MINUTE, D("101"))]

    w = Venue(BARS, latency={"cancel_ms": 200_000})
    order = w.at(T0 + 1).send("b", "buy", "1", "limit", price="97.5")
    w.exchange.cancel_order(
        order
    )  # lands at T0+200s; bar 2 (low 97) filled it at its close, T0+180s
    w.run(END)
    assert w.reports.kinds("b") == ["accepted", "filled", "cancel_rejected"]


def test_resting_order_expires_at_its_expiry() -> None:
    v = Venue(BARS)
    v.at(T0 + 1).send("a", "buy", "1", "limit", price="50", expires=T0 + 150_000)
    v.run(END)
    assert v.reports.kinds("a") == ["accepted", "expired"]
    assert v.reports.reason("a") is R.EXPIRED
    assert v.free("USDT") == D("100000")


def test_same_seed_same_run_with_latency_jitter() -> None:
    def run(seed: int) -> list[int]:
        v = Venue(BARS, latency={"submit_ms": 1000, "jitter_ms": 100_000}, seed=seed)
        for i in range(5):
            v.at(T0 + i).send(f"o{i}", "buy", "1", "market")
        v.run(END)
        return [f.ts_ms for f in v.reports.fills()]

    assert run(7) == run(7)
    assert run(7) != run(8) or run(7) != run(9)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"kind": "limit"}, R.INVALID_ORDER),  # no price
        ({"kind": "stop_market"}, R.INVALID_ORDER),  # no trigger
        ({"kind": "limit", "price": "100.005"}, R.INVALID_PRICE_PRECISION),
        ({"kind": "market", "post_only": True}, R.INVALID_ORDER),
        ({"kind": "market", "symbol": "DOGE/USDT"}, R.UNKNOWN_ASSET),
    ],
)
def test_malformed_orders_are_rejected_with_the_venue_reason(kwargs: dict, reason: R) -> None:
    v = Venue(BARS, markets={"BTC/USDT": {"price_step": "0.01"}})
    v.at(T0 + 1).send("a", "buy", "1", **kwargs)
    assert v.reports.events == [("rejected", "a", reason)]


def test_nothing_about_a_bar_range_is_known_before_the_bar_closes() -> None:
    v = Venue(BARS)
    v.at(T0 + 1)
    v.send("limit", "buy", "1", "limit", price="98.5")
    v.send("stop", "sell", "1", "stop_market", trigger="98.2")
    v.run(T0 + MINUTE + 1)  # inside bar 1, whose low (98) is not known yet
    assert v.reports.fills() == []
    assert "triggered" not in v.reports.kinds("stop")
    v.run(T0 + 2 * MINUTE)
    assert {f.client_order_id for f in v.reports.fills()} == {"limit", "stop"}


def test_an_order_expiring_inside_a_bar_does_not_fill_on_that_bars_range() -> None:
    v = Venue(BARS)
    v.at(T0 + 1).send("a", "buy", "1", "limit", price="98.5", expires=T0 + 90_000)
    v.run(END)
    assert v.reports.kinds("a") == ["accepted", "expired"]


def test_oco_stop_whose_fill_spills_into_the_next_bar_keeps_going() -> None:
    bars = ohlc(["100 100 100 100", "100 101 95 96", "96 97 94 95", "95 96 93 94"], volume="1")
    v = Venue(bars, fills={"max_volume_share": "0.5"}, balances={"BTC": "2"})
    v.at(T0 + 1)
    v.send("tp", "sell", "2", "limit", price="110", oco="g")
    v.send("sl", "sell", "2", "stop_market", trigger="96", oco="g")
    v.run(END)
    assert [f.amount for f in v.reports.fills("sl")] == [D("0.5"), D("0.5"), D("0.5")]
    assert v.reports.kinds("tp")[-1] == "canceled"


def test_a_buy_cannot_overspend_when_the_maker_fee_is_the_higher_one() -> None:
    v = Venue(BARS, balances={"USDT": "98.5985"}, fees={"maker": "0.01", "taker": "0.001"})
    v.at(T0 + 1).send("a", "buy", "1", "limit", price="98.5")
    v.run(END)
    assert v.reports.reason("a") is R.INSUFFICIENT_BALANCE
    assert v.total("USDT") >= 0


def test_modify_to_a_crossing_price_is_treated_as_a_new_order() -> None:
    v = Venue(BARS, balances={"USDT": "1000"})
    order = v.at(T0 + 1).send("a", "buy", "1", "limit", price="90")
    v.run(T0 + MINUTE + 30_000)
    v.exchange.modify_order(order, price=D("105"))
    v.run(END)
    # marketable at bar 2's open: a taker fill at the open, not a maker fill at 105
    assert [(f.price, f.liquidity) for f in v.reports.fills("a")] == [
        (D("101"), LiquiditySide.TAKER)
    ]


def test_modify_of_the_amount_only_still_checks_min_notional() -> None:
    v = Venue(BARS, markets={"BTC/USDT": {"min_notional": "50"}})
    order = v.at(T0 + 1).send("a", "buy", "1", "limit", price="90")
    v.run(T0 + MINUTE + 1)
    v.exchange.modify_order(order, amount=D("0.1"))
    assert v.reports.kinds("a")[-1] == "modify_rejected"


def test_market_order_meeting_a_spent_volume_cap_waits_for_the_next_bar() -> None:
    v = Venue(
        BARS, fills={"max_volume_share": "0.001"}, markets={"BTC/USDT": {"min_notional": "10"}}
    )
    v.at(T0 + 1)
    v.send("a", "buy", "1", "market")
    v.send("b", "buy", "1", "market")  # bar 1's 1 BTC is taken by a
    v.run(END)
    assert [(f.amount, f.ts_ms) for f in v.reports.fills("b")] == [(D("1"), T0 + 2 * MINUTE)]
    assert all(f.amount > 0 for f in v.reports.fills())


def test_an_oco_leg_sent_after_its_sibling_executed_is_canceled() -> None:
    v = Venue(BARS)
    v.at(T0 + 1)
    v.send("tp", "sell", "1", "limit", price="99", oco="g")  # marketable at bar 1's open
    v.run(T0 + MINUTE + 1)
    v.send("sl", "sell", "1", "stop_market", trigger="95", oco="g")
    assert v.reports.kinds("sl") == ["canceled"]


def test_a_price_at_or_below_zero_is_refused_as_not_above_zero() -> None:
    v = Venue(BARS)
    v.at(T0 + 1).send("a", "buy", "1", "limit", price="-5")
    v.send("b", "buy", "1", "limit", price="0")
    v.run(END)
    assert v.reports.reason("a") is v.reports.reason("b") is R.INVALID_PRICE_PRECISION
    assert v.reports.detail("a") == "price -5 is not above zero"
    assert v.reports.detail("b") == "price 0 is not above zero"


def test_an_order_is_acknowledged_on_arrival_and_can_be_modified_before_its_first_bar() -> None:
    v = Venue(BARS)
    order = v.at(T0 + 30_000).send("a", "buy", "1", "limit", price="90")  # first bar: T0+1m
    assert v.reports.kinds("a") == ["accepted"]
    v.exchange.modify_order(order, price=D("91"))
    assert v.reports.kinds("a") == ["accepted", "modified"]


def test_an_order_modified_before_its_first_bar_meets_that_bar_with_its_new_terms() -> None:
    v = Venue(BARS)
    order = v.at(T0 + MINUTE).send("a", "buy", "1", "limit", price="100.5")  # bar 1 opens now
    v.exchange.modify_order(order, amount=D("2"))
    v.run(END)
    (fill,) = v.reports.fills("a")  # marketable at bar 1's open (100): taken there, as taker
    assert (fill.amount, fill.price, fill.ts_ms) == (D("2"), D("100"), T0 + MINUTE)
    assert fill.liquidity is LiquiditySide.TAKER


def test_a_market_order_is_acknowledged_on_arrival_holding_funds_at_the_last_close() -> None:
    v = Venue(BARS, balances={"USDT": "1000"})
    v.at(T0 + MINUTE + 1).send("m", "buy", "2")  # bar 0 closed at 100; bar 2 opens at 101
    assert v.reports.kinds("m") == ["accepted"]
    assert v.free("USDT") == D("1000") - D("2") * D("100") * D("1.002")
    v.send("n", "buy", "3")  # holds 300.6 more: 499.0 left
    v.send("o", "buy", "5")  # 501 at the last close: more than is free
    assert v.reports.kinds("o") == ["rejected"]
    assert v.reports.reason("o") is R.INSUFFICIENT_BALANCE
    v.run(END)
    (fill,) = v.reports.fills("m")
    assert (fill.price, fill.ts_ms, fill.fee) == (D("101"), T0 + 2 * MINUTE, D("0.404"))
    assert v.reports.kinds("m") == ["accepted", "filled"]


def test_an_acknowledged_market_order_the_next_open_makes_unaffordable_expires() -> None:
    v = Venue(BARS, balances={"USDT": "201"})
    v.at(T0 + MINUTE + 1).send("m", "buy", "2")  # 200.4 at the last close (100): taken
    assert v.reports.kinds("m") == ["accepted"]
    v.run(END)  # bar 2 opens at 101: 202.404 needed
    assert v.reports.kinds("m") == ["accepted", "expired"]
    assert v.reports.reason("m") is R.INSUFFICIENT_BALANCE
    assert v.free("USDT") == v.total("USDT") == D("201")


def test_a_post_only_limit_crossing_the_last_close_is_rejected_on_arrival() -> None:
    v = Venue(BARS)
    v.at(T0 + MINUTE + 1).send("p", "sell", "1", "limit", price="99.5", post_only=True)
    assert v.reports.kinds("p") == ["rejected"]
    assert v.reports.detail("p") == "limit 99.5 would cross the last price 100"


@pytest.mark.parametrize("later_price", ["108.5", "108.8"])
def test_a_resting_limit_keeps_its_place_in_line_for_a_capped_bar_volume(later_price: str) -> None:
    bars = ohlc(
        ["100 101 99 100", "102 110 101 104", "104 109 103 105", "105 106 104 105"],
        volume="10",
    )
    v = Venue(bars, fills={"max_volume_share": "0.5"})  # 5 BTC per bar
    v.at(T0 + 30_000).send("first", "sell", "8", "limit", price="108.5")
    v.run(T0 + 90_000)  # bar 1 (high 110) filled 5 of it, at its close
    v.send("later", "sell", "3", "limit", price=later_price)
    v.run(END)
    fills = [(f.client_order_id, f.amount, f.ts_ms) for f in v.reports.fills()]
    assert fills == [
        ("first", D("5"), T0 + 2 * MINUTE),
        # bar 2 (high 109): the order waiting since bar 1 is served first, then the newcomer
        ("first", D("3"), T0 + 3 * MINUTE),
        ("later", D("2"), T0 + 3 * MINUTE),
    ]


def test_an_order_canceled_by_whoever_hears_its_partial_fill_holds_nothing_after() -> None:
    bars = ohlc(["100 101 99 100", "100 100 97 98", "98 99 96 97"], volume="10")
    v = Venue(bars, balances={"USDT": "1000"}, fills={"max_volume_share": "0.1"})  # 1 per bar
    order = v.at(T0 + 1).send("a", "buy", "3", "limit", price="98")
    heard = v.reports.order_filled

    def cancel_on_fill(fill: Fill) -> None:  # a strategy reacting at once, latency 0
        heard(fill)
        v.exchange.cancel_order(order)

    v.reports.order_filled = cancel_on_fill  # type: ignore[method-assign]
    v.run(END)
    assert [f.amount for f in v.reports.fills("a")] == [D("1")]
    assert v.reports.kinds("a")[-1] == "canceled"
    # 1000 - 98 x 1.001 (maker): nothing of the canceled rest stays reserved
    assert v.free("USDT") == v.total("USDT") == D("901.902")
