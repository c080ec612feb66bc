"""Opening an existing store to read it, for ``show``, ``status``, ``events`` and the other
read-only commands.

Unlike ``open_store`` this never creates a database, a folder or a table and never migrates: a
mistyped path is an error naming it, not a new empty database. The schema is checked by reading
``alembic_version`` with plain SQL against the revisions this code knows, so alembic is not
imported (a test keeps ``SCHEMA_REVISIONS`` in step with the migrations folder).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from tracker.errors import StoreError

#: every migration's revision id, oldest first; the last one is what this code reads and writes.
#: A new migration adds its id here (tests/cli/test_read_only_store.py fails until it does).
SCHEMA_REVISIONS: tuple[str, ...] = (
    "0001",
    "0002_ops",
    "0003_lanes",
    "0004_shops",
    "0005_suppressions",
    "0006_carrier_facts",
    "0007_reply_digest",
    "0008_stopped",
)
SCHEMA_HEAD = SCHEMA_REVISIONS[-1]
_BUSY_TIMEOUT_SECONDS = 10.0


def display_url(url: str) -> str:
    """``url`` as it may be printed: any password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        # the log's rule, imported only here: structlog is not worth loading for every command
        from tracker.eventlog import redact_secrets

        return redact_secrets(url)


def sqlite_path(url: str) -> Path | None:
    """The file a ``sqlite:///`` URL names, or None for other databases and in-memory ones."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _read_only_sqlite(path: Path) -> Engine:
    if not path.is_file():
        what = "is a folder, not a database file" if path.is_dir() else "does not exist"
        raise StoreError(f"store {path} {what}; check [store] url (or --store)")
    target = f"file:{quote(str(path.resolve()))}?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(
            target, uri=True, timeout=_BUSY_TIMEOUT_SECONDS, check_same_thread=False
        )

    return create_engine("sqlite://", creator=connect)


def _engine(url: str) -> Engine:
    try:
        path = sqlite_path(url)
        if path is not None:
            return _read_only_sqlite(path)
        if make_url(url).drivername.startswith("sqlite"):
            raise StoreError(f"store {url!r} is in memory: there is nothing stored to read")
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ValueError, ImportError) as exc:
        raise StoreError(
            f"store.url {display_url(url)!r} is not a usable database URL "
            "(expected sqlite:///PATH or postgresql://USER@HOST/DATABASE)"
        ) from exc


def read_revision(engine: Engine, where: str) -> str | None:
    """The schema revision recorded in the database; None when it has no ``alembic_version``
    table (not a tracker database, or an empty one)."""
    try:
        with engine.connect() as connection:
            tables = _table_names(connection.dialect.name)
            if connection.exec_driver_sql(tables).first() is None:
                return None
            row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
    except DBAPIError as exc:
        raise StoreError(f"cannot read {where}: {exc.orig}") from exc
    return None if row is None else str(row[0])


def _table_names(dialect: str) -> str:
    if dialect == "sqlite":
        return "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    return "SELECT 1 FROM information_schema.tables WHERE table_name = 'alembic_version'"


def check_revision(revision: str | None, where: str) -> None:
    """Refuse a database whose schema this code does not read, saying what to do about it."""
    if revision == SCHEMA_HEAD:
        return
    if revision is None:
        raise StoreError(
            f"store {where} has no tracker schema (no alembic_version table): not a tracker "
            "database, or one never set up; check [store] url (or --store)"
        )
    if revision in SCHEMA_REVISIONS:
        raise StoreError(
            f"store {where} is at schema revision {revision}, this tracker reads {SCHEMA_HEAD}: "
            "start `tracker run` (or `tracker add`) once to upgrade it"
        )
    raise StoreError(
        f"store {where} is at schema revision {revision}, unknown to this tracker (it reads "
        f"{SCHEMA_HEAD}): a newer tracker wrote it; upgrade this one"
    )


def open_existing_store(url: str) -> sessionmaker[Session]:
    """A session factory for a store that must already exist at the current schema revision;
    SQLite files are opened read-only."""
    engine = _engine(url)
    path = sqlite_path(url)  # parsed once already by _engine, so it cannot fail here
    where = str(path) if path is not None else display_url(url)
    try:
        check_revision(read_revision(engine, where), where)
    except StoreError:
        engine.dispose()
        raise
    return sessionmaker(engine, expire_on_commit=False)
