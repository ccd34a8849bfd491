"""The bot as an object (`BotService`) and `trading-bot run`'s wait around it (`run_bot`), on
the paper venue in process or a venue through ccxt.

Start-up order matters: open and migrate the store, rebuild the venue's side (the paper
venue from its books, or the ccxt connection and its market data feed), rebuild the bot from
the store (signals, orders, fills -> ledger, order manager, portfolio), reconcile with the
venue, and only then read new signals. A start whose reconciliation finds something it cannot
explain stops here with the report (exit code 3) rather than trade on books it does not trust.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from loguru import logger
from sqlalchemy import insert

from trading_bot.app import Bot
from trading_bot.config.loader import LoadedConfig
from trading_bot.intake.gate import IntakeChannel, IntakeGate, IntakeResult
from trading_bot.monitoring.alerts import AlertLevel
from trading_bot.monitoring.order_log import log_order_events
from trading_bot.orders.reconciliation import Reconciler, ReconciliationReport
from trading_bot.risk.trading_state import StateChange
from trading_bot.service.assembly import RunningBot, ServiceSetupError
from trading_bot.service.ccxt_bot import start_ccxt_bot
from trading_bot.service.faults import FaultPlan
from trading_bot.service.intake_runner import IntakeRunner, IntakeStartError
from trading_bot.service.live_paper import start_live_paper_bot
from trading_bot.service.paper_venue import start_paper_bot
from trading_bot.service.snapshots import write_snapshot
from trading_bot.store.bot_state import save_initial_balances
from trading_bot.store.models import RecoveryRunRow
from trading_bot.store.trading_commands import mark_applied, read_command
from trading_bot.venues.base import VenueQueryError
from trading_bot.venues.ccxt.venue import CCXTVenue
from trading_bot.venues.paper.exchange import PaperExchange

REFUSED = 3
COMMAND_POLL_S = 1.0  # how often the store is asked for a `trading-bot halt|reduce|resume`
UNSAVED = 1


async def run_bot(
    loaded: LoadedConfig,
    stop: asyncio.Event,
    *,
    on_report: Callable[[ReconciliationReport], None] | None = None,
    on_ready: Callable[[BotService], None] | None = None,
    accept_venue_state: bool = False,
) -> int:
    """Run until `stop` is set; the exit code (0, REFUSED when recovery refused, UNSAVED when
    the last changes could not be saved)."""
    service = BotService(loaded, accept_venue_state=accept_venue_state)
    try:
        report = await service.start()
    except BaseException:
        await service.abandon()
        raise
    if on_report is not None and report is not None:
        on_report(report)
    if not service.started:
        await service.abandon()
        return REFUSED
    if on_ready is not None:
        on_ready(service)
    try:
        await stop.wait()
    finally:
        code = await service.stop()
    return code


class BotService:
    """The bot as an object, on the paper venue or a ccxt one: `start`, then `send_signal`
    (the direct Python API) or let the configured sources feed it, then `stop`."""

    def __init__(self, loaded: LoadedConfig, *, accept_venue_state: bool = False) -> None:
        """`accept_venue_state`: a start whose books the venue contradicts takes the venue's
        word (orders it has no record of closed, balances adjusted) instead of refusing."""
        self.loaded = loaded
        self.accept_venue_state = accept_venue_state
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
        log_order_events(running.bot.kernel.bus)
        # what an execution cannot fix alone (a position left without its stop) reaches people,
        # and so does an over-sell by two OCO legs the venue did not link
        running.bot.kernel.execution.alarm = alarm = lambda title, body: running.alerter.alert(
            AlertLevel.CRITICAL, title, body + "\nThe bot keeps running; see its log."
        )
        oco = running.bot.kernel.orders.oco
        if oco is not None:
            oco.alarm = alarm
        reconciler = Reconciler(running.bot.kernel, running.venue)
        try:
            report = await reconciler.reconcile(at_start=True)
            if not report.ok and self.accept_venue_state:
                _save_report(running, report)
                for line in reconciler.accept_venue_state(report):
                    logger.warning("accepted from the venue: {}", line)
                save_initial_balances(running.engine, running.bot.portfolio.initial_balances)
                running.journal.flush()
                report = await reconciler.reconcile(at_start=True)
        except VenueQueryError as error:
            logger.error("start refused: the venue could not be asked about orders: {}", error)
            return None
        except Exception:
            logger.exception("start refused: reconciling with the venue failed")
            return None
        _save_report(running, report)
        if not report.ok:
            logger.error(
                "start refused: the books do not agree with the venue (see the report); "
                "`trading-bot run --accept-venue-state` takes the venue's word"
            )
            return report
        for order in running.bot.kernel.orders.open_orders():  # found at the venue by
            running.venue.follow(order)  # reconciliation: reported on from now on
        if oco is not None:  # a leg executed before the restart: its group is finished now
            oco.settle_all()
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
            reconciler = Reconciler(
                running.bot.kernel,
                running.venue,
                attempts=1,  # the next interval is its retry (a ccxt venue retries each query)
                on_new_problems=lambda lines: running.alerter.alert(
                    AlertLevel.CRITICAL,
                    "the bot's books and the venue disagree",
                    "\n".join(lines) + "\nSee `trading-bot report`; the bot keeps running.",
                ),
            )
            self._tasks.append(
                asyncio.create_task(
                    _reconcile_every(config.recovery.reconcile_interval_s, reconciler.reconcile)
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
        # otherwise paused the event loop for 50-120 ms every few seconds under load. Full
        # passes still run over what the bot builds from now on: connections, retry state and
        # the like die in reference cycles only they free (a review found leaks without them).
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

    async def abandon(self) -> None:
        """A start that did not get to run: close the venue's connections and let go of the
        store (nothing was taken in, so there is nothing to save)."""
        running = self.running
        if running is None or self.started:
            return
        if running.close is not None:
            with contextlib.suppress(Exception):
                await running.close()
        if running.checkpointer is not None:
            running.checkpointer.stop()
        if running.lock is not None:
            running.lock.release()
            running.lock = None

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
        running.journal.close()
        if isinstance(running.venue, PaperExchange):
            running.venue.close_books()
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
    """The paper venue in process (on replayed files or live trades), or a venue through ccxt
    (live, or `venue serve`)."""
    venue = loaded.exchange.build()
    if isinstance(venue, CCXTVenue):  # paper.live_data with it is refused by the config
        problem = venue.real_money_in_paper(venue.params)
        if loaded.config.mode.value == "paper" and problem is not None:
            raise ServiceSetupError(problem)
        return await start_ccxt_bot(loaded, venue, faults)
    if loaded.config.mode.value == "live":
        raise ServiceSetupError(
            f"mode: live needs a live venue (exchange.class: ccxt); {loaded.config.exchange.class_path!r} "
            "is simulated: use mode: paper"
        )
    if loaded.config.paper.live_data is not None:
        return await start_live_paper_bot(loaded, faults)
    return await start_paper_bot(loaded, faults)


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


async def _reconcile_every(
    interval_s: float, reconcile: Callable[[], Awaitable[ReconciliationReport]]
) -> None:
    """A venue that cannot be asked (down, circuit breaker open) is an outage the guard and the
    intake pause already report: one line when reconciliation starts failing and one when it
    works again, not a traceback every interval. Anything else is a bug: its traceback."""
    failing = False
    while True:
        await asyncio.sleep(interval_s)
        try:
            await reconcile()
        except VenueQueryError as error:
            if not failing:
                logger.warning(
                    "periodic reconciliation failed: the venue cannot be asked ({}); retrying "
                    "every {} s, said again once it works",
                    error,
                    interval_s,
                )
            failing = True
            continue
        except Exception:
            logger.exception("periodic reconciliation failed; retrying at the next interval")
            continue
        if failing:
            logger.info("periodic reconciliation works again: the venue answers")
            failing = False


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
