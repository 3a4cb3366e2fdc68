"""Alembic environment: migrations run from code, on the engine the daemon uses."""

from __future__ import annotations

from alembic import context

from daemon.db.tables import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic` CLI use (e.g. autogenerate during development)
    from sqlalchemy import create_engine

    url = config.get_main_option("sqlalchemy.url") or "sqlite:///ghostwatch-dev.db"
    connection = create_engine(url).connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
