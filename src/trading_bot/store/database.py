"""Opening the store: one SQLAlchemy engine per URL, SQLite tuned for a crash-safe single
writer, and the schema brought to the newest migration on open."""

from __future__ import annotations

import re
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


class StoreError(Exception):
    """The store cannot be opened or written; the message says which URL and why (never the
    URL's password)."""


_CREDENTIALS = re.compile(r"^([^:/]*:/*[^:/@]*):[^@]*@")


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages and logs (also when it does not
    parse, where the password would otherwise show in the error)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _CREDENTIALS.sub(r"\1:***@", url)


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite URL (None for other databases or an unparseable URL)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None
    return parsed.database if parsed.get_backend_name() == "sqlite" else None


def url_password(url: str) -> str | None:
    """The password in a URL, to add to the secrets logs mask."""
    try:
        return make_url(url).password
    except (ArgumentError, ValueError):
        return None


def open_engine(url: str, *, background_checkpoints: bool = False) -> Engine:
    """An engine for `url`. SQLite files get WAL journaling with synchronous=NORMAL: a commit
    survives the process being killed (only a power loss can lose the newest commits), and
    readers such as `trading-bot report` never block the bot. `background_checkpoints`: its
    commits never fold the log back into the database themselves; the caller runs a
    `WalCheckpointer` (store/checkpoint.py) for that."""
    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018  (a bad port only raises when read)
    except (ArgumentError, ValueError):
        raise StoreError(
            f"store.url {safe_url(url)!r} is not a database URL; expected e.g. "
            "sqlite:///state/bot.sqlite or postgresql://user@host:5432/db"
        ) from None
    # no pool_pre_ping: it costs a round trip per transaction, and a dropped connection already
    # fails the journal's commit, which keeps orders unsent and retries
    options: dict[str, Any] = {"future": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":
            raise StoreError(
                "store.url: an in-memory SQLite store keeps nothing across a restart; "
                "give a file, e.g. sqlite:///state/bot.sqlite"
            )
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(
                f"store.url {safe_url(url)}: cannot create {Path(database).parent}: "
                f"{error.strerror}"
            ) from None
        options["connect_args"] = {"timeout": 30}
    elif parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        engine = create_engine(parsed, **options)
    except (ArgumentError, ImportError, ValueError) as error:
        raise StoreError(f"store.url {safe_url(url)}: {error}") from None
    if parsed.get_backend_name() == "sqlite":
        pragmas = _SQLITE_PRAGMAS + (
            ("PRAGMA wal_autocheckpoint=0",) if background_checkpoints else ()
        )

        def set_pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            for pragma in pragmas:
                cursor.execute(pragma)
            cursor.close()

        event.listen(engine, "connect", set_pragmas)
    return engine


# page_size applies to a new file only (first, before WAL is set): every commit appends each page
# it touched to the log, and the journal's commits touch ~10 pages for a few hundred bytes of
# rows; 1 KiB pages write 2.6x fewer log bytes per signal than the default 4 KiB
_SQLITE_PRAGMAS = (
    "PRAGMA page_size=1024",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)


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
