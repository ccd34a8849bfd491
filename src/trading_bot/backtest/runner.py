"""Run a backtest: recorded signals in time order through the same kernel paper and live use.

The loop touches only moments where something can happen: each signal's time, and the bars
the simulated venue asked for (its timers). Idle bars are skipped entirely.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from trading_bot.app import Bot, build_bot
from trading_bot.config.loader import LoadedConfig
from trading_bot.domain.market import split_symbol
from trading_bot.engine.clock import SimulatedClock
from trading_bot.engine.signal_ledger import InvalidSignal
from trading_bot.intake.signal_file import RecordedSignal
from trading_bot.market_data.bars import BarSeries
from trading_bot.market_data.history import HistoricalPrices
from trading_bot.venues.simulated.exchange import SimulatedExchange


class BacktestSetupError(Exception):
    """The config or inputs cannot make a backtest (not a bug: a message for the user)."""


@dataclass(slots=True)
class BacktestResult:
    bot: Bot
    venue: SimulatedExchange
    prices: HistoricalPrices
    series: dict[str, BarSeries]
    currency: str
    signals_total: int


def run_backtest(
    loaded: LoadedConfig,
    series: Mapping[str, BarSeries],
    signals: Iterable[RecordedSignal | InvalidSignal],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    if not series:
        raise BacktestSetupError(
            "a backtest needs market data: give at least one --data SYMBOL=file.csv"
        )
    venue = loaded.exchange.build()
    if not isinstance(venue, SimulatedExchange):
        raise BacktestSetupError(
            f"exchange.class is {loaded.config.exchange.class_path!r}; a backtest runs on the "
            "simulated exchange (exchange.class: simulated)"
        )
    for bars in series.values():
        venue.add_bars(bars)

    valid: list[RecordedSignal] = []
    invalid: list[InvalidSignal] = []
    for item in signals:
        if isinstance(item, InvalidSignal):
            invalid.append(item)
        elif item.signal.created_at is None:
            invalid.append(
                InvalidSignal(
                    f"line {item.line}",
                    ("created_at: required in a backtest signal file (epoch ms or ISO-8601)",),
                    item.signal.model_dump_json(),
                )
            )
        else:
            valid.append(item)
    valid.sort(key=lambda r: r.signal.created_at or 0)  # stable: file order breaks ties

    starts = [s.start_ms for s in series.values()]
    if valid:
        starts.append(valid[0].signal.created_at or 0)
    clock = SimulatedClock(min(starts))
    prices = HistoricalPrices(series, clock)
    bot = build_bot(loaded, venue=venue, clock=clock, prices=prices)
    kernel = bot.kernel

    for dead in invalid:
        kernel.reject_invalid(dead)
    total = len(valid) + len(invalid)
    done = len(invalid)
    step = max(1, total // 200)
    for recorded in valid:
        signal = recorded.signal
        # Signals at time t go before the venue's bar that opens at t: an order created at t
        # fills at the open of the first bar opening at or after t.
        clock.advance_to(signal.created_at or 0, inclusive=False)
        kernel.submit_signal(signal)
        done += 1
        if progress is not None and done % step == 0:
            progress(done, total)
    clock.advance_to(max(s.end_ms for s in series.values()), inclusive=True)
    for order in bot.orders.open_orders():
        bot.orders.cancel(order)
    if progress is not None:
        progress(total, total)

    currency = loaded.config.backtest.valuation_currency or split_symbol(next(iter(series)))[1]
    return BacktestResult(bot, venue, prices, dict(series), currency.upper(), total)
