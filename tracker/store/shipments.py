"""Shipment transactions: adding orders, claiming due work with leases, and recording poll results.

Each public function is one transaction. New events, the shipment's new state, the outbox rows
for the notices it causes and the audit rows commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    String,
    bindparam,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, sessionmaker

from tracker.errors import InputError
from tracker.model import Status, TrackedEvent
from tracker.store.driver import (
    column_reader,
    execute_many,
    fetch_all,
    marks,
    time_processor,
    update_values,
)
from tracker.store.models import (
    AuditEntry,
    Base,
    Shipment,
    UTCDateTime,
    suppressed_among,
)
from tracker.store.rows import ShipmentLike, ShipmentRow


@dataclass(frozen=True, slots=True)
class NewShipment:
    """A validated order line, ready to store."""

    tracking_number: str
    carrier: str
    buyer_email: str
    buyer_name: str
    buyer_language: str | None
    destination_country: str
    origin_country: str | None
    order_reference: str
    shipped_at: datetime


class ClaimedShipment(NamedTuple):
    """A leased shipment, detached from the session, for one poll or timer evaluation (a
    named tuple: a claim builds hundreds straight from the driver's rows)."""

    id: int
    tracking_number: str
    carrier: str
    destination_country: str
    origin_country: str | None
    status: str
    unchanged_polls: int
    poll_failures: int
    detail: str | None = None
    last_polled_at: datetime | None = None
    expected_delivery: datetime | None = None
    #: the seller's order reference, which aggregators are told when a tracking is created
    order_reference: str | None = None
    #: the digest of the last reply that brought nothing new (tracker.store.replies)
    reply_digest: str | None = None


@dataclass(frozen=True, slots=True)
class NoticeDraft:
    """An outbox row to create alongside a state change."""

    kind: str
    key: str
    not_before: datetime
    payload: dict[str, Any]


def _row_values(item: NewShipment, now: datetime) -> dict[str, Any]:
    return {
        "tracking_number": item.tracking_number,
        "carrier": item.carrier,
        "buyer_email": item.buyer_email,
        "buyer_name": item.buyer_name,
        "buyer_language": item.buyer_language,
        "destination_country": item.destination_country,
        "origin_country": item.origin_country,
        "order_reference": item.order_reference,
        "shipped_at": item.shipped_at,
        "created_at": now,
        "status": Status.PENDING.value,
        "next_poll_at": now,
        "unchanged_polls": 0,
        "poll_failures": 0,
        "opted_out": False,
    }


def add_shipments(
    factory: sessionmaker[Session], items: Sequence[NewShipment], now: datetime
) -> list[int]:
    """Store all ``items`` or none; a number already tracked for that carrier is an InputError."""
    if not items:
        return []  # an INSERT with no rows would be one row of defaults
    with factory.begin() as session:
        numbers = [(i.carrier, i.tracking_number) for i in items]
        existing = _existing(session, numbers)
        if existing:
            shown = ", ".join(f"{n} ({c})" for c, n in sorted(existing)[:5])
            raise InputError(f"already tracked: {shown}")
        quiet = suppressed_among(session, (item.buyer_email for item in items))
        rows = [
            _row_values(item, now) | {"opted_out": item.buyer_email.strip().lower() in quiet}
            for item in items
        ]
        # Bulk statements, not one ORM object per row: a 200,000-line import stays fast and flat.
        ids = list(
            session.scalars(
                insert(Shipment).returning(Shipment.id, sort_by_parameter_order=True), rows
            )
        )
        audit = [
            _audit_row(i, r, now, "shipment.added", {}) for i, r in zip(ids, rows, strict=True)
        ]
        audit += [  # the buyer opted out before: this parcel is tracked, never emailed
            _audit_row(i, r, now, "shipment.opted_out", {"by": "suppression_list", "source": "add"})
            for i, r in zip(ids, rows, strict=True)
            if r["opted_out"]
        ]
        if audit:
            session.execute(insert(AuditEntry), audit)
        return ids


def _audit_row(
    shipment_id: int, row: dict[str, Any], now: datetime, kind: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {"shipment_id": shipment_id, "at": now, "kind": kind, "carrier": row["carrier"]} | {
        "data": data
    }


def _existing(session: Session, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    numbers = sorted({n for _, n in pairs})
    for start in range(0, len(numbers), 500):
        chunk = numbers[start : start + 500]
        rows = session.execute(
            select(Shipment.carrier, Shipment.tracking_number).where(
                Shipment.tracking_number.in_(chunk)
            )
        )
        found |= {(c, n) for c, n in rows}
    return found & set(pairs)


#: the columns a claim reads: no full rows, so a claim costs what a batch is, not a row's width
CLAIM_COLUMNS = (
    Shipment.id,
    Shipment.tracking_number,
    Shipment.carrier,
    Shipment.destination_country,
    Shipment.origin_country,
    Shipment.status,
    Shipment.unchanged_polls,
    Shipment.poll_failures,
    Shipment.detail,
    Shipment.last_polled_at,
    Shipment.expected_delivery,
    Shipment.order_reference,
    Shipment.reply_digest,
)


ClaimSelect = Select[
    int,
    str,
    str,
    str,
    str | None,
    str,
    int,
    int,
    str | None,
    datetime | None,
    datetime | None,
    str,
    str | None,
]
_Query = TypeVar("_Query", bound=Select[Any])


def lease_free(now: datetime | BindParameter[Any]) -> ColumnElement[bool]:
    """Nobody holds the shipment: never leased, released, or the holder's lease ran out."""
    return or_(Shipment.lease_until.is_(None), Shipment.lease_until < now)


def due_query(due_column: Any, now: datetime | BindParameter[Any], limit: Any) -> ClaimSelect:
    """The oldest-due-first page of claimable shipments; walks the partial due index only."""
    return (
        select(*CLAIM_COLUMNS)
        .where(due_column.is_not(None), due_column <= now, lease_free(now))
        .order_by(due_column)
        .limit(limit)
    )


@dataclass(frozen=True, slots=True)
class _ClaimPlan:
    """A claim statement compiled once for one dialect and due column, with what binding its
    parameters and reading its rows needs: the hot path runs it on the driver directly."""

    sql: str
    #: parameter names in the driver's order (positional paramstyles), else None (named)
    order: tuple[str, ...] | None
    defaults: dict[str, Any]
    when: Callable[[datetime | None], Any]
    #: positions of the time columns in a returned row, each with its result processor
    times: tuple[tuple[int, Callable[[Any], Any]], ...]

    def parameters(self, values: dict[str, Any]) -> Any:
        bound = self.defaults | values
        return bound if self.order is None else tuple(bound[name] for name in self.order)


_CLAIM_PLANS: dict[tuple[str, str, str], _ClaimPlan] = {}


def _claim_plan(dialect: Dialect, due_column: Any) -> _ClaimPlan:
    """SQLAlchemy's own claim statement for ``dialect``, compiled on first use: one statement,
    the due page chosen and leased together, RETURNING the columns a poll needs. On PostgreSQL
    the page's rows are locked as they are chosen and rows another daemon is claiming are
    skipped; on SQLite the statement runs inside the write lock, so the lease condition cannot
    change between choosing and leasing."""
    key = (dialect.name, dialect.driver, due_column.key)
    plan = _CLAIM_PLANS.get(key)
    if plan is not None:
        return plan
    now = bindparam("claim_now", type_=UTCDateTime())
    due = due_query(due_column, now, bindparam("claim_limit", type_=Integer()))
    page = due.with_only_columns(Shipment.id)
    if dialect.name == "postgresql":
        page = page.with_for_update(skip_locked=True)
    returned = (*CLAIM_COLUMNS, due_column)
    # The due column is returned to restore the page's order; it is sorted as stored (the
    # order the database chose the page in), never converted.
    statement = (
        update(Shipment)
        .where(Shipment.id.in_(page.scalar_subquery()))
        .values(
            lease_owner=bindparam("claim_owner", type_=String()),
            lease_until=bindparam("claim_until", type_=UTCDateTime()),
        )
        .returning(*returned)
    )
    compiled = statement.compile(dialect=dialect)
    ours = {"claim_now", "claim_limit", "claim_owner", "claim_until"}
    # Anything else SQLAlchemy bound (SQLite's OFFSET 0) keeps the value it compiled with.
    given = compiled.construct_params(dict.fromkeys(ours))
    defaults = {k: v for k, v in given.items() if k not in ours}
    times = []
    for position, column in enumerate(CLAIM_COLUMNS):
        processor = column_reader(dialect, column)
        if isinstance(column.type, UTCDateTime) and processor is not None:
            times.append((position, processor))
    plan = _CLAIM_PLANS[key] = _ClaimPlan(
        sql=compiled.string,
        order=tuple(compiled.positiontup or ()) if compiled.positional else None,
        defaults=defaults,
        when=time_processor(dialect),
        times=tuple(times),
    )
    return plan


def _claim(
    factory: sessionmaker[Session],
    due_column: Any,
    now: datetime,
    owner: str,
    lease: timedelta,
    limit: int,
) -> list[ClaimedShipment]:
    with factory.begin() as session:
        connection = session.connection()
        plan = _claim_plan(connection.dialect, due_column)
        stamp = plan.when(now)
        parameters = plan.parameters(
            {
                "claim_now": stamp,
                "claim_limit": limit,
                "claim_owner": owner,
                "claim_until": plan.when(now + lease),
            }
        )
        # The driver's cursor, in the session's transaction: SQLAlchemy's statement execution
        # and row objects cost several times the statement itself (bench/pipeline.py).
        rows = fetch_all(connection, plan.sql, parameters)
    # RETURNING has no order: oldest due first, as the page was chosen.
    rows.sort(key=lambda row: (row[-1], row[0]))
    claimed = []
    # A batch's rows share most of their times (polled together, one estimate from the
    # carrier): each distinct stored value is read once.
    read: dict[Any, Any] = {None: None}
    for row in rows:
        values = list(row[:-1])
        for position, processor in plan.times:
            raw = values[position]
            value = read.get(raw, _UNREAD)
            if value is _UNREAD:
                value = read[raw] = processor(raw)
            values[position] = value
        claimed.append(ClaimedShipment._make(values))
    return claimed


_UNREAD = object()


def claim_due_for_poll(
    factory: sessionmaker[Session], now: datetime, owner: str, lease: timedelta, limit: int
) -> list[ClaimedShipment]:
    """Lease up to ``limit`` shipments whose next poll is due (uses the partial due index)."""
    return _claim(factory, Shipment.next_poll_at, now, owner, lease, limit)


def claim_due_for_timers(
    factory: sessionmaker[Session], now: datetime, owner: str, lease: timedelta, limit: int
) -> list[ClaimedShipment]:
    """Lease up to ``limit`` shipments whose next timer (stall, refund offer, ...) is due."""
    return _claim(factory, Shipment.next_timer_at, now, owner, lease, limit)


def seller_facts(shipment: ShipmentLike) -> dict[str, Any]:
    """What every message to the seller about a shipment carries to find the order: order,
    number, carrier, buyer and destination."""
    return {
        "order_reference": shipment.order_reference,
        "tracking_number": shipment.tracking_number,
        "carrier": shipment.carrier,
        "buyer": {
            "name": shipment.buyer_name,
            "email": shipment.buyer_email,
            "language": shipment.buyer_language,
        },
        "destination_country": shipment.destination_country,
    }


def held_fingerprints(
    session: Session, shipment_ids: Sequence[int], owner: str
) -> dict[int, set[str]]:
    """For each of ``shipment_ids`` that ``owner`` still leases, the fingerprints of its stored
    events: the lease check and the comparison's input in one query (the shipment rows are
    locked on PostgreSQL until the transaction ends). Run on the driver: SQLAlchemy's statement
    building and execution cost several times the query (bench/pipeline.py)."""
    if not shipment_ids:
        return {}
    connection = session.connection()
    dialect = connection.dialect
    sql = (
        "SELECT shipments.id, tracking_events.fingerprint FROM shipments"
        " LEFT OUTER JOIN tracking_events ON tracking_events.shipment_id = shipments.id"
        f" WHERE shipments.id IN ({marks(dialect, len(shipment_ids))})"
        f" AND shipments.lease_owner = {marks(dialect)}"
    )
    if dialect.name == "postgresql":
        sql += " FOR UPDATE OF shipments"
    known: dict[int, set[str]] = {}
    for shipment_id, fingerprint in fetch_all(connection, sql, (*shipment_ids, owner)):
        seen = known.setdefault(shipment_id, set())
        if fingerprint is not None:
            seen.add(fingerprint)
    return known


def held_ids(session: Session, shipment_ids: Sequence[int], owner: str) -> set[int]:
    """Which of ``shipment_ids`` ``owner`` still leases (locked on PostgreSQL until the
    transaction ends): the lease check of polls whose reply came back unchanged."""
    if not shipment_ids:
        return set()
    return set(session.scalars(_held(session, select(Shipment.id), shipment_ids, owner)))


def unseen(events: Sequence[TrackedEvent], known: set[str]) -> list[TrackedEvent]:
    """The events whose fingerprint is not in ``known`` (nor repeated within ``events``)."""
    fresh = []
    seen = set(known)
    for event in events:
        fingerprint = event.raw.fingerprint()
        if fingerprint not in seen:
            seen.add(fingerprint)
            fresh.append(event)
    return fresh


def _held(session: Session, query: _Query, shipment_ids: Sequence[int], owner: str) -> _Query:
    """``query`` narrowed to the shipments ``owner`` still leases, locked on PostgreSQL so no
    other daemon can change them before this transaction ends."""
    query = query.where(Shipment.id.in_(shipment_ids), Shipment.lease_owner == owner)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return query


class QuietRow(NamedTuple):
    """The reschedule of one poll that brought nothing new (``reschedule_quiet``)."""

    sid: int
    unchanged: int
    next_poll: datetime | None
    digest: str | None


def reschedule_quiet(session: Session, rows: Sequence[QuietRow], owner: str, now: datetime) -> int:
    """Record polls that brought nothing new in one statement: next poll time, backoff count,
    the reply's digest, lease released, for the rows ``owner`` still leases; returns how many
    rows were written.

    The hot path's one statement per batch goes to the driver's executemany directly, with
    times converted by the column type's own bind processor (so they are stored exactly as
    every other write stores them): SQLAlchemy's per-row parameter handling cost three times
    the database's own work here (bench/pipeline.py)."""
    if not rows:
        return 0
    connection = session.connection()
    dialect = connection.dialect
    when = time_processor(dialect)
    mark = marks(dialect)
    statement = (
        f"UPDATE shipments SET last_polled_at = {mark}, poll_failures = 0,"
        f" unchanged_polls = {mark}, next_poll_at = {mark}, reply_digest = {mark},"
        f" lease_owner = NULL, lease_until = NULL WHERE id = {mark} AND lease_owner = {mark}"
    )
    stamp = when(now)
    parameters = [
        (stamp, unchanged, when(next_poll), digest, sid, owner)
        for sid, unchanged, next_poll, digest in rows
    ]
    return execute_many(connection, statement, parameters)


#: the shipment columns a recorded decision writes (tracker.store.record._apply), lease included
ASSESSED_COLUMNS = (
    "status",
    "detail",
    "last_event_at",
    "delivered_at",
    "next_timer_at",
    "expected_delivery",
    "last_polled_at",
    "poll_failures",
    "unchanged_polls",
    "next_poll_at",
    "lease_owner",
    "lease_until",
)


def write_assessed(session: Session, shipments: Sequence[ShipmentLike]) -> None:
    """Write the decided state of ``shipments`` in one executemany (the driver's, see
    tracker.store.driver); ORM rows are taken out of the session, so the unit of work (which
    costs several times more per row) has nothing to do."""
    if not shipments:
        return
    table = Base.metadata.tables["shipments"]
    # Any other column the recording changed (committed_state holds what was set since the
    # load) is written too, so a new fact stored on the row cannot be dropped silently.
    names = list(ASSESSED_COLUMNS)
    for shipment in shipments:
        if isinstance(shipment, ShipmentRow):
            changed: Iterable[str] = shipment.assigned()
        else:
            changed = inspect(shipment).committed_state
        names += [n for n in changed if n not in names]
    values = attrgetter("id", *names)
    rows = [values(shipment) for shipment in shipments]
    for shipment in shipments:
        if isinstance(shipment, Shipment):
            session.expunge(shipment)
    update_values(session.connection(), table, tuple(names), rows)


def leased_shipments(session: Session, shipment_ids: Sequence[int], owner: str) -> list[Shipment]:
    """The shipments among ``shipment_ids`` whose lease ``owner`` still holds, locked on
    PostgreSQL so no other daemon can change them before this transaction ends."""
    if not shipment_ids:  # a reply that brought nothing new: no round trip
        return []
    query = _held(session, select(Shipment), shipment_ids, owner)
    return list(session.scalars(query.order_by(Shipment.id)))


def audit(
    session: Session, shipment: Shipment | None, now: datetime, kind: str, **data: Any
) -> None:
    """Append one audit row in the caller's transaction."""
    session.add(
        AuditEntry(
            shipment_id=shipment.id if shipment else None,
            at=now,
            kind=kind,
            carrier=shipment.carrier if shipment else data.get("carrier"),
            data=data,
        )
    )


def with_leased(
    factory: sessionmaker[Session],
    shipment_id: int,
    owner: str,
    work: Callable[[Session, Shipment], None],
) -> bool:
    """Run ``work`` in one transaction if ``owner`` still holds the lease; then release it.

    Returns False (and changes nothing) when the lease was lost, so a slow daemon can never
    overwrite what another daemon recorded after taking the shipment over.
    """
    return shipment_id in with_each_leased(factory, [shipment_id], owner, work)


def with_each_leased(
    factory: sessionmaker[Session],
    shipment_ids: Sequence[int],
    owner: str,
    work: Callable[[Session, Shipment], None],
) -> set[int]:
    """``with_leased`` for many shipments in one transaction; returns the ids still held."""
    with factory.begin() as session:
        shipments = list(session.scalars(_held(session, select(Shipment), shipment_ids, owner)))
        for shipment in shipments:
            work(session, shipment)
            shipment.lease_owner = None
            shipment.lease_until = None
        return {shipment.id for shipment in shipments}


def already_tracked(
    factory: sessionmaker[Session], pairs: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which (carrier, tracking_number) pairs are stored already."""
    with factory() as session:
        return _existing(session, pairs)
