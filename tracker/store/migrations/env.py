"""Alembic environment: runs on the connection the tracker hands it (see tracker.store.db)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from tracker.store.models import Base

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through tracker.store.db.migrate(), not the alembic CLI")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
