"""What a buyer notice says, fixed when the notice became due and stored with its outbox row.

The payload is the one typed record between the policy that decides a notice and everything
that shows it (the dispatch job, ``tracker preview``, ``tracker show``). It is versioned JSON:
rows written before the version field existed (version 1, a plain dict of the same keys) are
still read, and so are version 2 rows, from before a notice said whose estimate its date is
(they read as our own estimate, as they were worded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tracker.errors import NoticeError
from tracker.model import Detail, Status
from tracker.quickinit import quick_init

PAYLOAD_VERSION = 3
CHOICES = ("keep_waiting", "resend", "refund")
"""Solutions a seller may offer in ``delayed`` and ``refund_offer`` notices."""

DELAY_REASONS = ("stalled", "late", "customs", "exception")
"""Why a ``delayed`` notice is sent."""

SITUATIONS = (
    "returned",
    "returning",
    "lost",
    "not_handed_over",
    "delivery_failed",
    "pickup",
    "pickup_reminder",
)
"""Variants of a kind that change what is true to say: a refund offer for a returned parcel
offers no waiting; a pickup notice says where and until when."""


@quick_init
@dataclass(frozen=True, slots=True)
class EventSummary:
    """The carrier event a notice quotes as its evidence, already classified."""

    occurred_at: datetime
    text: str
    place: str | None
    country: str | None
    status: Status
    detail: Detail | None

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored inside the payload."""
        return {
            "occurred_at": self.occurred_at.isoformat(),
            "text": self.text,
            "place": self.place,
            "country": self.country,
            "status": self.status.value,
            "detail": self.detail.value if self.detail else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EventSummary:
        """Read back what ``to_json`` wrote."""
        return cls(
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            text=str(data["text"]),
            place=data.get("place"),
            country=data.get("country"),
            status=Status(data["status"]),
            detail=Detail(data["detail"]) if data.get("detail") else None,
        )


@quick_init
@dataclass(frozen=True, slots=True)
class NoticePayload:
    """The facts of one buyer notice: why it is sent, the evidence, the expected window and the
    buyer's choices. ``expected_by`` is None when no delivery date may be promised;
    ``carrier_estimate`` says it is the carrier's own date (told as theirs, without a window
    around it), not ours; ``situation`` is one of ``SITUATIONS`` or None; ``until`` ends a
    pickup hold; ``as_of`` is when the notice became due, so an old event is told as past, not
    as news."""

    reason: str | None = None
    event: EventSummary | None = None
    expected_from: datetime | None = None
    expected_by: datetime | None = None
    choices: tuple[str, ...] = field(default_factory=tuple)
    situation: str | None = None
    until: datetime | None = None
    as_of: datetime | None = None
    carrier_estimate: bool = False
    version: int = PAYLOAD_VERSION

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored in the outbox row's ``payload`` column."""
        return {
            "v": self.version,
            "reason": self.reason,
            "event": self.event.to_json() if self.event else None,
            "expected_from": _iso(self.expected_from),
            "expected_by": _iso(self.expected_by),
            "choices": list(self.choices),
            "situation": self.situation,
            "until": _iso(self.until),
            "as_of": _iso(self.as_of),
            "carrier_estimate": self.carrier_estimate,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NoticePayload:
        """Read a stored payload of any version; a malformed one is a ``NoticeError`` naming
        the bad key, never a half-read notice."""
        version = data.get("v", 1)
        if not isinstance(version, int) or not 1 <= version <= PAYLOAD_VERSION:
            raise NoticeError(f"notice payload: unknown version {version!r}")
        try:
            event = data.get("event")
            choices = tuple(str(c) for c in data.get("choices") or ())
            unknown = [c for c in choices if c not in CHOICES]
            if unknown:
                raise ValueError(f"unknown choice(s) {unknown}")
            situation = data.get("situation")
            if situation is not None and situation not in SITUATIONS:
                raise ValueError(f"unknown situation {situation!r}")
            carrier_estimate = data.get("carrier_estimate", False)  # absent before version 3
            if not isinstance(carrier_estimate, bool):
                raise ValueError(f"carrier_estimate must be true or false: {carrier_estimate!r}")
            return cls(
                reason=data.get("reason"),
                event=EventSummary.from_json(event) if event else None,
                expected_from=_moment(data.get("expected_from")),
                expected_by=_moment(data.get("expected_by")),
                choices=choices,
                situation=situation,
                until=_moment(data.get("until")),
                as_of=_moment(data.get("as_of")),
                carrier_estimate=carrier_estimate,
                version=PAYLOAD_VERSION,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise NoticeError(f"notice payload (version {version}): {exc}") from exc


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _moment(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO timestamp, got {value!r}")
    return datetime.fromisoformat(value)
