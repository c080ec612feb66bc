"""Domain vocabulary shared by every part: statuses, details, milestones and event types.

The string values are a public interface (CLI output, database, event log, templates), so they
must never be renamed; see ``../shared/DESIGN.md``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from tracker.quickinit import quick_init
from tracker.safetext import without_controls


class Status(StrEnum):
    """One canonical shipment status per event."""

    PENDING = "pending"
    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERY_FAILED = "delivery_failed"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED = "returned"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


FINAL_STATUSES = frozenset({Status.DELIVERED, Status.RETURNED, Status.EXPIRED})


class Detail(StrEnum):
    """At most one refinement of a status."""

    ACCEPTED = "accepted"
    ARRIVED_DESTINATION_COUNTRY = "arrived_destination_country"
    CUSTOMS_PROCESSING = "customs_processing"
    CUSTOMS_RELEASED = "customs_released"
    ARRIVED_DELIVERY_OFFICE = "arrived_delivery_office"
    CUSTOMS_HOLD = "customs_hold"
    CUSTOMS_DUTIES_DUE = "customs_duties_due"
    ADDRESS_ISSUE = "address_issue"
    RECIPIENT_UNAVAILABLE = "recipient_unavailable"
    REFUSED = "refused"
    DAMAGED = "damaged"
    LOST = "lost"
    RETURNING = "returning"
    DELAYED_EXTERNAL = "delayed_external"


class Milestone(StrEnum):
    """A moment worth an email to the buyer; also the notice kind."""

    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    DELAYED = "delayed"
    CUSTOMS_ACTION = "customs_action"
    ARRIVED_LOCALLY = "arrived_locally"
    DELIVERED = "delivered"
    SATISFACTION = "satisfaction"
    REFUND_OFFER = "refund_offer"


@dataclass(frozen=True, slots=True, init=False)
class RawEvent:
    """One tracking event exactly as a carrier reported it, before classification.

    ``occurred_at`` is timezone-aware. ``code`` is the carrier's own event code when it has one
    (USPS event code, UPU EMSEVT code, Russian Post "type.attr", ...). ``country`` is ISO 3166-1
    alpha-2 when known.
    """

    occurred_at: datetime
    text: str
    code: str | None = None
    location: str | None = None
    country: str | None = None
    carrier: str | None = None

    def __init__(
        self,
        occurred_at: datetime,
        text: str,
        code: str | None = None,
        location: str | None = None,
        country: str | None = None,
        carrier: str | None = None,
    ) -> None:
        # The parse boundary: no control character from a carrier goes further (tracker.safetext).
        # isprintable() is False for every character removed (and for some kept): only then is
        # the regex needed, so the usual clean event costs four C-level checks.
        if not (
            (text is None or text.isprintable())
            and (code is None or code.isprintable())
            and (location is None or location.isprintable())
            and (country is None or country.isprintable())
        ):
            text = text if text is None else without_controls(text)
            code = code if code is None else without_controls(code)
            location = location if location is None else without_controls(location)
            country = country if country is None else without_controls(country)
        # written through the slots themselves: a frozen dataclass's generated __init__ goes
        # through object.__setattr__ by name for each field, a third of building an event
        _SET_OCCURRED_AT(self, occurred_at)
        _SET_TEXT(self, text)
        _SET_CODE(self, code)
        _SET_LOCATION(self, location)
        _SET_COUNTRY(self, country)
        _SET_CARRIER(self, carrier)

    def fingerprint(self) -> str:
        """Stable identity used to deduplicate the same event seen on several polls: blake2b
        (16 bytes) of the time, code, spaced and case-folded text and case-folded place, joined
        by U+001F. A first poll takes one per event: the hash state is copied from an empty one
        (its parameters set once) and the text built in one f-string, a tenth less than
        ``blake2b(..., digest_size=16)`` over a joined tuple."""
        digest = _EMPTY_FINGERPRINT.copy()
        digest.update(
            f"{self.occurred_at.isoformat()}\x1f{self.code or ''}"
            f"\x1f{' '.join(self.text.split()).casefold()}"
            f"\x1f{(self.location or '').casefold()}".encode()
        )
        return digest.hexdigest()


#: never updated, only copied (copies are independent, so threads may share it)
_EMPTY_FINGERPRINT = hashlib.blake2b(digest_size=16)


_SET_OCCURRED_AT, _SET_TEXT, _SET_CODE, _SET_LOCATION, _SET_COUNTRY, _SET_CARRIER = (
    vars(RawEvent)[name].__set__
    for name in ("occurred_at", "text", "code", "location", "country", "carrier")
)


@quick_init
@dataclass(frozen=True, slots=True)
class Classification:
    """What the normalizer concluded about one raw event, and which rule said so."""

    status: Status
    detail: Detail | None = None
    rule: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class TrackedEvent:
    """A raw event together with its classification."""

    raw: RawEvent
    classification: Classification

    @property
    def status(self) -> Status:
        return self.classification.status

    @property
    def detail(self) -> Detail | None:
        return self.classification.detail


#: ``TrackingResult.extra["estimate_source"]`` values that are no named carrier's word: an
#: aggregator's own prediction (AfterShip's, 17TRACK's) or a courier the aggregator did not
#: name. Buyers are told such a date as the shop's own expectation, never as a carrier's.
UNATTRIBUTED_ESTIMATES = frozenset({"AfterShip", "17TRACK", "the courier", "the carrier"})


@dataclass(frozen=True, slots=True)
class TrackingResult:
    """What one carrier reply says about one tracking number.

    ``events`` are in any order; ``carrier_status`` is the carrier's own summary status when it
    gives one; ``expected_delivery`` is the carrier's estimate when it gives one.
    """

    tracking_number: str
    events: tuple[RawEvent, ...] = ()
    carrier_status: str | None = None
    expected_delivery: datetime | None = None
    not_found: bool = False
    extra: dict[str, str] = field(default_factory=dict)
