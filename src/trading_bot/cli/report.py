"""`trading-bot report`: the attribution report read from the bot's store, as tables or
JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from trading_bot.cli.bot_store import open_bot_store
from trading_bot.cli.console import fail, out
from trading_bot.monitoring.attribution import build_report, print_report
from trading_bot.store.database import safe_url


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
    engine, url = open_bot_store(config, store, env_file)
    try:
        result = build_report(engine)
    except SQLAlchemyError as error:
        raise fail(f"cannot read the store at {safe_url(url)}: {type(error).__name__}") from None
    if json_out:
        out.print_json(json.dumps(result))
    else:
        print_report(out, result)
