"""What a notice is about: the facts the daemon hands to the renderer, with no I/O behind them.

The renderer is a pure function of a ``NoticeContext``, so every notice can be previewed and tested
without a database, a carrier or a mail server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from tracker.model import Detail, Milestone, Status

CHOICES = ("keep_waiting", "resend", "refund")
"""Solutions a seller may offer in ``delayed`` and ``refund_offer`` notices."""

DELAY_REASONS = ("stalled", "late", "exception")
"""Why a ``delayed`` notice is sent."""


@dataclass(frozen=True)
class EventSummary:
    """The latest carrier event, already classified; the evidence a notice quotes."""

    occurred_at: datetime
    text: str
    place: str | None
    country: str | None
    status: Status
    detail: Detail | None


@dataclass(frozen=True)
class StoreIdentity:
    """Who the buyer bought from, as the seller wants to appear in every email."""

    name: str
    signature: str
    reply_to: str | None = None
    support_url: str | None = None
    coupon_line: str | None = None


@dataclass(frozen=True)
class NoticeContext:
    """Everything one notice needs: the kind, the buyer, the parcel and the seller.

    ``choices`` matters for ``delayed`` and ``refund_offer`` (a subset of ``CHOICES`` in the
    seller's preferred order); ``reason`` is one of ``DELAY_REASONS`` for ``delayed``.
    """

    kind: Milestone
    language: str
    buyer_name: str
    buyer_email: str
    tracking_number: str
    carrier_name: str
    tracking_url: str | None
    destination_country: str
    origin_country: str | None
    order_reference: str
    shipped_at: datetime
    latest_event: EventSummary | None
    expected_from: date | None
    expected_by: date | None
    choices: tuple[str, ...]
    reason: str | None
    store: StoreIdentity

    @property
    def international(self) -> bool:
        """True unless the parcel is known to stay inside one country."""
        return self.origin_country is None or self.origin_country != self.destination_country
