"""Persistence: SQLAlchemy models, Alembic migrations and the repositories the bot writes
through. The core never imports this package; the composition root wires it to the ports."""
