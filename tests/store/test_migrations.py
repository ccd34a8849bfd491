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


def test_a_store_from_the_first_schema_keeps_its_rows_and_loses_the_status_indexes(
    store_url: str,
) -> None:
    from alembic import command
    from sqlalchemy import text

    from trading_bot.store.database import alembic_config

    engine = open_engine(store_url)
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO signals (source, signal_id, received_ms, status, detail, asset, "
                "payload) VALUES ('s', 'id-1', 1, 'executed', '', 'BTC/USDT', '{}')"
            )
        )
    upgrade_to_head(engine)
    indexes = {ix["name"] for table in ("signals", "orders", "paper_orders")
               for ix in inspect(engine).get_indexes(table)}  # fmt: skip
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT signal_id, status FROM signals")).all()
    engine.dispose()
    assert "ix_orders_status" not in indexes and "ix_signals_status" not in indexes
    assert "ix_orders_signal" in indexes  # the lookups the store does keep theirs
    assert [tuple(row) for row in kept] == [("id-1", "executed")]
