from decimal import Decimal

from tests.conftest import MINUTE, T0, build_test_bot, loaded_config, make_bars, make_signal
from trading_bot.app import Bot
from trading_bot.domain.enums import OrderType, Side
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.rejections import RejectionReason
from trading_bot.risk.base import RiskChain
from trading_bot.risk.position_limits import PositionLimitCheck

D = Decimal


def bot_with_limits(**params: object) -> tuple[Bot, PositionLimitCheck]:
    loaded = loaded_config(
        exchange={"class": "simulated", "params": {"balances": {"USDT": "1000000", "BTC": "10"}}},
        risk={"checks": [{"class": "position_limits", "params": params}]},
    )
    bars = [make_bars(s, ["100"] * 10) for s in ("BTC/USDT", "ETH/USDT", "SOL/USDT")]
    bot = build_test_bot(loaded, *bars)
    check = bot.kernel.risk.checks[0]
    assert isinstance(check, PositionLimitCheck)
    return bot, check


def intent(side: Side, amount: str, symbol: str = "BTC/USDT") -> TradeIntent:
    return TradeIntent(make_signal(asset=symbol), symbol, side, D(amount), OrderType.MARKET, D(100))


def fill_now(bot: Bot, **fields: object) -> None:
    bot.kernel.submit_signal(make_signal(**fields))
    bot.clock.advance_to(bot.clock.now_ms() + MINUTE)


def test_order_past_max_position_size_is_cut_to_the_room_left() -> None:
    bot, check = bot_with_limits(max_position_size="1")
    fill_now(bot, signal_id="a", size="0.7")
    decision = check.check(intent(Side.BUY, "0.5"))
    assert decision.amount == D("0.3")
    assert decision.rejection is None


def test_no_room_left_is_a_position_limit_rejection() -> None:
    bot, check = bot_with_limits(max_position_size="1")
    fill_now(bot, signal_id="a", size="1")
    decision = check.check(intent(Side.BUY, "0.1"))
    assert decision.rejection is not None
    assert decision.rejection.reason is RejectionReason.POSITION_LIMIT


def test_reducing_orders_always_pass_and_reversals_get_the_full_swing() -> None:
    bot, check = bot_with_limits(max_position_size="1")
    fill_now(bot, signal_id="a", size="1")
    assert check.check(intent(Side.SELL, "1")).amount is None
    # from +1, selling 2.5 would end at -1.5: cut to 2 (flat, then -1)
    assert check.check(intent(Side.SELL, "2.5")).amount == D("2")


def test_open_orders_count_against_the_limit_before_they_fill() -> None:
    bot, check = bot_with_limits(max_position_size="1")
    bot.kernel.submit_signal(make_signal(signal_id="a", size="0.8"))  # in flight, not filled
    assert bot.portfolio.position_quantity("BTC/USDT") == 0
    assert check.check(intent(Side.BUY, "0.5")).amount == D("0.2")


def test_state_comes_from_fills_not_signals() -> None:
    bot, check = bot_with_limits(max_position_size="1")
    # a signal the venue rejects must not consume room
    bot.kernel.submit_signal(make_signal(signal_id="x", asset="BTC/USDT", size="500000"))
    bot.clock.advance_to(T0 + 5 * MINUTE)
    assert check.check(intent(Side.BUY, "1")).amount is None


def test_max_positions_blocks_a_new_position_but_not_adding_to_one() -> None:
    bot, check = bot_with_limits(max_positions=2)
    fill_now(bot, signal_id="a", asset="BTC/USDT")
    fill_now(bot, signal_id="b", asset="ETH/USDT")
    blocked = check.check(intent(Side.BUY, "1", "SOL/USDT"))
    assert blocked.rejection is not None
    assert blocked.rejection.reason is RejectionReason.MAX_POSITIONS
    assert check.check(intent(Side.BUY, "1", "BTC/USDT")).rejection is None


def test_chain_applies_checks_in_order_and_never_mutates_the_input() -> None:
    bot, _ = bot_with_limits()
    tight = PositionLimitCheck({"max_position_size": "0.5"})
    tighter = PositionLimitCheck({"max_position_size": "0.2"})
    chain = RiskChain([tight, tighter])
    chain.bind(bot.kernel.context)
    original = intent(Side.BUY, "3")
    result = chain.evaluate(original)
    assert isinstance(result, TradeIntent)
    assert result.amount == D("0.2")
    assert original.amount == D("3")


def test_risk_rejection_in_the_pipeline_is_reported_per_signal() -> None:
    bot, _ = bot_with_limits(max_position_size="1")
    fill_now(bot, signal_id="a", size="1")
    bot.kernel.submit_signal(make_signal(signal_id="b", size="1"))
    assert bot.kernel.ledger.rejection_counts() == {"position_limit": 1}
