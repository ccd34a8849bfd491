"""Helpers shared by the risk check tests: a bot with given checks, intents, fills on the clock."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

from tests.conftest import MINUTE, build_test_bot, loaded_config, make_signal
from trading_bot.app import Bot
from trading_bot.domain.enums import OrderType, Side
from trading_bot.domain.intent import TradeIntent
from trading_bot.market_data.bars import BarSeries
from trading_bot.risk.base import RiskCheck

D = Decimal
C = TypeVar("C", bound=RiskCheck)


def bot_with_checks(
    checks: list[dict[str, Any]],
    *bars: BarSeries,
    balances: dict[str, str] | None = None,
    currency: str | None = "USDT",
    markets: dict[str, dict[str, str]] | None = None,
) -> Bot:
    """A bot on the simulated venue, without fees, running `checks` in order."""
    loaded = loaded_config(
        exchange={
            "class": "simulated",
            "params": {
                "balances": balances or {"USDT": "10000"},
                "fees": {"maker": "0", "taker": "0"},
                "markets": markets or {},
            },
        },
        risk={"checks": checks},
        backtest={"valuation_currency": currency},
    )
    return build_test_bot(loaded, *bars)


def only_check(bot: Bot, kind: type[C]) -> C:
    (check,) = bot.kernel.risk.checks
    assert isinstance(check, kind)
    return check


def intent(
    side: Side,
    amount: str,
    symbol: str = "BTC/USDT",
    price: str | None = "100",
    limit_price: str | None = None,
) -> TradeIntent:
    return TradeIntent(
        make_signal(asset=symbol),
        symbol,
        side,
        D(amount),
        OrderType.LIMIT if limit_price is not None else OrderType.MARKET,
        D(price) if price is not None else None,
        D(limit_price) if limit_price is not None else None,
    )


def trade(bot: Bot, signal_id: str, **fields: Any) -> None:
    """Submit a signal now and let it fill at the next bar's open (one minute on)."""
    bot.kernel.submit_signal(
        make_signal(signal_id=signal_id, created_at=bot.clock.now_ms(), **fields)
    )
    bot.clock.advance_to(bot.clock.now_ms() + MINUTE)
