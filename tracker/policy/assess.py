"""One shipment, re-decided: its new state, when to look at it again and the notices now due.

The single pure entry point the jobs use after new events (poll, push) or the passing of time
(timers). Everything it needs arrives as plain values; the store applies what comes back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from notices.payload import NoticePayload
from tracker.config import QuietHoursConfig, Thresholds, ThresholdsConfig, TrackerConfig
from tracker.model import Milestone, Status, TrackedEvent
from tracker.policy.lanes import LaneEstimate
from tracker.policy.milestones import Decision, Due, ShipmentFacts, decide
from tracker.policy.notices import payload_for
from tracker.policy.polling import next_poll_at
from tracker.policy.sendtime import schedule_notice
from tracker.quickinit import quick_init


@quick_init
@dataclass(frozen=True, slots=True)
class ShipmentState:
    """The stored shipment as the policy sees it."""

    id: int
    carrier: str
    shipped_at: datetime
    destination_country: str
    origin_country: str | None
    status: Status
    detail: str | None
    delivered_at: datetime | None
    last_event_at: datetime | None
    expected_delivery: datetime | None
    unchanged_polls: int
    opted_out: bool
    #: who gave ``expected_delivery`` (``shipments.expected_delivery_source``)
    expected_delivery_source: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class Timeline:
    """The shipment's merged events (time order) and what it was told before."""

    events: Sequence[TrackedEvent]
    added: int
    notice_keys: frozenset[str]
    last_notice_at: datetime | None
    #: the latest end of a delivery window the buyer was already told
    promised_by: datetime | None = None


@dataclass(frozen=True)
class PolicySettings:
    """The parts of the config the policy reads, resolved once per job run."""

    thresholds: ThresholdsConfig
    quiet_hours: QuietHoursConfig
    disabled: frozenset[Milestone]
    choices: tuple[str, ...]
    #: where seller alerts go: "email" and/or "webhook"
    seller_channels: tuple[str, ...] = ()
    #: merged thresholds by (carrier, destination): merging validates a pydantic model, about
    #: a tenth of a first poll's policy when done per shipment; a run sees few distinct pairs
    _limits: dict[tuple[str, str], Thresholds] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def limits_for(self, carrier: str, country: str) -> Thresholds:
        """``thresholds.for_shipment(carrier, country)``, merged once per pair."""
        key = (carrier, country)
        limits = self._limits.get(key)
        if limits is None:
            limits = self._limits[key] = self.thresholds.for_shipment(carrier, country)
        return limits

    @classmethod
    def from_config(cls, config: TrackerConfig) -> PolicySettings:
        """Settings from a loaded config."""
        return cls(
            thresholds=config.thresholds,
            quiet_hours=config.quiet_hours,
            disabled=frozenset(config.notices.disabled),
            choices=tuple(config.refund.choices),
            seller_channels=tuple(
                channel
                for channel, target in (
                    ("email", config.refund.notify_seller_email),
                    ("webhook", config.refund.notify_seller_webhook),
                )
                if target
            ),
        )


@quick_init
@dataclass(frozen=True, slots=True)
class PlannedNotice:
    """A notice to queue: at most once per ``key``, not before ``not_before``."""

    kind: Milestone
    key: str
    not_before: datetime
    payload: NoticePayload


@quick_init
@dataclass(frozen=True, slots=True)
class Assessment:
    """What the store writes back: the shipment's new fields and the notices to queue."""

    decision: Decision
    expected_delivery: datetime | None
    status_changed: bool
    polled: bool
    unchanged_polls: int
    next_poll_at: datetime | None
    notices: tuple[PlannedNotice, ...]
    #: alerts for the seller, each once per shipment (``not_handed_over``)
    seller_alerts: tuple[str, ...] = ()
    #: the channels those alerts go to
    seller_channels: tuple[str, ...] = ()


def assess(
    state: ShipmentState,
    timeline: Timeline,
    settings: PolicySettings,
    now: datetime,
    *,
    polled: bool,
    carrier_estimate: datetime | None = None,
    lane: LaneEstimate | None = None,
) -> Assessment:
    """Re-decide ``state`` given its whole ``timeline`` (``added`` of them new in this call).

    ``carrier_estimate`` is a delivery estimate the carrier just gave (it replaces the stored
    one); ``lane`` is the learned estimate of the shipment's lane, if it has enough history.
    """
    limits = settings.limits_for(state.carrier, state.destination_country)
    estimate = carrier_estimate or state.expected_delivery
    events = timeline.events
    first_news = timeline.added == len(events) and timeline.added > 0
    decision = decide(
        _facts(state, estimate, lane, timeline.promised_by),
        events,
        timeline.notice_keys,
        now,
        limits,
        new_event_count=timeline.added if first_news else None,
    )
    # StrEnum members equal their values, so this compares the stored texts
    changed = state.status != decision.status or state.detail != decision.detail
    unchanged = state.unchanged_polls
    next_poll: datetime | None = None
    if polled:
        unchanged = 0 if timeline.added > 0 else unchanged + 1
        next_poll = next_poll_at(state.id, decision.status, decision.detail, unchanged, now)
    notices = () if state.opted_out else _plan(decision.due, state, timeline, settings, limits, now)
    return Assessment(
        decision=decision,
        expected_delivery=estimate,
        status_changed=changed,
        polled=polled,
        unchanged_polls=unchanged,
        next_poll_at=next_poll,
        notices=tuple(
            PlannedNotice(
                n.kind,
                n.key,
                n.not_before,
                payload_for(
                    n.due,
                    events,
                    state.shipped_at,
                    estimate,
                    lane,
                    limits,
                    settings.choices,
                    now,
                    estimate_source=state.expected_delivery_source,
                ),
            )
            for n in notices
        ),
        seller_alerts=decision.seller_alerts,
        seller_channels=settings.seller_channels,
    )


def _facts(
    state: ShipmentState,
    estimate: datetime | None,
    lane: LaneEstimate | None,
    promised_by: datetime | None,
) -> ShipmentFacts:
    """A learned lane stands in for a missing carrier estimate, so "late" means later than
    most parcels on the same route."""
    expected = estimate
    if expected is None and lane is not None:
        expected = state.shipped_at + lane.p90
    return ShipmentFacts(
        shipped_at=state.shipped_at,
        destination_country=state.destination_country,
        origin_country=state.origin_country,
        status=state.status,
        delivered_at=state.delivered_at,
        last_event_at=state.last_event_at,
        expected_delivery=expected,
        promised_by=promised_by,
    )


@quick_init
@dataclass(frozen=True, slots=True)
class _Slot:
    kind: Milestone
    key: str
    not_before: datetime
    due: Due


def _plan(
    due: Sequence[Due],
    state: ShipmentState,
    timeline: Timeline,
    settings: PolicySettings,
    limits: Thresholds,
    now: datetime,
) -> list[_Slot]:
    """Send times for the due notices: each after the minimum gap since the previous one
    (customs actions excepted) and outside the buyer's quiet hours."""
    previous = timeline.last_notice_at
    slots = []
    for item in due:
        if item.milestone in settings.disabled:
            continue
        not_before = schedule_notice(
            now,
            previous,
            limits.min_notice_gap,
            state.destination_country,
            settings.quiet_hours,
            urgent=item.milestone is Milestone.CUSTOMS_ACTION,
        )
        previous = not_before
        slots.append(_Slot(item.milestone, item.key, not_before, item))
    return slots
