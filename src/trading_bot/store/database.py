"""Opening the store: one SQLAlchemy engine per URL, SQLite tuned for a crash-safe single
writer, and the schema brought to the newest migration on open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_URL = "sqlite:///state/trading-bot.sqlite"


class StoreError(Exception):
    """The store cannot be opened or written; the message says which URL and why (never the
    URL's password)."""


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable store URL)"


def open_engine(url: str) -> Engine:
    """An engine for `url`. SQLite files get WAL journaling with synchronous=NORMAL: a commit
    survives the process being killed (only a power loss can lose the newest commits), and
    readers such as `trading-bot report` never block the bot."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise StoreError(f"store.url {url!r} is not a database URL: {error}") from None
    # no pool_pre_ping: it costs a round trip per transaction, and a dropped connection already
    # fails the journal's commit, which keeps orders unsent and retries
    options: dict[str, Any] = {"future": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"timeout": 30}
    elif parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        engine = create_engine(parsed, **options)
    except (ArgumentError, ImportError) as error:
        raise StoreError(f"store.url {safe_url(url)}: {error}") from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Apply every migration the database has not had yet (a new file starts empty)."""
    try:
        command.upgrade(alembic_config(engine), "head")
    except SQLAlchemyError as error:
        raise StoreError(
            f"cannot migrate the store at {safe_url(str(engine.url))}: {error}"
        ) from None


def schema_is_current(engine: Engine) -> bool:
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head
