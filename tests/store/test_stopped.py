"""A stop holds (issue 13): a poll under way when ``tracker stop`` comes records nothing, an edit
of a stopped shipment does not start polling again, and only ``tracker poll`` resumes it.
(A push after a stop is tested through the real push server in
``tests/webhooks/test_aggregator_pushes.py``.)"""

from __future__ import annotations

from datetime import timedelta
from typing import NoReturn

from sqlalchemy.orm import Session, sessionmaker

from tests.store.conftest import NOW, order
from tracker.model import TrackingResult
from tracker.store.corrections import edit_shipment, poll_now, stop_tracking
from tracker.store.lanes import LaneCache
from tracker.store.models import Shipment
from tracker.store.record import Observation, record_polls
from tracker.store.shipments import add_shipments, claim_due_for_poll

LEASE = timedelta(minutes=10)


def _never_assessed(*_: object) -> NoReturn:
    raise AssertionError("a shipment stopped during its poll was assessed")


def _row(store: sessionmaker[Session], number: str) -> Shipment:
    with store() as session:
        row = session.query(Shipment).filter_by(tracking_number=number).one()
        session.expunge(row)
        return row


def test_a_stop_during_a_poll_takes_the_lease_back(store: sessionmaker[Session]) -> None:
    add_shipments(store, [order(1)], NOW)
    (claimed,) = claim_due_for_poll(store, NOW, "daemon-a", LEASE, 10)
    stop_tracking(store, claimed.tracking_number, NOW + timedelta(seconds=5))
    reply = TrackingResult(claimed.tracking_number)
    observation = Observation(claimed.id, (), reply, claimed)
    later = NOW + timedelta(seconds=10)
    done = record_polls(store, "daemon-a", later, [observation], _never_assessed, LaneCache())
    assert done[claimed.id].outcome == "lease_lost"
    row = _row(store, claimed.tracking_number)
    assert (row.next_poll_at, row.next_timer_at) == (None, None)
    assert row.stopped_at == NOW + timedelta(seconds=5)


def test_only_poll_resumes_a_stopped_shipment(store: sessionmaker[Session]) -> None:
    add_shipments(store, [order(2)], NOW)
    number = order(2).tracking_number
    stop_tracking(store, number, NOW)
    edit_shipment(store, number, {"carrier": "correios"}, NOW + timedelta(hours=1))
    row = _row(store, number)
    assert (row.carrier, row.next_poll_at, row.stopped_at) == ("correios", None, NOW)
    poll_now(store, number, NOW + timedelta(hours=2))
    row = _row(store, number)
    assert (row.next_poll_at, row.stopped_at) == (NOW + timedelta(hours=2), None)
