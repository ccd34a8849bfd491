"""The schema: Alembic builds it from nothing, and it is exactly what the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from trading_bot.store.database import open_engine, schema_is_current, upgrade_to_head
from trading_bot.store.models import Base


def test_alembic_upgrades_an_empty_database_to_head(store_url: str) -> None:
    engine = open_engine(store_url)
    assert not inspect(engine).get_table_names()
    upgrade_to_head(engine)
    assert schema_is_current(engine)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_models_and_migrations_agree(store_url: str) -> None:
    engine = open_engine(store_url)
    upgrade_to_head(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_upgrading_twice_changes_nothing(store_url: str) -> None:
    engine = open_engine(store_url)
    upgrade_to_head(engine)
    upgrade_to_head(engine)
    assert schema_is_current(engine)
    engine.dispose()
