"""Recording what the jobs learned: one call per group of shipments, one transaction, leases
checked and given back inside it.

A poll, a push and a timer all end the same way: merge the new events into the stored timeline,
ask the (pure) policy for an assessment, write the shipment's new state, its outbox rows and its
audit rows together, and release the lease. Only shipments whose lease the caller still holds
are touched, so a daemon that lost a lease can never overwrite another daemon's work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal, NamedTuple

from sqlalchemy.orm import Session, sessionmaker

from tracker.model import Detail, Status, TrackedEvent, TrackingResult
from tracker.policy.assess import Assessment, ShipmentState, Timeline
from tracker.policy.lanes import LaneEstimate
from tracker.policy.polling import next_poll_at
from tracker.store.history import PendingWrites, ShipmentHistory, load_histories
from tracker.store.lanes import LaneCache
from tracker.store.models import Shipment
from tracker.store.replies import reply_digest
from tracker.store.rows import ShipmentLike, leased_rows
from tracker.store.shipments import (
    ClaimedShipment,
    NoticeDraft,
    QuietRow,
    held_fingerprints,
    held_ids,
    leased_shipments,
    reschedule_quiet,
    unseen,
    write_assessed,
)

#: the pure decision the store calls for each shipment with news
Assess = Callable[[ShipmentState, Timeline, datetime | None, LaneEstimate | None], Assessment]
#: more outbox rows for a shipment whose status changed, queued in the same transaction (shop
#: pushes, see shops.push); it gets the session, the updated row, its history and the time
Follow = Callable[[Session, Shipment, ShipmentHistory, datetime], Sequence[NoticeDraft]]

Outcome = Literal["recorded", "quiet", "lease_lost"]

_STATUSES = {status.value: status for status in Status}
_DETAILS = {detail.value: detail for detail in Detail}


class Observation(NamedTuple):
    """What a job learned about one leased shipment: classified events and, for polls and
    pushes, the carrier's result (None when only time has passed). A poll also gives the
    digest of its reply part (``part``, tracker.store.replies) when the adapter gave its text,
    and says when the part matched the stored digest (``unchanged``: nothing was parsed).
    A named tuple: a poll builds one per shipment, at half a frozen dataclass's cost."""

    shipment_id: int
    tracked: Sequence[TrackedEvent]
    result: TrackingResult | None = None
    claimed: ClaimedShipment | None = None
    part: bytes | None = None
    unchanged: bool = False


class Recorded(NamedTuple):
    """What recording one observation did (a named tuple, as ``Observation``)."""

    shipment_id: int
    outcome: Outcome
    new_events: int = 0
    notices: int = 0
    fresh: tuple[TrackedEvent, ...] = ()


def record_polls(
    factory: sessionmaker[Session],
    owner: str,
    now: datetime,
    observations: Sequence[Observation],
    assess: Assess,
    lanes: LaneCache,
    follow: Follow | None = None,
) -> dict[int, Recorded]:
    """Record poll replies (each observation carries its ``claimed`` row and ``result``).

    Replies that bring nothing new (most of them) only reschedule the next poll, in one
    statement; the others are assessed and written in full. One transaction for all. Replies
    known unchanged by their digest are not compared with the stored events: their lease is
    checked by the reschedule itself, and should one have been lost meanwhile (rare: leases
    outlast a poll many times over), the transaction is rolled back and recorded again with
    the leases read first.
    """
    try:
        return _record_polls(factory, owner, now, observations, assess, lanes, follow, False)
    except _LeaseMoved:
        return _record_polls(factory, owner, now, observations, assess, lanes, follow, True)


class _LeaseMoved(Exception):
    """A reschedule wrote fewer rows than it was given: some lease was lost."""


def _record_polls(
    factory: sessionmaker[Session],
    owner: str,
    now: datetime,
    observations: Sequence[Observation],
    assess: Assess,
    lanes: LaneCache,
    follow: Follow | None,
    read_leases: bool,
) -> dict[int, Recorded]:
    recorded: dict[int, Recorded] = {}
    with factory.begin() as session, session.no_autoflush:
        known = held_fingerprints(
            session, [o.shipment_id for o in observations if not o.unchanged], owner
        )
        unchanged = [o.shipment_id for o in observations if o.unchanged]
        held = known.keys() | (held_ids(session, unchanged, owner) if read_leases else unchanged)
        quiet: list[QuietRow] = []
        busy: list[Observation] = []
        for item in observations:
            if item.shipment_id not in held:
                recorded[item.shipment_id] = Recorded(item.shipment_id, "lease_lost")
            elif not item.unchanged and _brings_news(item, known[item.shipment_id]):
                busy.append(item)
            else:
                quiet.append(_quiet_row(item, now))
                recorded[item.shipment_id] = Recorded(item.shipment_id, "quiet")
        if reschedule_quiet(session, quiet, owner, now) != len(quiet):
            raise _LeaseMoved
        recorded.update(_record_busy(session, owner, now, busy, assess, lanes, follow))
    return recorded


def record_observations(
    factory: sessionmaker[Session],
    owner: str,
    now: datetime,
    observations: Sequence[Observation],
    assess: Assess,
    lanes: LaneCache,
    follow: Follow | None = None,
) -> dict[int, Recorded]:
    """Record pushes and timer firings: every observation is assessed; one transaction."""
    with factory.begin() as session, session.no_autoflush:
        recorded = _record_busy(session, owner, now, observations, assess, lanes, follow)
    for item in observations:
        recorded.setdefault(item.shipment_id, Recorded(item.shipment_id, "lease_lost"))
    return recorded


def _record_busy(
    session: Session,
    owner: str,
    now: datetime,
    observations: Sequence[Observation],
    assess: Assess,
    lanes: LaneCache,
    follow: Follow | None = None,
) -> dict[int, Recorded]:
    ids = [o.shipment_id for o in observations]
    shipments: dict[int, ShipmentLike]
    if follow is None:
        shipments = {s.id: s for s in leased_rows(session, ids, owner)}
    else:
        # Shop pushes read shipments as ORM rows, so the siblings this batch changed before
        # count with their new status (shops.push.link_facts).
        shipments = {s.id: s for s in leased_shipments(session, ids, owner)}
    histories = load_histories(session, list(shipments))
    writes = PendingWrites()
    recorded: dict[int, Recorded] = {}
    written: list[ShipmentLike] = []
    for item in observations:
        shipment = shipments.get(item.shipment_id)
        if shipment is None:
            continue
        history = histories[shipment.id]
        fresh = writes.add_events(shipment, history, item.tracked, now)
        lane = lanes.get(
            session, shipment.carrier, shipment.origin_country, shipment.destination_country, now
        )
        estimate = item.result.expected_delivery if item.result is not None else None
        _keep_carrier_facts(shipment, item.result, now)
        assessment = assess(state_of(shipment), _timeline(history, len(fresh)), estimate, lane)
        notices = _apply(shipment, assessment, history, writes, now)
        if item.claimed is not None:  # a poll: the digest its reply leaves (or clears)
            shipment.reply_digest = _digest_after(item, shipment.expected_delivery)
        if follow is not None and assessment.status_changed and shipment.stopped_at is None:
            assert isinstance(shipment, Shipment)  # loaded from the ORM when following
            drafts = follow(session, shipment, history, now)
            writes.add_notices(shipment, history, drafts, now)
            notices += len(drafts)
        shipment.lease_owner = None
        shipment.lease_until = None
        written.append(shipment)
        recorded[shipment.id] = Recorded(shipment.id, "recorded", len(fresh), notices, tuple(fresh))
    writes.flush(session)
    write_assessed(session, written)
    return recorded


def _keep_carrier_facts(
    shipment: ShipmentLike, result: TrackingResult | None, now: datetime
) -> None:
    """Who holds the parcel, and whose estimate the stored one is and since when (before the
    policy runs, so its notices say whose date they give, and before ``_apply`` stores the
    estimate itself, so a changed one is seen as new)."""
    if result is None:
        return
    holder = result.extra.get("holder")
    if holder:
        shipment.carrier_holder = holder[:100]
    estimate = result.expected_delivery
    if estimate is not None and estimate != shipment.expected_delivery:
        source = result.extra.get("estimate_source") or shipment.carrier
        shipment.expected_delivery_source = source[:100]
        shipment.expected_delivery_given_at = now


def state_of(shipment: ShipmentLike) -> ShipmentState:
    """The policy's view of a stored shipment row."""
    # positional, in ShipmentState's field order: thirteen keywords cost a third of building it
    return ShipmentState(
        shipment.id,
        shipment.carrier,
        shipment.shipped_at,
        shipment.destination_country,
        shipment.origin_country,
        _STATUSES.get(shipment.status) or Status(shipment.status),
        shipment.detail,
        shipment.delivered_at,
        shipment.last_event_at,
        shipment.expected_delivery,
        shipment.unchanged_polls,
        # a stopped shipment's buyer hears nothing more, as if opted out
        shipment.opted_out or shipment.stopped_at is not None,
        shipment.expected_delivery_source,
    )


def _timeline(history: ShipmentHistory, added: int) -> Timeline:
    return Timeline(
        events=history.events,
        added=added,
        notice_keys=frozenset(history.notice_keys),
        last_notice_at=history.last_notice_at,
        promised_by=history.promised_by,
    )


def _apply(
    shipment: ShipmentLike,
    assessment: Assessment,
    history: ShipmentHistory,
    writes: PendingWrites,
    now: datetime,
) -> int:
    """Write ``assessment`` onto the row and queue its outbox and audit rows; returns how many
    notices were queued. A stopped shipment keeps its events and status as history but gets no
    next poll, timer or seller alert."""
    stopped = shipment.stopped_at is not None
    decision = assessment.decision
    shipment.status = decision.status.value
    shipment.detail = decision.detail.value if decision.detail else None
    shipment.last_event_at = decision.last_event_at
    shipment.delivered_at = decision.delivered_at
    shipment.next_timer_at = None if stopped else decision.next_timer_at
    shipment.expected_delivery = assessment.expected_delivery
    if assessment.polled:
        shipment.last_polled_at = now
        shipment.poll_failures = 0
        shipment.unchanged_polls = assessment.unchanged_polls
        shipment.next_poll_at = None if stopped else assessment.next_poll_at
    elif decision.final or stopped:
        shipment.next_poll_at = None
    if assessment.status_changed:
        writes.add_audit(
            shipment,
            now,
            "shipment.status_changed",
            status=decision.status.value,
            detail=shipment.detail,
        )
    drafts = [
        NoticeDraft(n.kind.value, n.key, n.not_before, n.payload.to_json())
        for n in assessment.notices
    ]
    writes.add_notices(shipment, history, drafts, now)
    for alert in () if stopped else assessment.seller_alerts:
        writes.add_seller_alert(shipment, history, alert, assessment.seller_channels, now)
    return len(drafts)


def _brings_news(item: Observation, known: set[str]) -> bool:
    """Whether a poll reply needs a decision: a first poll, a new estimate or a new event."""
    claimed, result = item.claimed, item.result
    if claimed is None or result is None:
        return True
    estimate_changed = (
        result.expected_delivery is not None
        and result.expected_delivery != claimed.expected_delivery
    )
    return claimed.last_polled_at is None or estimate_changed or bool(unseen(item.tracked, known))


def _quiet_row(item: Observation, now: datetime) -> QuietRow:
    """The reschedule of a poll that brought nothing new, for ``reschedule_quiet``."""
    claimed = item.claimed
    assert claimed is not None  # _brings_news is True without it
    unchanged = claimed.unchanged_polls + 1
    # the enums by value from a dict: Enum's own lookup cost a tenth of this whole row
    status = _STATUSES.get(claimed.status) or Status(claimed.status)
    detail = (_DETAILS.get(claimed.detail) or Detail(claimed.detail)) if claimed.detail else None
    next_poll = next_poll_at(claimed.id, status, detail, unchanged, now)
    digest = (
        claimed.reply_digest if item.unchanged else _digest_after(item, claimed.expected_delivery)
    )
    return QuietRow(claimed.id, unchanged, next_poll, digest)


def _digest_after(item: Observation, stored_estimate: datetime | None) -> str | None:
    """The digest a poll leaves on its shipment once recorded (its events are all stored by
    then): its reply part's, bound to the stored estimate, if the same reply would then be
    quiet; None when the reply had no part text, found nothing, or carries an estimate other
    than the stored one (which would make it news again)."""
    result = item.result
    if item.part is None or result is None or result.not_found:
        return None
    estimate = result.expected_delivery
    if estimate is not None and estimate != stored_estimate:
        return None
    return reply_digest(item.part, stored_estimate)
