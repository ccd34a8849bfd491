"""`trading-bot run` on the paper venue: the simulated exchange in process, on the wall clock,
replaying the configured market data (or, through `live_paper`, matching on a venue's live
trades) and keeping its own books in the store.

Rebuilt on every start from those books (its orders, fills and balances), then the bot from
what the store holds, before the service reconciles the two.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

from loguru import logger
from sqlalchemy import Engine

from trading_bot.app import build_bot
from trading_bot.config.loader import LoadedConfig
from trading_bot.domain.market import split_symbol
from trading_bot.domain.timestamps import format_ms
from trading_bot.engine.clock import Clock, LiveClock
from trading_bot.engine.context import PriceView
from trading_bot.market_data.bars import BarSeries
from trading_bot.market_data.errors import DataFileError
from trading_bot.market_data.history import HistoricalPrices
from trading_bot.market_data.loader import load_market_data
from trading_bot.service.assembly import (
    OUTCOME_GROUP_MS,
    RunningBot,
    ServiceSetupError,
    open_store,
    restore_bot,
)
from trading_bot.service.faults import FaultPlan
from trading_bot.store.bot_state import load_bot_state, save_initial_balances
from trading_bot.store.journal import StoreJournal
from trading_bot.store.paper_books import SqlPaperBookStore
from trading_bot.venues.paper.exchange import PaperExchange, PaperSetupError, Schedule
from trading_bot.venues.simulated.exchange import SimulatedExchange

HOUR_MS = 3_600_000


async def start_paper_bot(loaded: LoadedConfig, faults: FaultPlan) -> RunningBot:
    """Load the market data the venue replays, take the store, and assemble the bot on the
    wall clock."""
    config = loaded.config
    data: dict[str, BarSeries] = {}
    for symbol, path in config.paper.market_data.items():
        try:
            item = load_market_data(path, symbol.upper())
        except DataFileError as error:
            raise ServiceSetupError(
                f"paper.market_data.{symbol}: {error.path}: {'; '.join(error.problems)}"
            ) from None
        if not isinstance(item, BarSeries):
            raise ServiceSetupError(
                f"paper.market_data.{symbol}: order book files cannot be replayed on the paper "
                "venue yet; give candles or trades"
            )
        data[symbol.upper()] = item
    engine, lock = open_store(config.store.url)
    loop = asyncio.get_running_loop()
    running = assemble_paper_bot(
        loaded, engine, LiveClock(loop), data, schedule=loop.call_soon, faults=faults
    )
    running.lock = lock  # released with the process, or by `stop`
    running.checkpoint_in_background()
    return running


def assemble_paper_bot(
    loaded: LoadedConfig,
    engine: Engine,
    clock: Clock,
    data: dict[str, BarSeries],
    *,
    schedule: Schedule | None,
    faults: FaultPlan | None = None,
) -> RunningBot:
    """Rebuild the paper venue replaying `data` and the bot from the store (empty on a first
    start). With `schedule=None` every write commits at once (tests on a simulated clock)."""
    if not data:
        raise ServiceSetupError(
            "paper.market_data: give at least one SYMBOL: candles-or-trades.csv for the paper "
            "venue's prices (or paper.live_data to match on a venue's live trades)"
        )
    paper = loaded.config.paper
    until = clock.now_ms() + paper.horizon_hours * HOUR_MS

    def replay(venue: PaperExchange) -> PriceView:
        for series in data.values():
            venue.add_market_data(
                series, speed=paper.replay_speed, until_ms=until, now_ms=clock.now_ms()
            )
        for symbol, end_ms in venue.replay_ends_ms.items():
            logger.info(
                "paper venue replays {} at {}x real time until {} (paper.horizon_hours {})",
                symbol,
                paper.replay_speed,
                format_ms(end_ms),
                paper.horizon_hours,
            )
            clock.schedule_at(end_ms, lambda s=symbol: _replay_ended(s, paper.horizon_hours))
        return HistoricalPrices({symbol: venue.marks(symbol) for symbol in data}, clock)

    return assemble_paper_venue_bot(
        loaded, engine, clock, list(data), replay, schedule=schedule, faults=faults
    )


def _replay_ended(symbol: str, horizon_hours: int) -> None:
    logger.warning(
        "paper venue: the replay of paper.market_data.{} has ended (paper.horizon_hours {}): "
        "new orders in it are rejected no_market_data and resting ones no longer match until "
        "the bot is restarted, which replays the next horizon_hours",
        symbol,
        horizon_hours,
    )


def assemble_paper_venue_bot(
    loaded: LoadedConfig,
    engine: Engine,
    clock: Clock,
    symbols: list[str],
    add_markets: Callable[[PaperExchange], PriceView],
    *,
    schedule: Schedule | None,
    faults: FaultPlan | None = None,
) -> RunningBot:
    """Rebuild the paper venue from its books and the bot from the store. `add_markets` gives
    the venue its markets (replayed files or live trades) and returns the bot's prices."""
    config = loaded.config
    venue_template = loaded.exchange.build()
    if not isinstance(venue_template, SimulatedExchange):
        raise ServiceSetupError(
            f"exchange.class is {config.exchange.class_path!r}: paper mode runs the simulated "
            "exchange (exchange.class: simulated) or a venue through ccxt (exchange.class: ccxt)"
        )
    faults = faults or FaultPlan(None)
    journal = StoreJournal(
        engine,
        clock,
        schedule=schedule,
        on_intents_committed=lambda: faults.reached("after_intent_commit"),
        group_ms=OUTCOME_GROUP_MS if schedule is not None else 0,
    )
    venue = PaperExchange(
        venue_template,
        SqlPaperBookStore(engine),
        now_ms=clock.now_ms(),
        schedule=schedule,
        on_commit=lambda: faults.reached("after_venue_commit"),
    )
    state = load_bot_state(engine)
    initial = state.initial_balances
    configured = {
        asset: Decimal(amount) for asset, amount in venue_template.params.balances.items()
    }
    if initial is not None and _nonzero(initial) != _nonzero(configured):
        logger.warning(
            "exchange.params.balances differ from the balances this store's paper venue started "
            "with ({}); the venue keeps its own books: start a new store to use the new ones",
            ", ".join(f"{asset} {amount}" for asset, amount in sorted(initial.items())),
        )
    currency = config.backtest.valuation_currency or split_symbol(symbols[0])[1]
    try:
        prices = add_markets(venue)
        if initial is None:
            initial = venue.balances()
            save_initial_balances(engine, initial)
        bot = build_bot(
            loaded,
            venue=venue,
            clock=clock,
            prices=prices,
            initial_balances=initial,
            journal=journal,
            valuation_currency=currency,
        )
    except PaperSetupError as error:
        raise ServiceSetupError(str(error)) from None
    restore_bot(bot, state, engine)
    return RunningBot(bot, venue, journal, engine, prices, currency, state.cursors, symbols)


def _nonzero(balances: dict[str, Decimal]) -> dict[str, Decimal]:
    return {asset: amount for asset, amount in balances.items() if amount}
