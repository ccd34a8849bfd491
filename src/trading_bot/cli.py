"""The `trading-bot` command line.

User mistakes (a bad config, a missing file, a malformed data row) end with a clear message
and exit code 2, never a traceback. Exit code 1 means the bot itself failed.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from trading_bot import __version__
from trading_bot.backtest.report import print_summary
from trading_bot.backtest.runner import BacktestSetupError, run_backtest
from trading_bot.backtest.summary import build_summary, write_trades_csv
from trading_bot.config.errors import ConfigError
from trading_bot.config.loader import LoadedConfig, load_config
from trading_bot.config.models import UNIFIED_SYMBOL
from trading_bot.intake.signal_file import read_signal_file
from trading_bot.market_data.errors import DataFileError
from trading_bot.market_data.loader import MarketData, load_market_data
from trading_bot.market_data.order_book import BookSeries
from trading_bot.monitoring.attribution import build_report, print_report
from trading_bot.monitoring.logging import configure_logging
from trading_bot.orders.reconciliation import ReconciliationReport
from trading_bot.service.assembly import ServiceSetupError
from trading_bot.service.bot_service import run_bot
from trading_bot.store.database import (
    StoreError,
    open_engine,
    safe_url,
    schema_is_current,
    sqlite_file,
    url_password,
)
from trading_bot.store.trading_commands import Command, issue_command, read_command
from trading_bot.venues.server.cli import venue_app
from trading_bot.webhook_client import (
    FINAL,
    DeliveryError,
    UsageError,
    WebhookClient,
    exit_code,
    secret_from_env,
    signal_body,
)

app = typer.Typer(
    name="trading-bot",
    help="Execute outside trading signals: backtest, paper and live on one pipeline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)  # error lines stay whole for grep

USAGE_ERROR = 2
INTERRUPTED = 130


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(USAGE_ERROR)


def _version(value: bool) -> None:
    if value:
        out.print(f"trading-bot {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Execute outside trading signals: backtest, paper and live on one pipeline."""


def _load(config: Path, env_file: Path | None) -> LoadedConfig:
    try:
        return load_config(config, env_file=env_file)
    except ConfigError as error:
        _report_config_error(error)
        raise typer.Exit(USAGE_ERROR) from None


def _report_config_error(error: ConfigError) -> None:
    err.print(f"[bold red]{error.source}: {len(error.issues)} config error(s)[/]")
    for issue in error.issues:
        err.print(f"  - {issue}", highlight=False, markup=False)


@app.command("validate-config")
def validate_config(
    config: Annotated[Path, typer.Argument(help="The YAML config file to check.")],
    env_file: Annotated[
        Path | None, typer.Option(help="A .env file to read variables from.")
    ] = None,
) -> None:
    """Check a config file: prints OK, or every error found with its key path.

    A config whose only problem is naming modules this version does not ship yet (the guide's
    `iceberg`, `bracket`, `ccxt`...) is valid: OK, with a warning that it cannot run yet.
    """
    try:
        loaded = load_config(config, env_file=env_file)
    except ConfigError as error:
        if not all(issue.planned for issue in error.issues):
            _report_config_error(error)
            raise typer.Exit(USAGE_ERROR) from None
        for issue in error.issues:
            err.print(
                f"[yellow]warning:[/] {issue} (running this config fails until it ships)",
                highlight=False,
            )
        out.print(
            f"OK: {config} is valid, but names modules not available in this version",
            highlight=False,
        )
        return
    for warning in loaded.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    out.print(f"OK: {config} is a valid {loaded.config.mode.value} config", highlight=False)


def _parse_data(values: list[str]) -> list[tuple[str, Path]]:
    parsed: list[tuple[str, Path]] = []
    for value in values:
        symbol, sep, path = value.partition("=")
        symbol = symbol.strip().upper()
        if not sep or not path.strip():
            raise _fail(
                f"--data {value!r}: expected SYMBOL=path.csv, e.g. BTC/USDT=data/btc_1m.csv"
            )
        if (
            not UNIFIED_SYMBOL.match(symbol)
            or symbol.split("/")[0] == symbol.split("/")[1].split(":")[0]
        ):
            raise _fail(f"--data {value!r}: {symbol!r} is not a unified symbol like BTC/USDT")
        parsed.append((symbol, Path(path.strip())))
    return parsed


def _load_data(values: list[str]) -> list[MarketData]:
    loaded: list[MarketData] = []
    kinds: set[tuple[str, str]] = set()
    for symbol, path in _parse_data(values):
        item = load_market_data(path, symbol)
        kind = "book" if isinstance(item, BookSeries) else "trades" if item.is_trades else "candles"
        if (symbol, kind) in kinds:
            raise _fail(f"--data: {symbol} has two {kind} files; give one per kind")
        kinds.add((symbol, kind))
        loaded.append(item)
    return loaded


@app.command()
def backtest(
    config: Annotated[Path, typer.Option("--config", "-c", help="The YAML config file.")],
    data: Annotated[
        list[str],
        typer.Option("--data", "-d", help="SYMBOL=candles.csv; repeat for several markets."),
    ],
    signals: Annotated[
        list[Path],
        typer.Option(
            "--signals", "-s", help="Signals: JSONL or CSV; repeat to merge several files."
        ),
    ],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the machine-readable summary here.")
    ] = None,
    trades: Annotated[
        Path | None, typer.Option("--trades", help="Write every fill as CSV here.")
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="Stop before running if any signal in the file is invalid.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log each signal's outcome.")
    ] = False,
    env_file: Annotated[
        Path | None, typer.Option(help="A .env file to read variables from.")
    ] = None,
) -> None:
    """Backtest recorded signals on historical market data through the live pipeline."""
    loaded = _load(config, env_file)
    try:
        configure_logging(
            loaded.config.logging,
            secrets=loaded.secrets,
            console_level=None if verbose else "WARNING",
        )
    except OSError as error:
        raise _fail(f"logging.file: cannot open {error.filename}: {error.strerror}") from None

    for warning in loaded.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    try:
        market_data = _load_data(data)
        recorded = [
            item for path in signals for item in read_signal_file(path, require_created_at=True)
        ]
    except DataFileError as error:
        err.print(f"[bold red]error:[/] {error.path}:", highlight=False)
        for problem in error.problems:
            err.print(f"  - {problem}", highlight=False, markup=False)
        raise typer.Exit(USAGE_ERROR) from None

    if json_out is not None and trades is not None and json_out.resolve() == trades.resolve():
        raise _fail(f"--json and --trades both name {json_out}: give two files")
    invalid = [item for item in recorded if not hasattr(item, "signal")]
    if strict and invalid:
        err.print(f"[bold red]error:[/] {len(invalid)} invalid signal(s) (--strict):")
        for item in invalid:
            err.print(
                f"  - {item.location}: {'; '.join(item.errors)}", highlight=False, markup=False
            )  # type: ignore[union-attr]
        raise typer.Exit(USAGE_ERROR)

    try:
        if progress:
            with Progress(
                TextColumn("backtest"), BarColumn(), MofNCompleteColumn(), TextColumn("signals"),
                TimeElapsedColumn(), console=err, transient=True,
            ) as bar:  # fmt: skip
                task = bar.add_task("signals", total=len(recorded))
                result = run_backtest(
                    loaded,
                    market_data,
                    recorded,
                    progress=lambda done, _: bar.update(task, completed=done),
                )
        else:
            result = run_backtest(loaded, market_data, recorded)
    except BacktestSetupError as error:
        raise _fail(str(error)) from None

    summary = build_summary(result)
    print_summary(out, summary)
    for warning in summary["warnings"]:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)

    try:
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        if trades is not None:
            trades.parent.mkdir(parents=True, exist_ok=True)
            write_trades_csv(result, trades)
    except OSError as error:
        raise _fail(f"cannot write {error.filename}: {error.strerror}") from None
    for item in summary["invalid_signals"]:
        err.print(
            f"[yellow]invalid signal[/] {item['location']}: {'; '.join(item['errors'])}",
            highlight=False,
        )


@app.command()
def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="The YAML config file.")],
    store: Annotated[
        str | None, typer.Option(help="Store URL; overrides store.url in the config.")
    ] = None,
    env_file: Annotated[
        Path | None, typer.Option(help="A .env file to read variables from.")
    ] = None,
) -> None:
    """Run the bot until stopped (Ctrl-C or SIGTERM): paper mode on the simulated exchange, or
    paper/live through ccxt (exchange.class: ccxt; a real venue, its testnet, or `venue serve`).

    On start it rebuilds its state from the store, reconciles with the venue and prints what
    it did; if the books and the venue disagree in a way it cannot explain it refuses to start
    (exit code 3) and says why.
    """
    loaded = _load(config, env_file)
    if loaded.config.mode.value == "backtest":
        raise _fail("mode: 'backtest': `run` runs mode: paper or live (use `trading-bot backtest`)")
    if store is not None:
        loaded.config.store.url = store
    password = url_password(loaded.config.store.url)
    secrets = loaded.secrets | ({password} if password else set())
    try:
        masker = configure_logging(loaded.config.logging, secrets=secrets)
    except OSError as error:
        raise _fail(f"logging.file: cannot open {error.filename}: {error.strerror}") from None
    for warning in loaded.warnings:
        err.print(f"[yellow]warning:[/] {masker.mask(warning)}", highlight=False)
    # until the event loop takes over SIGTERM, it stops the start-up like Ctrl-C does
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        code = asyncio.run(_run_until_signal(loaded))
    except (ServiceSetupError, StoreError) as error:
        # masked like the log: a start-up error may name a URL with a password in it
        raise _fail(masker.mask(str(error))) from None
    except KeyboardInterrupt:
        err.print("stopped during start-up; the next start reconciles and carries on")
        raise typer.Exit(INTERRUPTED) from None
    raise typer.Exit(code)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


async def _run_until_signal(loaded: LoadedConfig) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    def show(report: ReconciliationReport) -> None:
        style = "green" if report.ok else "bold red"
        err.print(f"[{style}]recovery: {'ok' if report.ok else 'REFUSED'}[/]")
        for line in report.lines():
            err.print(f"  {line}", highlight=False, markup=False)

    return await run_bot(loaded, stop, on_report=show)


@app.command()
def report(
    config: Annotated[Path, typer.Option("--config", "-c", help="The bot's YAML config file.")],
    store: Annotated[
        str | None, typer.Option(help="Store URL; overrides store.url in the config.")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON instead of tables.")
    ] = False,
    env_file: Annotated[
        Path | None, typer.Option(help="A .env file to read variables from.")
    ] = None,
) -> None:
    """Attribution report from the store: signals, orders, fills, P&L per strategy and source,
    slippage against the signal's price, fill ratio; and the bot's books against the paper
    venue's. Safe to run while the bot runs."""
    engine, url = _open_store(config, store, env_file)
    try:
        result = build_report(engine)
    except SQLAlchemyError as error:
        raise _fail(f"cannot read the store at {safe_url(url)}: {type(error).__name__}") from None
    if json_out:
        out.print_json(json.dumps(result))
    else:
        print_report(out, result)


def _open_store(config: Path, store: str | None, env_file: Path | None) -> tuple[Engine, str]:
    """The bot's store, which must exist already (a report or a command for a bot that never
    ran is a mistake worth saying)."""
    loaded = _load(config, env_file)
    url = store or loaded.config.store.url
    database = sqlite_file(url)
    if database is not None and not Path(database).exists():
        raise _fail(f"no store at {database} (store.url {safe_url(url)}): has the bot run yet?")
    try:
        engine = open_engine(url)
        if not schema_is_current(engine):
            raise _fail(f"the store at {safe_url(url)} has no bot data (or an older schema)")
    except StoreError as error:
        raise _fail(str(error)) from None
    except SQLAlchemyError as error:
        raise _fail(f"cannot read the store at {safe_url(url)}: {type(error).__name__}") from None
    return engine, url


_ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The bot's YAML config file.")]
_StoreOption = Annotated[str | None, typer.Option(help="Store URL; overrides store.url.")]
_EnvOption = Annotated[Path | None, typer.Option(help="A .env file to read variables from.")]
_WaitOption = Annotated[
    float, typer.Option(min=0, help="Seconds to wait for the running bot to confirm.")
]


@app.command()
def halt(
    config: _ConfigOption,
    reason: Annotated[str, typer.Option(help="Why; kept with the state.")] = "halted by command",
    flatten: Annotated[
        bool | None,
        typer.Option(
            "--flatten/--no-flatten",
            help="Also cancel open orders and close the bot's positions (default: "
            "risk.flatten_on_halt).",
        ),
    ] = None,
    store: _StoreOption = None,
    env_file: _EnvOption = None,
    wait: _WaitOption = 5.0,
) -> None:
    """Kill switch: the running bot places no new order (cancels still go) until `resume`."""
    _trading_command("halt", config, reason, flatten, store, env_file, wait)


@app.command()
def reduce(
    config: _ConfigOption,
    reason: Annotated[str, typer.Option(help="Why; kept with the state.")] = "reducing by command",
    store: _StoreOption = None,
    env_file: _EnvOption = None,
    wait: _WaitOption = 5.0,
) -> None:
    """Only orders, or parts of them, that shrink a position pass until `resume`."""
    _trading_command("reduce", config, reason, None, store, env_file, wait)


@app.command()
def resume(
    config: _ConfigOption,
    reason: Annotated[str, typer.Option(help="Why; kept with the state.")] = "resumed by command",
    store: _StoreOption = None,
    env_file: _EnvOption = None,
    wait: _WaitOption = 5.0,
) -> None:
    """Back to ACTIVE trading: the only way out of `halt` and `reduce`."""
    _trading_command("resume", config, reason, None, store, env_file, wait)


def _trading_command(
    command: Command,
    config: Path,
    reason: str,
    flatten: bool | None,
    store: str | None,
    env_file: Path | None,
    wait: float,
) -> None:
    """Write the command to the store, where the running bot picks it up within a second,
    and wait for its confirmation. Exit 0 once applied; 1 when no bot confirmed it in time
    (it stays written: the next bot to start on this store applies it)."""
    engine, url = _open_store(config, store, env_file)
    try:
        issued = issue_command(engine, command, reason, flatten)
        deadline = time.monotonic() + wait
        while True:
            current = read_command(engine)
            if current is None or current.id != issued.id:
                raise _fail("another command replaced this one before a bot applied it")
            if current.applied:
                out.print(f"{command} applied: {current.outcome}", highlight=False, markup=False)
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.2)
    except SQLAlchemyError as error:
        raise _fail(
            f"cannot write to the store at {safe_url(url)}: {type(error).__name__}"
        ) from None
    err.print(
        f"{command} written to the store, but no running bot confirmed it within {wait:g} s: "
        "is the bot running on this store? The next bot to start on it applies it.",
        highlight=False,
        markup=False,
    )
    raise typer.Exit(1)


@app.command("send-signal")
def send_signal(
    url: Annotated[str, typer.Option(help="The bot's webhook.")] = "http://127.0.0.1:8080",
    file: Annotated[
        str | None, typer.Option("--file", "-f", help="A JSON signal to send; - reads stdin.")
    ] = None,
    asset: Annotated[str | None, typer.Option(help="Unified symbol, e.g. BTC/USDT.")] = None,
    side: Annotated[str | None, typer.Option(help="buy or sell.")] = None,
    size: Annotated[str | None, typer.Option(help="Base amount.")] = None,
    notional: Annotated[str | None, typer.Option(help="Quote amount (instead of --size).")] = None,
    price: Annotated[str | None, typer.Option(help="Expected price.")] = None,
    signal_id: Annotated[str | None, typer.Option(help="Default: a new UUID.")] = None,
    source: Annotated[str | None, typer.Option(help="The signal's source.")] = None,
    secret_env: Annotated[
        str | None,
        typer.Option(help="Name of the environment variable holding the webhook's hmac_secret."),
    ] = None,
    wait: Annotated[
        float | None,
        typer.Option(min=0, help="Follow the signal up to this many seconds until it is done."),
    ] = None,
) -> None:
    """Send one signal to a running bot's webhook and print its answer.

    Exit code 0: accepted (or executed); 1: the bot rejected or refused the signal; 2: bad
    options, or the bot could not be reached or refused the credentials.
    """
    fields = {"signal_id": signal_id, "asset": asset, "side": side, "size": size}
    fields |= {"notional": notional, "price": price, "source": source}
    if not url.startswith(("http://", "https://")):
        raise _fail(f"--url {url!r}: expected http://host:port or https://...")
    try:
        body = signal_body(file, fields, sys.stdin.read)
        with WebhookClient(url, secret_from_env(secret_env)) as client:
            answer = client.post_signal(body)
            out.print(answer.describe(), highlight=False, markup=False, soft_wrap=True)
            if answer.taken and wait and answer.status not in FINAL:
                answer = client.wait(answer.body["status_url"], wait)
                out.print(answer.describe(), highlight=False, markup=False, soft_wrap=True)
                if answer.status not in FINAL:
                    err.print(f"still {answer.status} after {wait:g} s", highlight=False)
    except (UsageError, DeliveryError) as error:
        raise _fail(str(error)) from None
    raise typer.Exit(exit_code(answer))


app.add_typer(venue_app, name="venue")


def main() -> None:
    app()
