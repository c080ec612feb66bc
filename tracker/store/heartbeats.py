"""Daemon heartbeats: one row per running daemon, rewritten every heartbeat interval.

``tracker status`` reads them to tell a live scheduler from a dead or stuck one, and to show the
in-memory state only the daemon knows (circuit breakers, the config generation it runs with).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from tracker.store.models import Base, UTCDateTime

#: rows of daemons that have not beaten for this long are deleted by the next heartbeat
FORGET_AFTER = timedelta(days=7)


class DaemonHeartbeat(Base):
    """The latest heartbeat of one daemon process (keyed by its lease owner identity)."""

    __tablename__ = "daemon_heartbeats"
    __table_args__ = (Index("ix_daemon_heartbeats_beat_at", "beat_at"),)

    owner: Mapped[str] = mapped_column(String(80), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    interval_seconds: Mapped[float] = mapped_column(Float)
    config_digest: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


@dataclass(frozen=True, slots=True)
class Beat:
    """What one daemon reports about itself."""

    owner: str
    host: str
    pid: int
    state: str
    started_at: datetime
    at: datetime
    interval: timedelta
    config_digest: str
    data: dict[str, Any]


def write_heartbeat(factory: sessionmaker[Session], beat: Beat) -> None:
    """Insert or replace this daemon's row, and forget daemons silent for a week."""
    with factory.begin() as session:
        row = session.get(DaemonHeartbeat, beat.owner)
        if row is None:
            row = DaemonHeartbeat(owner=beat.owner)
            session.add(row)
        row.host = beat.host
        row.pid = beat.pid
        row.state = beat.state
        row.started_at = beat.started_at
        row.beat_at = beat.at
        row.interval_seconds = beat.interval.total_seconds()
        row.config_digest = beat.config_digest
        row.data = beat.data
        session.execute(
            delete(DaemonHeartbeat).where(DaemonHeartbeat.beat_at < beat.at - FORGET_AFTER)
        )


def read_heartbeats(session: Session) -> list[Beat]:
    """Every remembered daemon, latest heartbeat first."""
    rows = session.scalars(select(DaemonHeartbeat).order_by(DaemonHeartbeat.beat_at.desc()))
    return [
        Beat(
            owner=r.owner,
            host=r.host,
            pid=r.pid,
            state=r.state,
            started_at=r.started_at,
            at=r.beat_at,
            interval=timedelta(seconds=r.interval_seconds),
            config_digest=r.config_digest,
            data=dict(r.data),
        )
        for r in rows
    ]
