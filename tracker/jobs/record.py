"""The jobs' one way to record what they learned: the pure policy decides, the store writes.

Used by the poll job (new events), the push receiver (pushed events) and the timer job (time
passing), so a shipment's state, its new events, its queued notices and its audit rows always
change together, in one transaction that also checks and releases the caller's leases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from shops.push import follower
from tracker.eventlog import get_logger
from tracker.model import TrackedEvent, TrackingResult
from tracker.policy.assess import Assessment, ShipmentState, Timeline, assess
from tracker.policy.lanes import LaneEstimate
from tracker.runtime.app import TrackerApp
from tracker.store.record import Assess, Follow, Observation, Recorded, record_observations

Recorder = Callable[[Sequence[Observation]], dict[int, Recorded]]


def assessor(app: TrackerApp, now: datetime, *, polled: bool) -> Assess:
    """The policy as the store calls it, with this run's settings and clock bound."""
    settings = app.policy_settings()

    def run(
        state: ShipmentState,
        timeline: Timeline,
        carrier_estimate: datetime | None,
        lane: LaneEstimate | None,
    ) -> Assessment:
        return assess(
            state,
            timeline,
            settings,
            now,
            polled=polled,
            carrier_estimate=carrier_estimate,
            lane=lane,
        )

    return run


def follow_changes(app: TrackerApp) -> Follow | None:
    """What else a status change queues in its transaction: calls to the shops (shops.push)."""
    return follower(app.config)


def classify(app: TrackerApp, result: TrackingResult) -> list[TrackedEvent]:
    """The result's events with their canonical status (done before any store call)."""
    return [TrackedEvent(raw, app.normalizer.classify(raw)) for raw in result.events]


def record_isolated(
    record: Recorder, observations: Sequence[Observation], event: str
) -> dict[int, Recorded]:
    """Record all observations in one transaction; if that fails, each on its own, so one bad
    shipment cannot hold back the others (it stays leased and is retried when its lease ends).
    """
    try:
        return record(observations)
    except Exception:  # isolation is the point: any failure falls back to one-by-one
        get_logger().exception(f"{event}.batch_store_failed", size=len(observations))
    recorded: dict[int, Recorded] = {}
    for item in observations:
        try:
            recorded.update(record([item]))
        except Exception:
            get_logger(shipment_id=item.shipment_id).exception(f"{event}.store_failed")
    return recorded


def record_now(
    app: TrackerApp, owner: str, now: datetime, observations: Sequence[Observation], *, polled: bool
) -> dict[int, Recorded]:
    """Record pushes or timer firings (blocking; run it on the store's thread)."""
    return record_observations(
        app.store,
        owner,
        now,
        observations,
        assessor(app, now, polled=polled),
        app.lanes,
        follow_changes(app),
    )
