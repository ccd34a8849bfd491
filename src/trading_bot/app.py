"""The composition root: wires config-chosen modules and adapters into a kernel."""

from __future__ import annotations

import decimal
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from trading_bot.config.loader import LoadedConfig
from trading_bot.domain.market import Market
from trading_bot.engine.bus import EventBus
from trading_bot.engine.clock import Clock
from trading_bot.engine.context import PriceView, TradingContext
from trading_bot.engine.journal import Journal
from trading_bot.engine.kernel import TradingKernel
from trading_bot.orders.manager import OrderManager
from trading_bot.portfolio.portfolio import Portfolio
from trading_bot.risk.base import RiskChain
from trading_bot.risk.trading_state import StateChange, TradingSwitch
from trading_bot.venues.base import Venue


@dataclass(frozen=True, slots=True)
class Bot:
    kernel: TradingKernel
    venue: Venue
    clock: Clock

    @property
    def portfolio(self) -> Portfolio:
        return self.kernel.portfolio

    @property
    def orders(self) -> OrderManager:
        return self.kernel.orders

    @property
    def trading_state(self) -> StateChange:
        """The current trading state with its reason, trigger and time."""
        return self.kernel.trading.current

    def halt(self, reason: str, *, flatten: bool | None = None) -> StateChange:
        """Kill switch: nothing new passes (cancels do); optionally close everything."""
        return self.kernel.halt_trading(reason, flatten=flatten)

    def reduce(self, reason: str) -> StateChange:
        """Only orders that shrink a position pass."""
        return self.kernel.reduce_trading(reason)

    def resume(self, reason: str = "resumed by command") -> StateChange:
        """Back to ACTIVE; the only way out of REDUCING or HALTED (never automatic)."""
        return self.kernel.resume_trading(reason)


MONEY_PRECISION = 60


def ensure_money_precision() -> None:
    """Raise this thread's Decimal precision to 60 significant digits.

    Python's default of 28 silently rounds sums such as a 1e12 balance carried to 18 decimal
    places (token amounts). 60 digits keep every balance, fee and P&L sum exact in practice.
    """
    context = decimal.getcontext()
    context.prec = max(context.prec, MONEY_PRECISION)


def build_bot(
    loaded: LoadedConfig,
    *,
    venue: Venue,
    clock: Clock,
    prices: PriceView,
    initial_balances: dict[str, Decimal] | None = None,
    market: Callable[[str], Market | None] | None = None,
    journal: Journal | None = None,
    valuation_currency: str | None = None,
) -> Bot:
    """Wire one bot around an already constructed venue, clock and price source.

    `valuation_currency` (default `backtest.valuation_currency`) is what risk checks measure
    equity and exposure in."""
    ensure_money_precision()
    bus = EventBus()
    portfolio = Portfolio(initial_balances if initial_balances is not None else venue.balances())
    orders = OrderManager(bus, clock, venue, journal)
    context = TradingContext(
        clock,
        portfolio,
        orders,
        prices,
        market or venue.market,
        valuation_currency or loaded.config.backtest.valuation_currency,
    )
    risk = loaded.config.risk
    trading = TradingSwitch(
        clock,
        halt_on=risk.halt_on,
        reduce_on=risk.reduce_on,
        flatten_on_halt=risk.flatten_on_halt,
    )
    kernel = TradingKernel(
        context=context,
        bus=bus,
        strategy=loaded.strategy.build(),
        risk=RiskChain([check.build() for check in loaded.risk_checks]),
        execution=loaded.execution.build(),
        journal=journal,
        trading=trading,
    )
    return Bot(kernel, venue, clock)
