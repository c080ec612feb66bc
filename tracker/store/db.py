"""Opening the database: engine settings per dialect, and migrations to the latest schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tracker.errors import StoreError
from tracker.eventlog import redact_secrets

MIGRATIONS = Path(__file__).with_name("migrations")
#: pg_advisory_xact_lock key held while migrating ("trak" in ASCII)
MIGRATION_LOCK_KEY = 0x7472616B


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_store_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``; SQLite files get WAL mode and their folder created."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        if url.startswith("sqlite"):
            path = url.removeprefix("sqlite:///")
            if path and url != "sqlite://" and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=5)
    except (ArgumentError, ImportError, ValueError) as exc:  # ValueError: a port not a number
        problem = redact_secrets(f"store.url {url!r} is not a usable database URL: {exc}")
        raise StoreError(problem) from exc


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest revision (idempotent)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            # Processes starting together on one database migrate one at a time.
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
            elif connection.dialect.name == "sqlite":
                # pysqlite runs DDL outside any transaction unless one is opened explicitly.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise StoreError(f"cannot migrate database {engine.url!r}: {exc.orig}") from exc


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None for an empty database."""
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as connection:
        row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
    return None if row is None else str(row[0])


def open_store(url: str, *, echo: bool = False) -> sessionmaker[Session]:
    """Engine + migrations + session factory: what every command needs first."""
    engine = create_store_engine(url, echo=echo)
    migrate(engine)
    return sessionmaker(engine, expire_on_commit=False)
