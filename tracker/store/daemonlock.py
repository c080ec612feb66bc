"""One daemon per SQLite file: an exclusive lock file beside the database, held while it runs.

SQLite cannot share due work between processes the way PostgreSQL's ``FOR UPDATE SKIP LOCKED``
can, so a second ``tracker run`` on the same file is refused with the holder's pid, instead of
both daemons polling and emailing the same shipments.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

from tracker.errors import StoreError


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).resolve()


def lock_path(database: Path) -> Path:
    """``tracker.sqlite3`` -> ``tracker.sqlite3.daemon.lock``."""
    return database.with_name(database.name + ".daemon.lock")


@contextlib.contextmanager
def single_daemon(url: str) -> Iterator[Path | None]:
    """Hold the SQLite file's daemon lock for the duration; a no-op for PostgreSQL.

    Raises StoreError naming the lock file and the pid of the daemon holding it.
    """
    database = sqlite_path(url)
    if database is None:
        yield None
        return
    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            raise StoreError(
                f"another tracker daemon (pid {holder}) is running on {database}: it holds "
                f"{path}. SQLite supports one daemon per database; stop it first, or use "
                "PostgreSQL to run several daemons on one store"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
