"""Opening the bot's store for the commands that work on it beside the running bot (`report`,
`halt` / `reduce` / `resume`): it must exist already and hold the bot's data."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from trading_bot.cli.config_check import load_config_or_exit
from trading_bot.cli.console import fail
from trading_bot.store.database import (
    StoreError,
    open_engine,
    safe_url,
    schema_is_current,
    sqlite_file,
)


def open_bot_store(config: Path, store: str | None, env_file: Path | None) -> tuple[Engine, str]:
    """The bot's store, which must exist already (a report or a command for a bot that never
    ran is a mistake worth saying)."""
    loaded = load_config_or_exit(config, env_file)
    url = store or loaded.config.store.url
    database = sqlite_file(url)
    if database is not None and not Path(database).exists():
        raise fail(f"no store at {database} (store.url {safe_url(url)}): has the bot run yet?")
    try:
        engine = open_engine(url)
        if not schema_is_current(engine):
            raise fail(f"the store at {safe_url(url)} has no bot data (or an older schema)")
    except StoreError as error:
        raise fail(str(error)) from None
    except SQLAlchemyError as error:
        raise fail(f"cannot read the store at {safe_url(url)}: {type(error).__name__}") from None
    return engine, url
