"""CombinedStrategy: scoring, the confirmation buffer, too little data.

The internal analysis is scripted in most tests (`analyze_market` is the strategy's public
seam), so each expected score is hand-computed from the formula
(1 - internal_weight) x confidence + internal_weight x agreement.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tests.conftest import MINUTE, T0, build_test_bot, loaded_config, make_bars, make_signal
from trading_bot.app import Bot
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.engine.signal_ledger import SignalStatus
from trading_bot.strategy.base import DEFERRED
from trading_bot.strategy.combined import CombinedStrategy
from trading_bot.strategy.market_analysis import MarketView

D = Decimal
UP, DOWN = 1, -1


def combined_bot(analysis: Callable[[int], MarketView] | None = None, **params: Any) -> Bot:
    """A bot on six 1m BTC/USDT bars (opens 100..105) running the combined strategy, its
    analysis scripted by the clock's now when `analysis` is given."""
    bars = make_bars("BTC/USDT", ["100", "101", "102", "103", "104", "105"])
    bot = build_test_bot(loaded_config(strategy={"class": "combined", "params": params}), bars)
    if analysis is not None:
        strategy = combined(bot)
        strategy.analyze_market = lambda symbol: analysis(bot.clock.now_ms())  # type: ignore[method-assign]
    return bot


def combined(bot: Bot) -> CombinedStrategy:
    strategy = bot.kernel.strategy
    assert isinstance(strategy, CombinedStrategy)
    return strategy


def always(direction: int, strength: str) -> Callable[[int], MarketView]:
    return lambda now: MarketView(direction, D(strength))


def status(bot: Bot, signal_id: str = "s1") -> tuple[SignalStatus, str | None]:
    record = bot.kernel.ledger.get(("", signal_id))
    assert record is not None
    return record.status, record.reason.value if record.reason else None


# -- scoring and confidence filtering --------------------------------------------------------


def test_combined_score_weighs_detector_confidence_and_internal_agreement() -> None:
    bot = combined_bot(always(UP, "0.6"), internal_weight="0.25")
    signal = make_signal(confidence="0.8")
    (scored,) = combined(bot).process_signal(signal)  # type: ignore[misc]
    # 0.75 x 0.8 + 0.25 x 0.6
    assert scored.confidence == D("0.75")
    assert signal.confidence == D("0.8")  # the caller's signal is untouched


def test_internal_weight_one_trusts_only_the_analysis_and_zero_only_the_detector() -> None:
    only_internal = combined_bot(always(UP, "0.3"), internal_weight="1")
    (a,) = combined(only_internal).process_signal(make_signal(confidence="0.9"))  # type: ignore[misc]
    assert a.confidence == D("0.3")
    only_detector = combined_bot(always(UP, "0.3"), internal_weight="0")
    (b,) = combined(only_detector).process_signal(make_signal(confidence="0.9"))  # type: ignore[misc]
    assert b.confidence == D("0.9")


def test_a_combined_score_below_min_confidence_is_rejected_with_the_arithmetic() -> None:
    bot = combined_bot(always(UP, "0.7"), internal_weight="0.5", min_confidence="0.7")
    result = combined(bot).process_signal(make_signal(confidence="0.6"))
    # 0.5 x 0.6 + 0.5 x 0.7 = 0.65
    assert isinstance(result, Rejection)
    assert result.reason is RejectionReason.LOW_CONFIDENCE
    assert "combined score 0.65 < min_confidence 0.7" in result.detail
    passing = combined(bot).process_signal(make_signal(signal_id="s2", confidence="0.8"))
    assert [s.confidence for s in passing] == [D("0.75")]  # type: ignore[union-attr]


def test_without_required_confirmation_a_disagreeing_analysis_adds_nothing() -> None:
    bot = combined_bot(
        always(DOWN, "0.7"), require_confirmation=False, internal_weight="0.5", min_confidence="0.4"
    )
    (scored,) = combined(bot).process_signal(make_signal(confidence="0.9"))  # type: ignore[misc]
    assert scored.confidence == D("0.45")  # 0.5 x 0.9 + 0.5 x 0
    assert combined(bot).waiting == 0


def test_a_sell_is_confirmed_by_a_falling_market_and_a_target_by_the_trade_it_needs() -> None:
    bot = combined_bot(always(DOWN, "1"), internal_weight="0.5")
    (sell,) = combined(bot).process_signal(make_signal(side="sell"))  # type: ignore[misc]
    assert sell.confidence == D(1)
    # flat, target -2: the trade needed is a sell, which the falling market confirms
    target = make_signal(signal_id="t", side=None, size=None, target_position="-2")
    assert combined(bot).process_signal(target) == [target]
    assert combined(bot).process_signal(make_signal(signal_id="b")) is DEFERRED


def test_a_signal_that_could_not_pass_even_if_confirmed_is_rejected_at_once() -> None:
    bot = combined_bot(always(DOWN, "1"), internal_weight="0.5", min_confidence="0.7")
    result = combined(bot).process_signal(make_signal(confidence="0.2"))
    # best case 0.5 x 0.2 + 0.5 x 1 = 0.6 < 0.7: waiting could never help
    assert isinstance(result, Rejection) and result.reason is RejectionReason.LOW_CONFIDENCE
    assert "even full agreement would score 0.6" in result.detail
    assert combined(bot).waiting == 0


# -- the confirmation buffer ------------------------------------------------------------------


def deliver(bot: Bot, signal: Any) -> None:
    bot.clock.advance_to(signal.created_at, inclusive=False)
    bot.kernel.submit_signal(signal)


def test_an_unconfirmed_signal_waits_and_executes_once_a_later_analysis_confirms() -> None:
    turns_up_at = T0 + 3 * MINUTE
    bot = combined_bot(
        lambda now: MarketView(UP, D("0.8")) if now >= turns_up_at else MarketView(DOWN, D("0.5")),
        internal_weight="0.5",
        buffer_ttl_s=600,
    )
    deliver(bot, make_signal(created_at=T0 + 30_000, confidence="0.6"))
    assert status(bot) == (SignalStatus.PENDING, None)
    assert combined(bot).waiting == 1
    bot.clock.advance_to(turns_up_at - 1)  # re-checked at 00:01 and 00:02: still down
    assert bot.orders.all_orders == []
    bot.clock.advance_to(T0 + 5 * MINUTE)
    (order,) = bot.orders.all_orders
    assert order.created_ms == turns_up_at  # placed by the 00:03 re-check
    (fill,) = bot.portfolio.fills
    assert fill.price == D("103")  # the open of the 00:03 bar
    assert status(bot) == (SignalStatus.EXECUTED, None)
    assert combined(bot).waiting == 0


def test_an_unconfirmed_signal_is_rejected_not_confirmed_when_its_buffer_time_runs_out() -> None:
    bot = combined_bot(always(DOWN, "0.5"), buffer_ttl_s=150)
    deliver(bot, make_signal(created_at=T0 + 30_000))
    bot.clock.advance_to(T0 + 179_999)
    assert status(bot) == (SignalStatus.PENDING, None)
    bot.clock.advance_to(T0 + 180_000)  # 00:00:30 + 150 s
    record = bot.kernel.ledger.get(("", "s1"))
    assert record is not None and record.reason is RejectionReason.NOT_CONFIRMED
    assert "buffer_ttl_s 150" in record.detail and "down with strength 0.5" in record.detail
    assert combined(bot).waiting == 0
    assert bot.clock.next_timer_ms() is None  # no timer left re-checking an empty buffer
    assert bot.orders.all_orders == []


def test_a_waiting_signal_whose_own_expiry_comes_first_is_rejected_expired() -> None:
    bot = combined_bot(always(DOWN, "0.5"), buffer_ttl_s=600)
    deliver(bot, make_signal(created_at=T0 + 30_000, ttl_s="100"))
    bot.clock.advance_to(T0 + 10 * MINUTE)
    record = bot.kernel.ledger.get(("", "s1"))
    assert record is not None and record.reason is RejectionReason.EXPIRED
    assert f"expired at {T0 + 130_000}" in record.detail


def test_the_buffer_is_bounded_and_pushes_out_the_oldest_signal() -> None:
    bot = combined_bot(always(DOWN, "0.5"), buffer_max=2)
    for n in range(3):
        deliver(bot, make_signal(signal_id=f"s{n}", created_at=T0 + 1_000 + n))
    assert combined(bot).waiting == 2
    assert status(bot, "s0") == (SignalStatus.REJECTED, "buffer_full")
    assert status(bot, "s1")[0] is SignalStatus.PENDING
    assert status(bot, "s2")[0] is SignalStatus.PENDING


def test_memory_stays_bounded_over_a_long_stream_of_unconfirmed_signals() -> None:
    bot = combined_bot(always(DOWN, "0.5"), buffer_max=5, buffer_ttl_s=120)
    most = 0
    for n in range(2_000):
        deliver(bot, make_signal(signal_id=f"s{n}", created_at=T0 + n * 7_000))
        most = max(most, combined(bot).waiting)
    bot.clock.advance_to(T0 + 2_000 * 7_000 + 120_000)
    assert most == 5
    assert combined(bot).waiting == 0
    counts = bot.kernel.ledger.rejection_counts()
    assert counts["buffer_full"] + counts["not_confirmed"] == 2_000


def test_stop_rejects_every_waiting_signal_not_confirmed() -> None:
    bot = combined_bot(always(DOWN, "0.5"))
    deliver(bot, make_signal(created_at=T0 + 30_000))
    combined(bot).stop()
    record = bot.kernel.ledger.get(("", "s1"))
    assert record is not None and record.reason is RejectionReason.NOT_CONFIRMED
    assert "the run ended before confirmation" in record.detail
    assert bot.clock.next_timer_ms() is None


# -- too little data and the real analysis ----------------------------------------------------


def test_too_little_data_rejects_insufficient_data_by_default() -> None:
    bot = combined_bot(fast_period=2, slow_period=4, momentum_period=2)
    # at 00:02:30 the closes known on the grid are those of the 00:00 and 00:01 bars
    deliver(bot, make_signal(created_at=T0 + 2 * MINUTE + 30_000))
    record = bot.kernel.ledger.get(("", "s1"))
    assert record is not None and record.reason is RejectionReason.INSUFFICIENT_DATA
    assert record.detail == f"2 of the 4 closes needed on the 60s grid up to {T0 + 2 * MINUTE}"


def test_too_little_data_can_pass_on_the_detector_alone() -> None:
    bot = combined_bot(
        fast_period=2, slow_period=4, momentum_period=2,
        on_insufficient_data="detector_only", min_confidence="0.5",
    )  # fmt: skip
    strategy = combined(bot)
    bot.clock.advance_to(T0 + 2 * MINUTE + 30_000)
    signal = make_signal(confidence="0.7")
    assert strategy.process_signal(signal) == [signal]  # scored on 0.7 alone
    low = strategy.process_signal(make_signal(signal_id="s2", confidence="0.4"))
    assert isinstance(low, Rejection) and low.reason is RejectionReason.LOW_CONFIDENCE
    assert "detector alone: insufficient data" in low.detail


def test_an_unknown_symbol_is_left_to_sizing_to_reject_as_unknown_asset() -> None:
    bot = combined_bot()
    deliver(bot, make_signal(asset="ETH/USDT", created_at=T0 + 5 * MINUTE))
    assert status(bot) == (SignalStatus.REJECTED, "unknown_asset")


def test_analysis_of_a_symbol_without_market_data_says_so() -> None:
    bot = combined_bot()
    view = combined(bot).analyze_market("ETH/USDT")
    assert view.insufficient == "no market data for ETH/USDT"


def test_analysis_reads_trend_and_momentum_of_closes_known_now() -> None:
    # closes (the next bar's open): 100, 101, 102, 103, 104, 105
    bot = combined_bot(fast_period=2, slow_period=4, momentum_period=2, full_strength_move="0.05")
    bot.clock.advance_to(T0 + 5 * MINUTE + 59_999)
    # grid up to 00:05: closes of the 00:01..00:04 bars are 102, 103, 104, 105
    view = combined(bot).analyze_market("BTC/USDT")
    trend = (D("104.5") / D("103.5") - 1) / D("0.05")  # fast 104.5, slow 103.5
    momentum = (D(105) / D(103) - 1) / D("0.05")
    expected = ((trend + momentum) / 2).quantize(D("0.0001"))
    assert (view.direction, view.strength, view.insufficient) == (UP, expected, None)


def test_strong_moves_clip_to_full_strength_and_a_flat_market_has_no_direction() -> None:
    falling = make_bars("BTC/USDT", ["110", "108", "106", "104", "102", "100"])
    bot = build_test_bot(
        loaded_config(
            strategy={
                "class": "combined",
                "params": {"fast_period": 2, "slow_period": 3, "momentum_period": 2},
            }
        ),
        falling,
    )
    bot.clock.advance_to(T0 + 5 * MINUTE)
    assert combined(bot).analyze_market("BTC/USDT") == MarketView(DOWN, D("1.0"))
    flat = make_bars("BTC/USDT", ["100"] * 6)
    bot = build_test_bot(
        loaded_config(
            strategy={
                "class": "combined",
                "params": {"fast_period": 2, "slow_period": 3, "momentum_period": 2},
            }
        ),
        flat,
    )
    bot.clock.advance_to(T0 + 5 * MINUTE)
    assert combined(bot).analyze_market("BTC/USDT") == MarketView(0, D("0.0"))


def test_analysis_never_reads_a_close_from_after_now() -> None:
    # flat until the 00:03 bar, which closes at 120 (known from 00:04)
    bars = make_bars("BTC/USDT", ["100", "100", "100", "100", "120", "120"])
    bot = build_test_bot(
        loaded_config(
            strategy={
                "class": "combined",
                "params": {"fast_period": 1, "slow_period": 2, "momentum_period": 1},
            }
        ),
        bars,
    )
    bot.clock.advance_to(T0 + 4 * MINUTE - 1)
    assert combined(bot).analyze_market("BTC/USDT").direction == 0
    bot.clock.advance_to(T0 + 4 * MINUTE)
    assert combined(bot).analyze_market("BTC/USDT").direction == UP


def test_a_signal_confirmed_after_its_ttl_from_receipt_ran_out_is_rejected_expired() -> None:
    turns_up_at = T0 + 3 * MINUTE
    bot = combined_bot(
        lambda now: MarketView(UP, D("1")) if now >= turns_up_at else MarketView(DOWN, D("1")),
        buffer_ttl_s=600,
    )
    bot.clock.advance_to(T0 + 30_000)
    # no created_at: the ttl runs from receipt (00:00:30), which only the kernel knows
    bot.kernel.submit_signal(make_signal(created_at=None, ttl_s="90"))
    bot.clock.advance_to(T0 + 5 * MINUTE)
    record = bot.kernel.ledger.get(("", "s1"))
    assert record is not None and record.reason is RejectionReason.EXPIRED
    assert record.detail == f"expired at {T0 + 120_000}, now {turns_up_at}"
    assert bot.orders.all_orders == []
