"""The faster milestone reading against the straightforward one it replaced (issue 16).

``_event_milestones`` now builds each key's ``Due`` once, at its first occurrence, instead of
yielding one for every event and keeping the first; superseded kinds are looked up per set of
kinds. The straightforward versions are kept here as the reference, and ``decide`` must give
the same decision with either on a broad generated set of timelines, facts and clocks.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import combinations

import pytest

from tracker.config import Thresholds, ThresholdsConfig, TrackerConfig
from tracker.model import Classification, Detail, Milestone, RawEvent, Status, TrackedEvent
from tracker.policy import milestones
from tracker.policy.assess import PolicySettings
from tracker.policy.milestones import (
    ATTEMPTED,
    CARRIER_HAS_IT,
    CUSTOMS_ACTION_DETAILS,
    IN_DESTINATION_DETAILS,
    PICKUP,
    SUPERSEDES,
    Due,
    ShipmentFacts,
    decide,
)
from tracker.policy.pickup import pickup_until

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
COUNTRIES = ("CN", "BR", "DE", None)
KEYS = (
    "shipped",
    "in_transit",
    "arrived_locally",
    "arrived_locally:pickup",
    "delivered",
    "delayed",
    "refund_offer",
    "satisfaction",
    "customs_action:customs_hold",
    "seller:not_handed_over",
    "seller:expired",
)


def reference_event_milestones(
    events: Sequence[TrackedEvent],
    facts: ShipmentFacts,
    journey: milestones._Journey,
    limits: Thresholds,
) -> Iterator[Due]:
    """The version before issue 16: a ``Due`` for every event that reaches a milestone."""
    domestic = facts.origin_country == facts.destination_country
    for index, event in enumerate(events):
        if journey.delivered_index is not None and index > journey.delivered_index:
            break
        status, detail = event.status, event.detail
        if status in CARRIER_HAS_IT:
            yield Due(Milestone.SHIPPED, "shipped", event_index=index)
        if domestic:
            pass
        elif detail in IN_DESTINATION_DETAILS or (
            status is Status.IN_TRANSIT
            and event.raw.country is not None
            and event.raw.country == facts.destination_country
            and event.raw.country != facts.origin_country
        ):
            yield Due(Milestone.IN_TRANSIT, "in_transit", event_index=index)
        if detail in CUSTOMS_ACTION_DETAILS:
            yield Due(Milestone.CUSTOMS_ACTION, f"customs_action:{detail}", event_index=index)
        if status is Status.IN_TRANSIT and detail is Detail.ARRIVED_DELIVERY_OFFICE:
            yield Due(Milestone.ARRIVED_LOCALLY, "arrived_locally", event_index=index)
        if status is Status.DELIVERY_FAILED:
            yield Due(
                Milestone.ARRIVED_LOCALLY,
                "arrived_locally:attempt",
                event_index=index,
                situation=ATTEMPTED,
            )
        if status is Status.AVAILABLE_FOR_PICKUP:
            until = pickup_until(event.raw.occurred_at, facts.destination_country, limits)
            yield Due(
                Milestone.ARRIVED_LOCALLY,
                "arrived_locally:pickup",
                event_index=index,
                situation=PICKUP,
                until=until,
            )
        if status is Status.DELIVERED:
            yield Due(Milestone.DELIVERED, "delivered", event_index=index)


def reference_first_of_each(
    events: Sequence[TrackedEvent],
    facts: ShipmentFacts,
    journey: milestones._Journey,
    limits: Thresholds,
) -> dict[str, Due]:
    found: dict[str, Due] = {}
    for due in reference_event_milestones(events, facts, journey, limits):
        found.setdefault(due.key, due)
    return found


def reference_drop_superseded(due: list[Due]) -> list[Due]:
    kinds = {d.milestone for d in due}
    dropped: set[Milestone] = set()
    for kind in kinds:
        dropped |= SUPERSEDES.get(kind, frozenset())
    return [d for d in due if d.milestone not in dropped]


def reference_never_backwards(fresh: list[Due], already: frozenset[str]) -> list[Due]:
    reached = max((milestones._rank_of_key(k) for k in already), default=0)
    return [d for d in fresh if milestones.JOURNEY_RANK.get(d.milestone, reached) >= reached]


def generated_case(
    rng: random.Random,
) -> tuple[ShipmentFacts, list[TrackedEvent], frozenset[str], datetime, Thresholds, int | None]:
    events = []
    day = rng.uniform(0, 2)
    for _ in range(rng.choice((0, 1, 2, 4, 6, 8, 8, 12))):
        status = rng.choice(list(Status))
        detail = rng.choice([None, None, *Detail])
        country = rng.choice(COUNTRIES)
        raw = RawEvent(T0 + timedelta(days=day), f"{status} {detail}", country=country)
        events.append(TrackedEvent(raw, Classification(status, detail, "generated")))
        day += rng.uniform(0, 6)
    facts = ShipmentFacts(
        shipped_at=T0,
        destination_country=rng.choice(("BR", "DE", "CN")),
        origin_country=rng.choice(("CN", "BR", None)),
        status=Status.PENDING,
        delivered_at=rng.choice((None, T0 + timedelta(days=day))),
        last_event_at=None,
        expected_delivery=rng.choice((None, T0 + timedelta(days=rng.uniform(5, 40)))),
        promised_by=rng.choice((None, T0 + timedelta(days=rng.uniform(5, 40)))),
    )
    already = frozenset(k for k in KEYS if rng.random() < 0.2)
    now = T0 + timedelta(days=day + rng.choice((0.1, 3, 20, 60, 100)))
    limits = rng.choice((Thresholds(), Thresholds(pickup_hold=timedelta(days=4))))
    new_count = rng.choice((None, len(events), max(0, len(events) - 1)))
    return facts, events, already, now, limits, new_count


CASES = [generated_case(random.Random(seed)) for seed in range(3000)]


def test_first_of_each_matches_the_reference_on_generated_timelines() -> None:
    compared = 0
    for facts, events, _, _, limits, _ in CASES:
        journey = milestones._read(events)
        got = milestones._event_milestones(events, facts, journey, limits)
        want = reference_first_of_each(events, facts, journey, limits)
        assert list(got.items()) == list(want.items()), (facts, events)
        compared += bool(want)
    assert compared > 1500  # most generated timelines reach some milestone


def test_decide_matches_the_reference_on_generated_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = [
        decide(facts, events, already, now, limits, new_event_count=count)
        for facts, events, already, now, limits, count in CASES
    ]
    monkeypatch.setattr(milestones, "_event_milestones", reference_first_of_each)
    monkeypatch.setattr(milestones, "_drop_superseded", reference_drop_superseded)
    monkeypatch.setattr(milestones, "_never_backwards", reference_never_backwards)
    reference = [
        decide(facts, events, already, now, limits, new_event_count=count)
        for facts, events, already, now, limits, count in CASES
    ]
    assert fast == reference
    # The generated set reaches the decisions worth comparing, not only empty ones.
    kinds = {d.milestone for decision in fast for d in decision.due}
    assert kinds == set(Milestone)
    assert {decision.status for decision in fast} >= {Status.DELIVERED, Status.EXPIRED}


def test_superseded_kinds_match_the_reference_for_every_set_of_kinds() -> None:
    kinds = list(Milestone)
    for size in range(len(kinds) + 1):
        for chosen in combinations(kinds, size):
            due = [Due(kind, str(kind)) for kind in chosen]
            assert milestones._drop_superseded(due) == reference_drop_superseded(due)


def test_merged_thresholds_are_the_config_merge_per_pair_and_follow_replace() -> None:
    thresholds = ThresholdsConfig.model_validate(
        {
            "country": {"BR": {"late_after": "40d"}},
            "carrier": {"usps": {"min_notice_gap": "2h"}},
        }
    )
    settings = replace(PolicySettings.from_config(TrackerConfig()), thresholds=thresholds)
    for carrier, country in (("usps", "BR"), ("usps", "DE"), ("sandbox", "BR"), ("x", "DE")):
        merged = settings.limits_for(carrier, country)
        assert merged == thresholds.for_shipment(carrier, country)
        assert settings.limits_for(carrier, country) is merged  # merged once
    assert settings.limits_for("usps", "BR").late_after == timedelta(days=40)
    assert settings.limits_for("usps", "BR").min_notice_gap == timedelta(hours=2)
    # Settings replaced with other thresholds merge anew, never from the old ones' cache.
    other = replace(settings, thresholds=ThresholdsConfig())
    assert other.limits_for("usps", "BR") == Thresholds()
