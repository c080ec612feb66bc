"""What the policy needs from the store about a group of shipments, loaded in two queries, and
the rows a decision writes, inserted in one statement per table.

Recording a carrier reply of 40 shipments one query at a time costs hundreds of round trips;
loading their histories together and writing their changes together costs a handful.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.model import TrackedEvent
from tracker.store.driver import insert_rows
from tracker.store.models import Base, Notice, Shipment, TrackingEvent
from tracker.store.outbox import SELLER_KIND_PREFIX, SHOP_KIND_PREFIX
from tracker.store.shipments import NoticeDraft, seller_facts, to_tracked

NO_SELLER_CHANNEL = (
    "no seller channel configured (refund.notify_seller_email, refund.notify_seller_webhook)"
)


@dataclass
class ShipmentHistory:
    """A shipment's stored timeline (time order) and the notices it already has."""

    events: list[TrackedEvent] = field(default_factory=list)
    fingerprints: set[str] = field(default_factory=set)
    notice_keys: set[str] = field(default_factory=set)
    last_notice_at: datetime | None = None
    #: the latest end of a delivery window a buyer notice promised
    promised_by: datetime | None = None


def load_histories(session: Session, shipment_ids: Sequence[int]) -> dict[int, ShipmentHistory]:
    """Histories of ``shipment_ids``: one query for events, one for notices."""
    histories = {shipment_id: ShipmentHistory() for shipment_id in shipment_ids}
    if not shipment_ids:
        return histories
    # Rows, not ORM objects: a timeline is read, never changed, in the per-shipment loop.
    rows = session.execute(
        select(
            TrackingEvent.shipment_id,
            TrackingEvent.fingerprint,
            TrackingEvent.occurred_at,
            TrackingEvent.text,
            TrackingEvent.code,
            TrackingEvent.location,
            TrackingEvent.country,
            TrackingEvent.carrier,
            TrackingEvent.status,
            TrackingEvent.detail,
            TrackingEvent.rule,
        )
        .where(TrackingEvent.shipment_id.in_(shipment_ids))
        .order_by(TrackingEvent.shipment_id, TrackingEvent.occurred_at, TrackingEvent.id)
    )
    for row in rows:
        history = histories[row.shipment_id]
        history.events.append(to_tracked(row))
        history.fingerprints.add(row.fingerprint)
    notices = session.execute(
        select(
            Notice.shipment_id,
            Notice.idempotency_key,
            Notice.kind,
            Notice.state,
            Notice.not_before,
            Notice.payload,
        ).where(Notice.shipment_id.in_(shipment_ids))
    )
    for shipment_id, key, kind, state, not_before, payload in notices:
        history = histories[shipment_id]
        sub_key = key.split(":", 1)[1]
        # A seller alert's rows are one per channel; the alert itself is one key.
        if sub_key.startswith("seller:"):
            sub_key = ":".join(sub_key.split(":")[:2])
        history.notice_keys.add(sub_key)
        # Failed notices, the seller's copies and shop pushes never delay the buyer's next email.
        counts = state != "failed" and not kind.startswith((SELLER_KIND_PREFIX, SHOP_KIND_PREFIX))
        if counts and (history.last_notice_at is None or not_before > history.last_notice_at):
            history.last_notice_at = not_before
        if counts:
            history.promised_by = _later(history.promised_by, _promised(payload))
    return histories


def _promised(payload: dict[str, Any] | None) -> datetime | None:
    """The window end a stored buyer notice promised (``expected_by``), if any."""
    value = (payload or {}).get("expected_by")
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


@dataclass
class PendingWrites:
    """Rows produced while deciding a group of shipments, inserted together at the end."""

    events: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)

    def add_events(
        self,
        shipment: Shipment,
        history: ShipmentHistory,
        tracked: Sequence[TrackedEvent],
        now: datetime,
    ) -> list[TrackedEvent]:
        """Queue the events the history lacks, merge them into it; returns the new ones."""
        fresh: list[TrackedEvent] = []
        for event in tracked:
            fingerprint = event.raw.fingerprint()
            if fingerprint in history.fingerprints:
                continue
            history.fingerprints.add(fingerprint)
            fresh.append(event)
            self.events.append(
                {
                    "shipment_id": shipment.id,
                    "fingerprint": fingerprint,
                    "occurred_at": event.raw.occurred_at,
                    "code": _fit(event.raw.code, 40),
                    "text": event.raw.text,
                    "location": _fit(event.raw.location, 200),
                    "country": _iso2(event.raw.country),
                    "carrier": shipment.carrier,
                    "status": event.status.value,
                    "detail": event.detail.value if event.detail else None,
                    "rule": event.classification.rule,
                    "recorded_at": now,
                }
            )
        if fresh:
            # sorted() is stable: stored events keep their order, new ones follow at equal times.
            history.events = sorted([*history.events, *fresh], key=lambda e: e.raw.occurred_at)
        return fresh

    def add_notices(
        self,
        shipment: Shipment,
        history: ShipmentHistory,
        drafts: Sequence[NoticeDraft],
        now: datetime,
    ) -> None:
        """Queue outbox rows; the unique idempotency key makes a duplicate impossible."""
        for draft in drafts:
            history.notice_keys.add(draft.key)
            self.notices.append(
                {
                    "shipment_id": shipment.id,
                    "kind": draft.kind,
                    "idempotency_key": f"{shipment.id}:{draft.key}",
                    "state": "pending",
                    "payload": draft.payload,
                    "created_at": now,
                    "not_before": draft.not_before,
                    "attempts": 0,
                    "last_error": None,
                }
            )
            self.add_audit(shipment, now, "notice.queued", notice_kind=draft.kind, key=draft.key)

    def add_seller_alert(
        self,
        shipment: Shipment,
        history: ShipmentHistory,
        alert: str,
        channels: Sequence[str],
        now: datetime,
    ) -> None:
        """Queue a seller alert: one outbox row per configured channel (kind ``seller_<alert>``),
        or one ``skipped`` row naming the missing setting, so it is decided once and shows in
        ``tracker show``; plus an audit row for ``tracker events``."""
        kind = f"{SELLER_KIND_PREFIX}{alert}"
        facts = {
            "event": alert,
            **seller_facts(shipment),
            "shipped_at": shipment.shipped_at.isoformat(),
            "noticed_at": now.isoformat(),
            # the last word from the carrier or the tracking service: why the alert came
            "latest_event": history.events[-1].raw.text if history.events else None,
        }
        history.notice_keys.add(f"seller:{alert}")
        for channel in channels or ("none",):
            self.notices.append(
                {
                    "shipment_id": shipment.id,
                    "kind": kind,
                    "idempotency_key": f"{shipment.id}:seller:{alert}:{channel}",
                    "state": "pending" if channels else "skipped",
                    "payload": {"channel": channel, **facts},
                    "created_at": now,
                    "not_before": now,
                    "attempts": 0,
                    "last_error": None if channels else NO_SELLER_CHANNEL,
                }
            )
        self.add_audit(shipment, now, f"seller.{alert}", channels=list(channels))

    def add_audit(self, shipment: Shipment, now: datetime, kind: str, **data: Any) -> None:
        """Queue one audit row."""
        self.audit.append(
            {
                "shipment_id": shipment.id,
                "at": now,
                "kind": kind,
                "carrier": shipment.carrier,
                "data": data,
            }
        )

    def flush(self, session: Session) -> None:
        """Insert everything queued, one executemany per table, the driver's own (see
        tracker.store.driver: SQLAlchemy's per-row parameter handling cost twice the inserts)."""
        connection = session.connection()
        for table, rows in (
            ("tracking_events", self.events),
            ("notices", self.notices),
            ("audit_log", self.audit),
        ):
            insert_rows(connection, Base.metadata.tables[table], rows)
        self.events, self.notices, self.audit = [], [], []


def _fit(value: str | None, limit: int) -> str | None:
    """Carrier strings are cut to the column's size rather than failing the whole reply."""
    return value if value is None or len(value) <= limit else value[: limit - 1] + "…"


def _iso2(country: str | None) -> str | None:
    """Only ISO alpha-2 codes are stored; anything else (``USA``, a name) is dropped."""
    if country is None:
        return None
    code = country.strip().upper()
    return code if len(code) == 2 and code.isalpha() else None
