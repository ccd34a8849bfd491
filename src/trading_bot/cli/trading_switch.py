"""`trading-bot halt | reduce | resume`: the trading switch of a running bot, set through its
store and confirmed by the bot."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from trading_bot.cli.bot_store import open_bot_store
from trading_bot.cli.console import err, fail, out
from trading_bot.store.database import safe_url
from trading_bot.store.trading_commands import Command, issue_command, read_command

_ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The bot's YAML config file.")]
_StoreOption = Annotated[str | None, typer.Option(help="Store URL; overrides store.url.")]
_EnvOption = Annotated[Path | None, typer.Option(help="A .env file to read variables from.")]
_WaitOption = Annotated[
    float, typer.Option(min=0, help="Seconds to wait for the running bot to confirm.")
]


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


def reduce(
    config: _ConfigOption,
    reason: Annotated[str, typer.Option(help="Why; kept with the state.")] = "reducing by command",
    store: _StoreOption = None,
    env_file: _EnvOption = None,
    wait: _WaitOption = 5.0,
) -> None:
    """Only orders, or parts of them, that shrink a position pass until `resume`."""
    _trading_command("reduce", config, reason, None, store, env_file, wait)


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
    engine, url = open_bot_store(config, store, env_file)
    try:
        issued = issue_command(engine, command, reason, flatten)
        deadline = time.monotonic() + wait
        while True:
            current = read_command(engine)
            if current is None or current.id != issued.id:
                raise fail("another command replaced this one before a bot applied it")
            if current.applied:
                out.print(f"{command} applied: {current.outcome}", highlight=False, markup=False)
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.2)
    except SQLAlchemyError as error:
        raise fail(
            f"cannot write to the store at {safe_url(url)}: {type(error).__name__}"
        ) from None
    err.print(
        f"{command} written to the store, but no running bot confirmed it within {wait:g} s: "
        "is the bot running on this store? The next bot to start on it applies it.",
        highlight=False,
        markup=False,
    )
    raise typer.Exit(1)
