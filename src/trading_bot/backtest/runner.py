"""Run a backtest: recorded signals in time order through the same kernel paper and live use.

The loop touches only moments where something can happen: each signal's time, and the
moments the simulated venue asked for (its timers). Idle bars are skipped entirely.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from trading_bot.app import Bot, build_bot
from trading_bot.config.loader import LoadedConfig
from trading_bot.domain.market import split_symbol
from trading_bot.domain.rejections import RejectionReason
from trading_bot.engine.clock import SimulatedClock
from trading_bot.engine.signal_ledger import InvalidSignal
from trading_bot.intake.signal_file import RecordedSignal
from trading_bot.market_data.history import HistoricalPrices
from trading_bot.market_data.loader import MarketData
from trading_bot.venues.simulated.exchange import SimulatedExchange

# passes of a younger generation before an older one is collected: more than any run makes
_NEVER = 1_000_000_000


@contextmanager
def young_collections_only() -> Iterator[None]:
    """Let the garbage collector look only at its youngest generation for the duration.

    A backtest keeps every order, fill and signal record alive to its end and makes next to no
    reference cycles, so the passes over older generations walk an ever larger heap and free
    nothing: at a million bars they took about a sixth of the run. Young passes go on, so
    short-lived cycles are still freed; the thresholds are restored afterwards and the older
    generations are collected as usual from then on.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], _NEVER, _NEVER)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


class BacktestSetupError(Exception):
    """The config or inputs cannot make a backtest (not a bug: a message for the user)."""


@dataclass(slots=True)
class BacktestResult:
    bot: Bot
    venue: SimulatedExchange
    prices: HistoricalPrices
    data: list[MarketData]
    currency: str
    signals_total: int
    start_ms: int
    end_ms: int
    warnings: list[str]


def run_backtest(
    loaded: LoadedConfig,
    data: Sequence[MarketData],
    signals: Iterable[RecordedSignal | InvalidSignal],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    if not data:
        raise BacktestSetupError(
            "a backtest needs market data: give at least one --data SYMBOL=file.csv"
        )
    venue = loaded.exchange.build()
    if not isinstance(venue, SimulatedExchange):
        raise BacktestSetupError(
            f"exchange.class is {loaded.config.exchange.class_path!r}; a backtest runs on the "
            "simulated exchange (exchange.class: simulated)"
        )
    for item in data:
        venue.add_market_data(item)
    warnings = [w for item in data for w in getattr(item, "warnings", [])]
    warnings += [
        f"exchange.params.markets.{symbol} has no market data (--data); its rules are unused"
        for symbol in venue.unused_market_rules()
    ]

    symbols = list(dict.fromkeys(item.symbol for item in data))
    currency = loaded.config.backtest.valuation_currency or split_symbol(symbols[0])[1]
    quotes = sorted({split_symbol(symbol)[1] for symbol in symbols})
    if currency not in quotes:
        raise BacktestSetupError(
            f"backtest.valuation_currency: no market in the data is quoted in {currency}; "
            f"expected one of {', '.join(quotes)}"
        )

    valid: list[RecordedSignal] = []
    invalid: list[InvalidSignal] = []
    for recorded in signals:
        (invalid if isinstance(recorded, InvalidSignal) else valid).append(recorded)  # type: ignore[arg-type]
    valid.sort(key=lambda r: r.signal.created_at or 0)  # stable: file order breaks ties

    start = min(item.start_ms for item in data)
    # the data's last moment: the close of a last bar, the last trade or book event
    end = max(item.end_ms + getattr(item, "interval_ms", 0) for item in data)

    clock = SimulatedClock(min(start, valid[0].signal.created_at or start) if valid else start)
    prices = HistoricalPrices({symbol: venue.marks(symbol) for symbol in symbols}, clock)
    bot = build_bot(loaded, venue=venue, clock=clock, prices=prices, valuation_currency=currency)
    kernel = bot.kernel

    for dead in invalid:
        kernel.reject_invalid(dead)
    total = len(valid) + len(invalid)
    done = len(invalid)
    step = max(1, total // 200)
    with young_collections_only():
        for recorded in valid:
            # Signals at time t go before the venue's bar that opens at t: an order created at
            # t fills at the open of the first bar opening at or after t.
            clock.advance_to(recorded.signal.created_at or 0, inclusive=False)
            kernel.submit_signal(recorded.signal)
            done += 1
            if progress is not None and done % step == 0:
                progress(done, total)
        clock.advance_to(end, inclusive=True)
        # signals a strategy still holds (waiting for confirmation) end with a reason now,
        # before open orders are canceled, so nothing is placed after the data ends
        kernel.strategy.stop()
        kernel.execution.stop()  # e.g. no unprotected-position alarm for the legs canceled next
        for order in bot.orders.open_orders():
            bot.orders.cancel(order)
        clock.run_pending()  # cancels in flight (latency) land; nothing else is left to fire
    kernel.ledger.close_pending(RejectionReason.UNFILLED, "still pending when the backtest ended")
    if progress is not None:
        progress(total, total)

    if kernel.unprotected_signals:
        warnings.append(
            f"{kernel.unprotected_signals} executed signal(s) carried stop_loss/take_profit that the "
            f"{loaded.config.execution.class_path!r} execution does not place: those positions were "
            "unprotected (use the bracket execution to place them)"
        )
    final_marks = max(int(m.known_ms[-1]) for m in prices.marks.values() if len(m))
    return BacktestResult(
        bot,
        venue,
        prices,
        list(data),
        currency.upper(),
        total,
        start,
        max(end, final_marks),
        warnings,
    )
