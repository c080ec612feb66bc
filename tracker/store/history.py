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

from sqlalchemy.orm import Session

from tracker.model import Classification, Detail, RawEvent, Status, TrackedEvent
from tracker.store.driver import column_reader, fetch_all, insert_values, marks
from tracker.store.models import Base, Notice, TrackingEvent
from tracker.store.outbox import SELLER_KIND_PREFIX, SHOP_KIND_PREFIX
from tracker.store.rows import ShipmentLike
from tracker.store.shipments import NoticeDraft, seller_facts

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
    # Plain rows from the driver, not ORM objects nor SQLAlchemy rows: a timeline is read, never
    # changed, in the per-shipment loop, and SQLAlchemy's statement execution and row objects
    # cost several times the queries (bench/pipeline.py).
    connection = session.connection()
    dialect = connection.dialect
    ids = marks(dialect, len(shipment_ids))
    when = column_reader(dialect, TrackingEvent.__table__.c.occurred_at)
    events = fetch_all(
        connection,
        "SELECT shipment_id, fingerprint, occurred_at, text, code, location, country, carrier,"
        f" status, detail, rule FROM tracking_events WHERE shipment_id IN ({ids})"
        " ORDER BY shipment_id, occurred_at, id",
        tuple(shipment_ids),
    )
    for shipment_id, fingerprint, occurred_at, *rest in events:
        history = histories[shipment_id]
        text, code, location, country, carrier, status, detail, rule = rest
        raw = RawEvent(
            occurred_at if when is None else when(occurred_at),
            text,
            code,
            location,
            country,
            carrier,
        )
        classification = Classification(Status(status), Detail(detail) if detail else None, rule)
        history.events.append(TrackedEvent(raw, classification))
        history.fingerprints.add(fingerprint)
    read_time = column_reader(dialect, Notice.__table__.c.not_before)
    read_payload = column_reader(dialect, Notice.__table__.c.payload)
    notices = [
        (
            shipment_id,
            key,
            kind,
            state,
            not_before if read_time is None else read_time(not_before),
            payload if read_payload is None else read_payload(payload),
        )
        for shipment_id, key, kind, state, not_before, payload in fetch_all(
            connection,
            "SELECT shipment_id, idempotency_key, kind, state, not_before, payload FROM notices"
            f" WHERE shipment_id IN ({ids})",
            tuple(shipment_ids),
        )
    ]
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


#: the columns of the rows PendingWrites queues, in the order their values are kept (tuples:
#: a first poll queues about ten rows per shipment, and a dict per row cost a tenth of flushing)
EVENT_COLUMNS = (
    "shipment_id",
    "fingerprint",
    "occurred_at",
    "code",
    "text",
    "location",
    "country",
    "carrier",
    "status",
    "detail",
    "rule",
    "recorded_at",
)
NOTICE_COLUMNS = (
    "shipment_id",
    "kind",
    "idempotency_key",
    "state",
    "payload",
    "created_at",
    "not_before",
    "attempts",
    "last_error",
)
AUDIT_COLUMNS = ("shipment_id", "at", "kind", "carrier", "data")


@dataclass
class PendingWrites:
    """Rows produced while deciding a group of shipments, inserted together at the end."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    notices: list[tuple[Any, ...]] = field(default_factory=list)
    audit: list[tuple[Any, ...]] = field(default_factory=list)

    def add_events(
        self,
        shipment: ShipmentLike,
        history: ShipmentHistory,
        tracked: Sequence[TrackedEvent],
        now: datetime,
    ) -> list[TrackedEvent]:
        """Queue the events the history lacks, merge them into it; returns the new ones."""
        fresh: list[TrackedEvent] = []
        # Read once: an ORM attribute costs more than a local, and a reply brings ~8 events.
        shipment_id, carrier, known = shipment.id, shipment.carrier, history.fingerprints
        queue, texts = self.events.append, _ENUM_TEXT
        for event in tracked:
            raw, classification = event.raw, event.classification
            fingerprint = raw.fingerprint()
            if fingerprint in known:
                continue
            known.add(fingerprint)
            fresh.append(event)
            detail, code, location = classification.detail, raw.code, raw.location
            queue(
                (
                    shipment_id,
                    fingerprint,
                    raw.occurred_at,
                    code if code is None or len(code) <= 40 else _fit(code, 40),
                    raw.text,
                    location if location is None or len(location) <= 200 else _fit(location, 200),
                    _iso2(raw.country),
                    carrier,
                    texts[classification.status],
                    texts[detail] if detail else None,
                    classification.rule,
                    now,
                )
            )
        if fresh:
            # sorted() is stable: stored events keep their order, new ones follow at equal times.
            history.events = sorted([*history.events, *fresh], key=lambda e: e.raw.occurred_at)
        return fresh

    def add_notices(
        self,
        shipment: ShipmentLike,
        history: ShipmentHistory,
        drafts: Sequence[NoticeDraft],
        now: datetime,
    ) -> None:
        """Queue outbox rows; the unique idempotency key makes a duplicate impossible."""
        for draft in drafts:
            history.notice_keys.add(draft.key)
            self.notices.append(
                (
                    shipment.id,
                    draft.kind,
                    f"{shipment.id}:{draft.key}",
                    "pending",
                    draft.payload,
                    now,
                    draft.not_before,
                    0,
                    None,
                )
            )
            self.add_audit(shipment, now, "notice.queued", notice_kind=draft.kind, key=draft.key)

    def add_seller_alert(
        self,
        shipment: ShipmentLike,
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
                (
                    shipment.id,
                    kind,
                    f"{shipment.id}:seller:{alert}:{channel}",
                    "pending" if channels else "skipped",
                    {"channel": channel, **facts},
                    now,
                    now,
                    0,
                    None if channels else NO_SELLER_CHANNEL,
                )
            )
        self.add_audit(shipment, now, f"seller.{alert}", channels=list(channels))

    def add_audit(self, shipment: ShipmentLike, now: datetime, kind: str, **data: Any) -> None:
        """Queue one audit row."""
        self.audit.append((shipment.id, now, kind, shipment.carrier, data))

    def flush(self, session: Session) -> None:
        """Insert everything queued, one executemany per table, the driver's own (see
        tracker.store.driver: SQLAlchemy's per-row parameter handling cost twice the inserts)."""
        connection = session.connection()
        for table, names, rows in (
            ("tracking_events", EVENT_COLUMNS, self.events),
            ("notices", NOTICE_COLUMNS, self.notices),
            ("audit_log", AUDIT_COLUMNS, self.audit),
        ):
            insert_values(connection, Base.metadata.tables[table], names, rows)
        self.events, self.notices, self.audit = [], [], []


#: a status's or detail's stored text: a dict lookup is a seventh of ``.value`` (an enum
#: property), taken twice per stored event
_ENUM_TEXT: dict[Status | Detail, str] = {
    **{status: status.value for status in Status},
    **{detail: detail.value for detail in Detail},
}


def _fit(value: str | None, limit: int) -> str | None:
    """Carrier strings are cut to the column's size rather than failing the whole reply."""
    return value if value is None or len(value) <= limit else value[: limit - 1] + "…"


def _iso2(country: str | None) -> str | None:
    """Only ISO alpha-2 codes are stored; anything else (``USA``, a name) is dropped."""
    if country is None:
        return None
    code = country.strip().upper()
    return code if len(code) == 2 and code.isalpha() else None
