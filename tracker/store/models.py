"""Typed SQLAlchemy 2.0 models: shipments, tracking events, the notice outbox and the audit log.

Times are stored as naive UTC and handed back timezone-aware, so SQLite and PostgreSQL agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive input is refused."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the store; use an aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class Shipment(Base):
    """One parcel being tracked for one buyer."""

    __tablename__ = "shipments"
    __table_args__ = (
        UniqueConstraint("carrier", "tracking_number", name="uq_shipments_carrier_number"),
        # Only shipments still being polled carry next_poll_at, so the due-work index stays small.
        Index(
            "ix_shipments_due",
            "next_poll_at",
            sqlite_where="next_poll_at IS NOT NULL",
            postgresql_where="next_poll_at IS NOT NULL",
        ),
        Index(
            "ix_shipments_timers",
            "next_timer_at",
            sqlite_where="next_timer_at IS NOT NULL",
            postgresql_where="next_timer_at IS NOT NULL",
        ),
        Index("ix_shipments_tracking_number", "tracking_number"),
        Index(
            "ix_shipments_lane_delivered",
            "carrier",
            "destination_country",
            "delivered_at",
            sqlite_where="delivered_at IS NOT NULL",
            postgresql_where="delivered_at IS NOT NULL",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(64))
    carrier: Mapped[str] = mapped_column(String(64))
    buyer_email: Mapped[str] = mapped_column(String(254))
    buyer_name: Mapped[str] = mapped_column(String(200))
    buyer_language: Mapped[str | None] = mapped_column(String(8))
    destination_country: Mapped[str] = mapped_column(String(2))
    origin_country: Mapped[str | None] = mapped_column(String(2))
    order_reference: Mapped[str] = mapped_column(String(100))
    shipped_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(32), default="pending")
    detail: Mapped[str | None] = mapped_column(String(40))
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expected_delivery: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: who gave ``expected_delivery`` (the carrier's name, or an aggregator's own prediction)
    expected_delivery_source: Mapped[str | None] = mapped_column(String(100))
    #: when that estimate was received (a later one replaces it)
    expected_delivery_given_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the courier holding the parcel as an aggregator names it: what buyers are shown
    carrier_holder: Mapped[str | None] = mapped_column(String(100))
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unchanged_polls: Mapped[int] = mapped_column(Integer, default=0)
    poll_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    #: set by a stop (``tracker stop``, /ops, a shop taking the number back): what comes in
    #: afterwards is kept as history but starts no polls, timers or buyer notices
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: digest of the carrier's last reply about the parcel and the estimate stored with it, kept
    #: only when that same reply would bring nothing new (tracker.store.replies)
    reply_digest: Mapped[str | None] = mapped_column(String(32))


class TrackingEvent(Base):
    """A carrier event, stored once per shipment however often it is polled."""

    __tablename__ = "tracking_events"
    __table_args__ = (
        UniqueConstraint("shipment_id", "fingerprint", name="uq_events_shipment_fingerprint"),
        Index("ix_events_shipment_time", "shipment_id", "occurred_at"),
        Index("ix_events_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    code: Mapped[str | None] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    carrier: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(40))
    rule: Mapped[str | None] = mapped_column(String(120))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Notice(Base):
    """An outbox row: one email due to a buyer, written with the state change that caused it."""

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_notices_idempotency_key"),
        Index("ix_notices_due", "state", "not_before"),
        Index("ix_notices_shipment", "shipment_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Why a shipment changed: one row per state change, milestone, notice or poll failure."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_shipment", "shipment_id", "at"),
        Index("ix_audit_kind_at", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[int | None] = mapped_column(
        ForeignKey("shipments.id", ondelete="CASCADE"), nullable=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(60))
    carrier: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Suppression(Base):
    """An address that opted out: no buyer notice goes to it, for shipments stored now or later.

    Kept apart from the shipments so an opt-out outlives them, and lower-cased, since buyers
    write their address in whatever case they like.
    """

    __tablename__ = "suppressions"

    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(40))


def suppressed_among(session: Session, emails: Iterable[str]) -> set[str]:
    """Which of ``emails`` (any case) are on the suppression list, lower-cased."""
    wanted = sorted({e.strip().lower() for e in emails if e})
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found |= set(session.scalars(select(Suppression.email).where(Suppression.email.in_(chunk))))
    return found
