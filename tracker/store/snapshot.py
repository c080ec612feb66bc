"""Read-only counts of what the store holds and what is waiting, shared by ``tracker status`` and
the Prometheus collector so both always report the same numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.store.models import AuditEntry, Notice, Shipment, TrackingEvent


@dataclass(frozen=True)
class CarrierActivity:
    """One carrier's polling as the store remembers it."""

    active: int
    last_success: datetime | None
    active_since: datetime | None


@dataclass(frozen=True)
class StoreSnapshot:
    """Counts at one moment."""

    at: datetime
    shipments_by_status: dict[str, int]
    events_by_status: dict[str, int]
    notices_by_state: dict[str, int]
    queues: dict[str, int]
    carriers: dict[str, CarrierActivity] = field(default_factory=dict)
    failed_notices_recent: int = 0


def _grouped(session: Session, column: object, *where: object) -> dict[str, int]:
    query = select(column, func.count()).group_by(column)  # type: ignore[call-overload]
    if where:
        query = query.where(*where)
    return {str(key): int(count) for key, count in session.execute(query).all()}


def queue_depths(session: Session, now: datetime) -> dict[str, int]:
    """Work waiting: due polls and timers, due and pending notices, notices being retried."""

    def count(*where: object) -> int:
        return int(session.scalar(select(func.count()).where(*where)) or 0)  # type: ignore[arg-type]

    return {
        "poll_due": count(Shipment.next_poll_at.is_not(None), Shipment.next_poll_at <= now),
        "timers_due": count(Shipment.next_timer_at.is_not(None), Shipment.next_timer_at <= now),
        "notices_due": count(Notice.state.in_(("pending", "sending")), Notice.not_before <= now),
        "notices_pending": count(Notice.state.in_(("pending", "sending"))),
        "notices_retrying": count(Notice.state == "pending", Notice.attempts > 0),
    }


def carrier_activity(session: Session) -> dict[str, CarrierActivity]:
    """Per carrier: shipments still polled, the latest successful poll, the oldest such shipment."""
    active = {
        str(carrier): (int(n), since)
        for carrier, n, since in session.execute(
            select(Shipment.carrier, func.count(), func.min(Shipment.created_at))
            .where(Shipment.next_poll_at.is_not(None))
            .group_by(Shipment.carrier)
        ).all()
    }
    last = dict(
        session.execute(
            select(Shipment.carrier, func.max(Shipment.last_polled_at)).group_by(Shipment.carrier)
        ).all()
    )
    names = sorted(set(active) | {str(c) for c in last})
    return {
        name: CarrierActivity(
            active=active.get(name, (0, None))[0],
            last_success=_aware(last.get(name)),
            active_since=_aware(active.get(name, (0, None))[1]),
        )
        for name in names
    }


def _aware(value: datetime | None) -> datetime | None:
    """Aggregates bypass the column type on SQLite, so re-attach UTC to naive results."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def take_snapshot(session: Session, now: datetime, failed_since: datetime) -> StoreSnapshot:
    """Everything status and metrics report from the store, in one read transaction."""
    return StoreSnapshot(
        at=now,
        shipments_by_status=_grouped(session, Shipment.status),
        events_by_status=_grouped(session, TrackingEvent.status),
        notices_by_state=_grouped(session, Notice.state),
        queues=queue_depths(session, now),
        carriers=carrier_activity(session),
        failed_notices_recent=int(
            session.scalar(
                select(func.count()).where(
                    AuditEntry.kind == "notice.failed", AuditEntry.at >= failed_since
                )
            )
            or 0
        ),
    )
