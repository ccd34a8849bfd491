"""The `trading-bot` command line.

User mistakes (a bad config, a missing file, a malformed data row) end with a clear message
and exit code 2, never a traceback. Exit code 1 means the bot itself failed.

Each command lives in a module of its own; here they are put together into `app`, in the
order `trading-bot --help` lists them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from trading_bot import __version__
from trading_bot.cli import backtest, config_check, report, run, send_signal, trading_switch
from trading_bot.cli.console import out
from trading_bot.venues.server.cli import venue_app

app = typer.Typer(
    name="trading-bot",
    help="Execute outside trading signals: backtest, paper and live on one pipeline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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


app.command("validate-config")(config_check.validate_config)
app.command()(backtest.backtest)
app.command()(run.run)
app.command()(report.report)
app.command()(trading_switch.halt)
app.command()(trading_switch.reduce)
app.command()(trading_switch.resume)
app.command("send-signal")(send_signal.send_signal)
app.add_typer(venue_app, name="venue")


def main() -> None:
    app()
