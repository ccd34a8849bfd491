"""`trading-bot run`: the bot until Ctrl-C or SIGTERM, with the start's recovery report
printed; a SIGTERM during start-up stops it like Ctrl-C does."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer

from trading_bot.cli.config_check import load_config_or_exit
from trading_bot.cli.console import err, fail
from trading_bot.config.loader import LoadedConfig
from trading_bot.launch import INTERRUPTED, interrupt
from trading_bot.monitoring.logging import configure_logging
from trading_bot.orders.reconciliation import ReconciliationReport
from trading_bot.service.assembly import ServiceSetupError, VenueUnreachable
from trading_bot.service.bot_service import REFUSED, run_bot
from trading_bot.store.database import StoreError, url_password


def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="The YAML config file.")],
    store: Annotated[
        str | None, typer.Option(help="Store URL; overrides store.url in the config.")
    ] = None,
    env_file: Annotated[
        Path | None, typer.Option(help="A .env file to read variables from.")
    ] = None,
    accept_venue_state: Annotated[
        bool,
        typer.Option(
            help="Where the books and the venue disagree at start, take the venue's word "
            "(orders it has no record of closed, balances adjusted) instead of refusing."
        ),
    ] = False,
) -> None:
    """Run the bot until stopped (Ctrl-C or SIGTERM): paper mode on the simulated exchange, or
    paper/live through ccxt (exchange.class: ccxt; a real venue, its testnet, or `venue serve`).

    On start it rebuilds its state from the store, reconciles with the venue and prints what
    it did; if the books and the venue disagree in a way it cannot explain it refuses to start
    (exit code 3) and says why, unless --accept-venue-state.
    """
    loaded = load_config_or_exit(config, env_file)
    if loaded.config.mode.value == "backtest":
        raise fail("mode: 'backtest': `run` runs mode: paper or live (use `trading-bot backtest`)")
    if store is not None:
        loaded.config.store.url = store
    password = url_password(loaded.config.store.url)
    secrets = loaded.secrets | ({password} if password else set())
    try:
        masker = configure_logging(loaded.config.logging, secrets=secrets)
    except OSError as error:
        raise fail(f"logging.file: cannot open {error.filename}: {error.strerror}") from None
    for warning in loaded.warnings:
        err.print(f"[yellow]warning:[/] {masker.mask(warning)}", highlight=False)
    # until the event loop takes over SIGTERM, it stops the start-up like Ctrl-C does
    signal.signal(signal.SIGTERM, interrupt)
    try:
        code = asyncio.run(_run_until_signal(loaded, accept_venue_state))
    except VenueUnreachable as error:  # not the config's fault: a later start may work
        err.print(f"[bold red]error:[/] {masker.mask(str(error))}", highlight=False)
        raise typer.Exit(REFUSED) from None
    except (ServiceSetupError, StoreError) as error:
        # masked like the log: a start-up error may name a URL with a password in it
        raise fail(masker.mask(str(error))) from None
    except KeyboardInterrupt:
        err.print("stopped during start-up; the next start reconciles and carries on")
        raise typer.Exit(INTERRUPTED) from None
    raise typer.Exit(code)


async def _run_until_signal(loaded: LoadedConfig, accept_venue_state: bool) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    def show(report: ReconciliationReport) -> None:
        style = "green" if report.ok else "bold red"
        err.print(f"[{style}]recovery: {'ok' if report.ok else 'REFUSED'}[/]")
        for line in report.lines():
            err.print(f"  {line}", highlight=False, markup=False)

    return await run_bot(loaded, stop, on_report=show, accept_venue_state=accept_venue_state)
