"""`trading-bot run` in paper mode: the kernel on the wall clock, the paper venue, the store.

Start-up order matters: open and migrate the store, rebuild the paper venue from its books,
rebuild the bot from the store (signals, orders, fills -> ledger, order manager, portfolio),
reconcile with the venue, and only then read new signals. A start whose reconciliation finds
something it cannot explain stops here with the report (exit code 3) rather than trade on
books it does not trust.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loguru import logger
from sqlalchemy import Engine, insert

from trading_bot.app import Bot, build_bot
from trading_bot.config.loader import LoadedConfig
from trading_bot.domain.market import split_symbol
from trading_bot.engine.clock import Clock, LiveClock
from trading_bot.engine.context import PriceView
from trading_bot.intake.gate import IntakeChannel, IntakeGate, IntakeResult
from trading_bot.market_data.bars import BarSeries
from trading_bot.market_data.errors import DataFileError
from trading_bot.market_data.history import HistoricalPrices
from trading_bot.market_data.loader import load_market_data
from trading_bot.orders.reconciliation import Reconciler, ReconciliationReport
from trading_bot.risk.trading_state import StateChange
from trading_bot.service.faults import FaultPlan
from trading_bot.service.intake_runner import IntakeRunner, IntakeStartError
from trading_bot.service.snapshots import write_snapshot
from trading_bot.store.bot_state import (
    BotState,
    load_bot_state,
    save_initial_balances,
    save_trading_state,
)
from trading_bot.store.checkpoint import WalCheckpointer
from trading_bot.store.database import open_engine, upgrade_to_head
from trading_bot.store.journal import StoreJournal
from trading_bot.store.lock import StoreLock, lock_store
from trading_bot.store.models import RecoveryRunRow
from trading_bot.store.paper_books import SqlPaperBookStore
from trading_bot.store.trading_commands import mark_applied, read_command
from trading_bot.venues.base import Venue, VenueQueryError
from trading_bot.venues.ccxt.venue import CCXTVenue
from trading_bot.venues.paper.exchange import PaperExchange, PaperSetupError, Schedule
from trading_bot.venues.simulated.exchange import SimulatedExchange

REFUSED = 3
# outcomes (fills, acks) are committed at most this late: fewer commits, and a crash in
# between costs nothing (recovery asks the venue)
OUTCOME_GROUP_MS = 50
COMMAND_POLL_S = 1.0  # how often the store is asked for a `trading-bot halt|reduce|resume`
UNSAVED = 1
HOUR_MS = 3_600_000


class ServiceSetupError(Exception):
    """The config cannot make a running bot (a message for the user, not a bug)."""


@dataclass(slots=True)
class RunningBot:
    bot: Bot
    venue: Venue
    journal: StoreJournal
    engine: Engine
    prices: PriceView
    currency: str
    cursors: dict[str, str]
    symbols: list[str]  # the markets the bot trades (valued in snapshots)
    close: Callable[[], Awaitable[None]] | None = None  # a live venue's connections and feed
    checkpointer: WalCheckpointer | None = None  # SQLite stores: folds the log back in a thread
    lock: StoreLock | None = None  # one bot per store: held as long as this object lives


async def run_paper_bot(
    loaded: LoadedConfig,
    stop: asyncio.Event,
    *,
    on_report: Callable[[ReconciliationReport], None] | None = None,
    on_ready: Callable[[PaperService], None] | None = None,
) -> int:
    """Run until `stop` is set; the exit code (0, REFUSED when recovery refused, UNSAVED when
    the last changes could not be saved)."""
    service = PaperService(loaded)
    report = await service.start()
    if on_report is not None and report is not None:
        on_report(report)
    if not service.started:
        return REFUSED
    if on_ready is not None:
        on_ready(service)
    try:
        await stop.wait()
    finally:
        code = await service.stop()
    return code


class PaperService:
    """The paper bot as an object: `start`, then `send_signal` (the direct Python API) or let
    the configured sources feed it, then `stop`."""

    def __init__(self, loaded: LoadedConfig) -> None:
        self.loaded = loaded
        self.started = False
        self.running: RunningBot | None = None
        self.intake: IntakeRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._direct: IntakeChannel | None = None
        self._command_failure = ""  # the last failure reading a trading command, told once

    async def start(self) -> ReconciliationReport | None:
        """Rebuild, reconcile, then open intake. The report (None if the venue could not be
        asked); `started` says whether the bot now runs. Raises `ServiceSetupError`."""
        running = self.running = await start_bot(self.loaded, FaultPlan.from_environment())
        try:
            report = await Reconciler(running.bot.kernel, running.venue).reconcile(at_start=True)
        except VenueQueryError as error:
            logger.error("start refused: the venue could not be asked about orders: {}", error)
            return None
        except Exception:
            logger.exception("start refused: reconciling with the venue failed")
            return None
        _save_report(running, report)
        if not report.ok:
            logger.error("start refused: the books do not agree with the venue (see the report)")
            return report
        if isinstance(running.venue, CCXTVenue):
            for order in running.bot.kernel.orders.open_orders():  # found at the venue by
                running.venue.follow(order)  # reconciliation: reported on from now on
        config = self.loaded.config
        self._apply_trading_command()  # one issued while the bot was down, before any signal
        gate = IntakeGate(
            running.bot.kernel,
            running.journal,
            cursors=running.cursors,
            secrets=self.loaded.secrets,
        )
        self._direct = gate.channel("direct")
        if isinstance(running.venue, CCXTVenue):  # the breaker open: signals wait, not orders
            running.venue.on_health = lambda healthy: (
                gate.resume()
                if healthy
                else gate.pause("the venue is failing (circuit breaker open)")
            )
        self.intake = IntakeRunner([source.build() for source in self.loaded.sources], gate)
        try:
            await self.intake.start()
        except IntakeStartError as error:
            running.journal.flush()
            raise ServiceSetupError(str(error)) from None
        self._tasks.append(
            asyncio.create_task(
                _every(config.recovery.snapshot_interval_s, lambda: _snapshot(running))
            )
        )
        self._tasks.append(asyncio.create_task(_every(COMMAND_POLL_S, self._apply_trading_command)))
        if config.recovery.reconcile_interval_s > 0:
            reconciler = Reconciler(running.bot.kernel, running.venue)
            self._tasks.append(
                asyncio.create_task(
                    _every_async(config.recovery.reconcile_interval_s, reconciler.reconcile)
                )
            )
        if not self.loaded.sources:
            logger.warning(
                "intake.sources is empty: no signals will arrive; the bot only keeps its "
                "orders reconciled with the venue"
            )
        logger.info(
            "bot running: mode {}, venue {}, store {}, {} intake source(s)",
            config.mode.value,
            config.exchange.class_path,
            running.engine.url.render_as_string(hide_password=True),
            len(self.loaded.sources),
        )
        # Everything built so far (replayed market data, restored books, modules) lives as
        # long as the bot: frozen, the collector's full passes no longer walk it, which
        # otherwise paused the event loop for 50-120 ms every few seconds under load.
        gc.freeze()
        self.started = True
        return report

    async def send_signal(self, payload: bytes | str | Mapping[str, Any]) -> IntakeResult:
        """Hand the bot one signal from Python; returns once it is recorded."""
        if self._direct is None:
            raise RuntimeError("the bot is not started")
        result = self._direct.offer(payload, "send_signal")
        await self._direct.recorded()
        return result

    def halt(self, reason: str, *, flatten: bool | None = None) -> StateChange:
        """Kill switch: no new order passes (cancels do) until `resume`; `flatten` (default
        `risk.flatten_on_halt`) also cancels open orders and closes the bot's positions."""
        return self._bot().halt(reason, flatten=flatten)

    def reduce(self, reason: str) -> StateChange:
        """Only orders, or parts of them, that shrink a position pass until `resume`."""
        return self._bot().reduce(reason)

    def resume(self, reason: str = "resumed by command") -> StateChange:
        """Back to ACTIVE: the only way out of REDUCING or HALTED."""
        return self._bot().resume(reason)

    def trading_state(self) -> StateChange:
        """The current state, its reason, what set it and when."""
        return self._bot().trading_state

    def _apply_trading_command(self) -> None:
        """Apply a `trading-bot halt|reduce|resume` written to the store, once."""
        running = self.running
        if running is None:
            return
        try:
            command = read_command(running.engine)
            if command is None or command.applied:
                return
            bot = running.bot
            if command.command == "halt":
                change = bot.halt(command.reason, flatten=command.flatten)
            elif command.command == "reduce":
                change = bot.reduce(command.reason)
            else:
                change = bot.resume(command.reason)
            mark_applied(running.engine, command, f"{change.state.value}: {change.reason}")
        except Exception as error:  # the store busy or refusing: it waits for the next look
            text = f"{type(error).__name__}: {error}"
            if text != self._command_failure:  # once per kind of failure, not every second
                logger.exception("could not apply the trading command from the store")
            self._command_failure = text
        else:
            self._command_failure = ""

    def _bot(self) -> Bot:
        if self.running is None:
            raise RuntimeError("the bot is not started")
        return self.running.bot

    def signal_status(self, source: str, signal_id: str) -> dict[str, Any] | None:
        if self.intake is None:
            return None
        return self.intake.gate.signal_status(source, signal_id)

    async def stop(self) -> int:
        """Stop intake, let in-flight work finish, save everything; the exit code."""
        running = self.running
        if running is None:
            return 0
        if self.intake is not None:
            await self.intake.stop()
        if self.started:
            gc.unfreeze()  # what this bot built can be collected once it is gone
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        saved = True
        try:
            if isinstance(running.venue, PaperExchange):
                running.venue.commit()  # first: what it reports still goes into the journal
            if running.close is not None:
                await running.close()
        except Exception:
            logger.exception("the venue could not save or close cleanly")
            saved = False
        saved = running.journal.flush() and saved
        _snapshot(running)
        if running.checkpointer is not None:
            running.checkpointer.stop()
        if running.lock is not None:
            running.lock.release()
            running.lock = None
        if not saved:
            logger.error(
                "stopped with changes not saved (the store refused them): the next start "
                "re-reads the signals after the last saved position and reconciles with the venue"
            )
            return UNSAVED
        logger.info("bot stopped")
        return 0


async def start_bot(loaded: LoadedConfig, faults: FaultPlan) -> RunningBot:
    """The paper venue in process, or a venue through ccxt (live, or `venue serve`)."""
    venue = loaded.exchange.build()
    if isinstance(venue, CCXTVenue):
        from trading_bot.service.ccxt_bot import start_ccxt_bot  # it builds on this module

        return await start_ccxt_bot(loaded, venue, faults)
    if loaded.config.mode.value == "live":
        raise ServiceSetupError(
            f"mode: live needs a live venue (exchange.class: ccxt); {loaded.config.exchange.class_path!r} "
            "is simulated: use mode: paper"
        )
    return await start_paper_bot(loaded, faults)


async def start_paper_bot(loaded: LoadedConfig, faults: FaultPlan) -> RunningBot:
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
    if engine.url.get_backend_name() == "sqlite":
        running.checkpointer = WalCheckpointer(engine)
        running.checkpointer.start()
    return running


def open_store(url: str) -> tuple[Engine, StoreLock]:
    """Open and migrate the store, and take it: one bot per store."""
    engine = open_engine(url, background_checkpoints=True)
    upgrade_to_head(engine)
    return engine, lock_store(engine)


def assemble_paper_bot(
    loaded: LoadedConfig,
    engine: Engine,
    clock: Clock,
    data: dict[str, BarSeries],
    *,
    schedule: Schedule | None,
    faults: FaultPlan | None = None,
) -> RunningBot:
    """Rebuild the paper venue and the bot from the store (empty on a first start). With
    `schedule=None` every write commits at once (tests on a simulated clock)."""
    config = loaded.config
    venue_template = loaded.exchange.build()
    if not isinstance(venue_template, SimulatedExchange):
        raise ServiceSetupError(
            f"exchange.class is {config.exchange.class_path!r}: paper mode runs the simulated "
            "exchange (exchange.class: simulated); live venues are not available yet"
        )
    if not data:
        raise ServiceSetupError(
            "paper.market_data: give at least one SYMBOL: candles-or-trades.csv for the paper "
            "venue's prices"
        )
    faults = faults or FaultPlan(None)
    now = clock.now_ms()
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
        now_ms=now,
        schedule=schedule,
        on_commit=lambda: faults.reached("after_venue_commit"),
    )
    until = now + config.paper.horizon_hours * HOUR_MS
    symbols = list(data)
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
        for series in data.values():
            venue.add_market_data(series, speed=config.paper.replay_speed, until_ms=until)
        prices = HistoricalPrices({symbol: venue.marks(symbol) for symbol in symbols}, clock)
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


def _save_trading_state(engine: Engine, change: StateChange) -> None:
    try:
        save_trading_state(engine, change)
    except Exception:  # the switch still acts; only the record of it is missing
        logger.exception("could not save the trading state {}", change.state.value)


def _nonzero(balances: dict[str, Decimal]) -> dict[str, Decimal]:
    return {asset: amount for asset, amount in balances.items() if amount}


def restore_bot(bot: Bot, state: BotState, engine: Engine) -> None:
    """Put back what the store holds (signals, orders, fills, the trading state) and keep
    saving the trading state as it changes."""
    _restore(bot, state)
    if state.trading_state is not None:
        bot.kernel.trading.restore(state.trading_state)
        logger.warning(
            "trading state restored from the store: {} ({})",
            state.trading_state.state.value,
            state.trading_state.reason,
        )
    bot.kernel.trading.listeners.append(lambda change: _save_trading_state(engine, change))


def _restore(bot: Bot, state: BotState) -> None:
    kernel = bot.kernel
    for record in state.signals:
        kernel.ledger.restore(record)
    fills = state.fills_by_order()
    for order in state.orders:
        kernel.orders.restore(order, fills.get(order.client_order_id, []))
    for fill in state.fills:
        kernel.portfolio.apply_fill(fill)
    logger.info(
        "restored {} signal(s), {} order(s) ({} open), {} fill(s) from the store",
        len(state.signals),
        len(state.orders),
        sum(1 for order in state.orders if order.is_open),
        len(state.fills),
    )


def _snapshot(running: RunningBot) -> None:
    try:
        write_snapshot(
            running.engine, running.bot, running.prices, running.symbols, running.currency
        )
    except Exception:
        logger.exception("could not write the position/balance snapshot")


async def _every(interval_s: float, action: Callable[[], None]) -> None:
    while True:
        await asyncio.sleep(interval_s)
        action()


async def _every_async(interval_s: float, action: Callable[[], object]) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await action()  # type: ignore[misc]
        except Exception:
            logger.exception("periodic reconciliation failed; retrying at the next interval")


def _save_report(running: RunningBot, report: ReconciliationReport) -> None:
    with running.engine.begin() as connection:
        connection.execute(
            insert(RecoveryRunRow),
            [
                {
                    "ts_ms": running.bot.clock.now_ms(),
                    "outcome": "ok" if report.ok else "refused",
                    "report": json.dumps(report.to_dict()),
                }
            ],
        )
