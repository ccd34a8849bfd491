"""Alembic environment: runs on the engine the bot hands over (no alembic.ini, no URL here)."""

from __future__ import annotations

from alembic import context

from trading_bot.store.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
