"""What a notice is about: the facts the daemon hands to the renderer, with no I/O behind them.

The renderer is a pure function of a ``NoticeContext``, so every notice can be previewed and tested
without a database, a carrier or a mail server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from notices.countries import choose_language
from notices.languages import fallback_chain
from notices.payload import CHOICES, DELAY_REASONS, EventSummary, NoticePayload
from tracker.model import Milestone

if TYPE_CHECKING:
    from tracker.config import SellerConfig

__all__ = [
    "CHOICES",
    "DELAY_REASONS",
    "EventSummary",
    "NoticeContext",
    "Parcel",
    "StoreIdentity",
    "notice_context",
    "store_identity",
]


@dataclass(frozen=True)
class StoreIdentity:
    """Who the buyer bought from, as the seller wants to appear in every email."""

    name: str
    signature: str | None
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
    #: which variant of the kind is true here (``notices.payload.SITUATIONS``), if any
    situation: str | None = None
    #: the last day the parcel can be collected (pickup notices)
    pickup_until: date | None = None
    #: when the notice became due: an event much older than this is told as past news
    as_of: datetime | None = None
    #: ``expected_by`` is the carrier's own date, told as theirs ("USPS expects ..."), not ours
    carrier_estimate: bool = False

    @property
    def international(self) -> bool:
        """True unless the parcel is known to stay inside one country."""
        return self.origin_country is None or self.origin_country != self.destination_country


@dataclass(frozen=True)
class Parcel:
    """The shipment a notice is about, as stored: who, where, which order and which carrier."""

    tracking_number: str
    carrier_name: str
    tracking_url: str | None
    buyer_name: str
    buyer_email: str
    buyer_language: str | None
    destination_country: str
    origin_country: str | None
    order_reference: str
    shipped_at: datetime


def store_identity(seller: SellerConfig, language: str | None = None) -> StoreIdentity:
    """How the seller signs a notice in ``language``: ``[seller.languages.<tag>]`` over
    ``[seller]``, walking the language's fallbacks (``pt-PT`` then ``pt``)."""
    worded = [seller.languages[tag] for tag in _chain(language) if tag in seller.languages]

    def pick(name: str, default: str | None) -> str | None:
        return next((w for w in (getattr(x, name) for x in worded) if w), default)

    return StoreIdentity(
        name=pick("store_name", seller.store_name) or seller.store_name,
        signature=pick("signature", seller.signature),
        reply_to=seller.reply_to,
        support_url=seller.support_url,
        coupon_line=pick("coupon_line", seller.coupon_line),
    )


def _chain(language: str | None) -> tuple[str, ...]:
    return fallback_chain(language) if language else ()


def notice_context(
    kind: Milestone,
    payload: NoticePayload,
    parcel: Parcel,
    seller: SellerConfig,
    *,
    language: str | None = None,
) -> NoticeContext:
    """The one way a stored notice becomes what the renderer reads: the dispatch job and
    ``tracker preview`` both call this, so a preview shows exactly what would be sent."""
    language = language or choose_language(
        parcel.buyer_language, parcel.destination_country, seller.default_language
    )
    return NoticeContext(
        kind=kind,
        language=language,
        buyer_name=parcel.buyer_name,
        buyer_email=parcel.buyer_email,
        tracking_number=parcel.tracking_number,
        carrier_name=parcel.carrier_name,
        tracking_url=parcel.tracking_url,
        destination_country=parcel.destination_country,
        origin_country=parcel.origin_country,
        order_reference=parcel.order_reference,
        shipped_at=parcel.shipped_at,
        latest_event=payload.event,
        expected_from=payload.expected_from.date() if payload.expected_from else None,
        expected_by=payload.expected_by.date() if payload.expected_by else None,
        choices=payload.choices,
        reason=payload.reason,
        store=store_identity(seller, language),
        situation=payload.situation,
        pickup_until=payload.until.date() if payload.until else None,
        as_of=payload.as_of,
        carrier_estimate=payload.carrier_estimate,
    )
