from decimal import Decimal

from tests.conftest import MINUTE, T0, make_bars
from tests.risk.helpers import bot_with_checks, intent, only_check, trade
from trading_bot.app import Bot
from trading_bot.domain.enums import LiquiditySide, Side
from trading_bot.domain.fill import Fill
from trading_bot.domain.rejections import RejectionReason
from trading_bot.risk.loss_cooldown import LossCooldown, _fee_in_quote

D = Decimal
SAWTOOTH = ["100", "90"] * 6  # buy at a 100 open, sell at the next (90) open: -10 a trip


def cooldown_bot(opens: list[str], **params: object) -> tuple[Bot, LossCooldown]:
    bot = bot_with_checks(
        [{"class": "loss_cooldown", "params": params}],
        make_bars("ETH/USDT", opens),
        make_bars("BTC/USDT", ["100"] * len(opens)),
    )
    return bot, only_check(bot, LossCooldown)


def round_trip(bot: Bot, name: str, symbol: str = "ETH/USDT") -> None:
    trade(bot, f"{name}-open", asset=symbol, size="1")
    trade(bot, f"{name}-close", asset=symbol, side="sell", size="1")


def at(bot: Bot, minutes: int) -> None:
    bot.clock.advance_to(T0 + minutes * MINUTE)


def test_after_n_losing_round_trips_new_exposure_is_paused() -> None:
    bot, check = cooldown_bot(SAWTOOTH, max_consecutive_losses=3, cooldown_minutes=60)
    for name in ("a", "b", "c"):  # closes at T0+1m, +3m, +5m, each -10
        round_trip(bot, name)
    decision = check.check(intent(Side.BUY, "1"))
    assert decision.rejection is not None
    assert decision.rejection.reason is RejectionReason.LOSS_COOLDOWN
    assert "until 2022-01-01T01:05:00.000+00:00" in decision.rejection.detail
    assert check.check(intent(Side.SELL, "1", "BTC/USDT")).rejection is not None  # a new short


def test_the_cooldown_runs_on_the_clock_from_the_last_losing_fill() -> None:
    bot, check = cooldown_bot(SAWTOOTH, max_consecutive_losses=3, cooldown_minutes=60)
    for name in ("a", "b", "c"):
        round_trip(bot, name)
    bot.clock.advance_to(T0 + 65 * MINUTE - 1)
    assert check.check(intent(Side.BUY, "1")).rejection is not None
    at(bot, 65)
    assert check.check(intent(Side.BUY, "1")).rejection is None


def test_fewer_losses_than_the_limit_pass() -> None:
    bot, check = cooldown_bot(SAWTOOTH, max_consecutive_losses=3)
    round_trip(bot, "a")
    round_trip(bot, "b")
    assert check.check(intent(Side.BUY, "1")).rejection is None


def test_a_round_trip_that_does_not_lose_resets_the_count() -> None:
    # trips: 100 -> 90, 90 -> 100 (a win), 100 -> 90
    bot, check = cooldown_bot(
        ["100", "90", "90", "100", "100", "90", "90"], max_consecutive_losses=2
    )
    for name in ("loss-1", "win", "loss-2"):
        round_trip(bot, name)
    assert bot.portfolio.realized_pnl("ETH/USDT") == D(-10)
    assert check.check(intent(Side.BUY, "1")).rejection is None


def test_a_round_trip_closed_in_parts_counts_once() -> None:
    bot, check = cooldown_bot(["100", "90", "90", "90"], max_consecutive_losses=2)
    trade(bot, "open", asset="ETH/USDT", size="2")
    trade(bot, "half", asset="ETH/USDT", side="sell", size="1")
    trade(bot, "rest", asset="ETH/USDT", side="sell", size="1")
    assert bot.portfolio.realized_pnl("ETH/USDT") == D(-20)
    assert check.check(intent(Side.BUY, "1")).rejection is None


def test_orders_that_only_reduce_pass_during_the_cooldown() -> None:
    bot, check = cooldown_bot(SAWTOOTH, max_consecutive_losses=1)
    trade(bot, "btc", asset="BTC/USDT", size="1")  # held through the cooldown
    at(bot, 2)
    round_trip(bot, "loss")  # 100 -> 90
    assert bot.portfolio.realized_pnl("ETH/USDT") == D(-10)
    assert check.check(intent(Side.BUY, "1", "BTC/USDT")).rejection is not None
    assert check.check(intent(Side.SELL, "1", "BTC/USDT")).amount is None
    flip = check.check(intent(Side.SELL, "3", "BTC/USDT"))
    assert (flip.amount, flip.rejection) == (D("1"), None)


def test_fees_count_in_the_round_trips_result() -> None:
    def fill(fee: str, fee_asset: str) -> Fill:
        return Fill("t", "c", "ETH/USDT", Side.SELL, D(2), D(100), D(fee), fee_asset,
                    LiquiditySide.TAKER, T0)  # fmt: skip

    assert _fee_in_quote(fill("0.2", "USDT")) == D("0.2")
    assert _fee_in_quote(fill("0.002", "ETH")) == D("0.2")
    assert _fee_in_quote(fill("1", "BNB")) == 0
