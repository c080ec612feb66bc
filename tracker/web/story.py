"""The parcel's story as the buyer's page tells it: a pure function of what is stored, the
language and the clock, so every sentence can be tested without a server.

Each scan is explained with the same sentences as the emails (``notices.explain``); the carrier's
own words stay available beside it. Nothing is promised that the stored facts do not support:
no window once delivered, no pickup deadline but the one the pickup email gave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time

from notices.countries import national_post
from notices.explain import explain
from notices.languages import long_date
from notices.webwords import PageWords
from tracker.model import Detail, Status
from tracker.web.answers import Answer, Offer
from tracker.web.language import PageLocale

TONES = {
    "delivered": "good",
    "in_transit": "moving",
    "out_for_delivery": "moving",
    "info_received": "neutral",
    "pending": "neutral",
    "unknown": "neutral",
    "available_for_pickup": "attention",
    "delivery_failed": "attention",
    "exception": "attention",
    "returned": "attention",
    "expired": "attention",
}


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One stored scan, classified."""

    occurred_at: datetime
    text: str
    location: str | None
    country: str | None
    status: str
    detail: str | None


@dataclass(frozen=True, slots=True)
class ParcelRecord:
    """What the page may show of one shipment, read in one transaction."""

    shipment_id: int
    tracking_number: str
    carrier_name: str
    carrier_url: str | None
    order_reference: str
    buyer_email: str
    buyer_language: str | None
    destination_country: str
    origin_country: str | None
    status: str
    detail: str | None
    delivered_at: datetime | None
    window: Window
    events: tuple[EventRecord, ...]
    offer: Offer | None
    answer: Answer | None
    #: the last day to collect it, as the pickup email told the buyer (None: not told)
    pickup_until: datetime | None = None


class Window(NamedTuple):
    """When the page says to expect the parcel; ``carrier_estimate``: ``by`` is the carrier's
    own date, told as theirs."""

    start: datetime | None
    by: datetime | None
    carrier_estimate: bool = False


@dataclass(frozen=True, slots=True)
class Link:
    """A labelled link."""

    label: str
    url: str


@dataclass(frozen=True, slots=True)
class StoryEvent:
    """One scan as the page shows it."""

    iso: str
    when: str
    place: str | None
    explanation: str
    original: str


@dataclass(frozen=True, slots=True)
class ChoiceButton:
    """One of the seller's choices, as a button."""

    code: str
    label: str
    hint: str


@dataclass(frozen=True, slots=True)
class Story:
    """Everything the parcel template shows, already in the buyer's language."""

    headline: str
    tone: str
    explanation: str
    number_line: str
    route_line: str | None
    window: str
    pickup: str | None
    #: "collect it by ...", the same deadline the pickup email gave
    pickup_until: str | None
    events: tuple[StoryEvent, ...]
    links: tuple[Link, ...]
    help: tuple[Link, ...]
    offer: Offer | None
    offer_intro: str
    choices: tuple[ChoiceButton, ...]


@dataclass(frozen=True, slots=True)
class Presentation:
    """Seller choices about what the page reveals and where buyers get help."""

    store_name: str
    hide_origin: bool = False
    hide_carrier: bool = False
    support_url: str | None = None
    support_email: str | None = None


def tell(
    parcel: ParcelRecord,
    words: PageWords,
    locale: PageLocale,
    zone: ZoneInfo,
    shown: Presentation,
) -> Story:
    """The story of ``parcel`` in ``words``' language, dates in the buyer's time zone."""
    status = Status(parcel.status)
    detail = Detail(parcel.detail) if parcel.detail else None
    offer = parcel.offer if parcel.answer is None else None
    return Story(
        headline=words.say(f"status.{status.value}"),
        tone=TONES.get(status.value, "neutral"),
        explanation=explain(status, detail, locale.lang),
        number_line=_number_line(parcel, words, shown),
        route_line=_route_line(parcel, words, locale, shown),
        window=_window(parcel, words, locale, zone),
        pickup=_pickup(parcel, words, locale.lang),
        pickup_until=_pickup_until(parcel, words, locale, zone),
        events=tuple(_event(e, locale, zone) for e in parcel.events),
        links=_links(parcel, words, locale, shown),
        help=_help(words, shown),
        offer=offer,
        offer_intro=words.say(f"choices.{offer.kind}") if offer else "",
        choices=tuple(
            ChoiceButton(c, words.say(f"choices.{c}"), words.say(f"choices.{c}_hint"))
            for c in (offer.choices if offer else ())
        ),
    )


def country_name(code: str | None, locale: PageLocale) -> str | None:
    """A country's name in the page's language (the code itself when Babel has no name)."""
    if not code:
        return None
    name = _territories(locale.babel).get(code.upper())
    return str(name) if name else code


@lru_cache(maxsize=64)
def _territories(babel: str) -> dict[str, str]:
    return {code: str(name) for code, name in Locale.parse(babel).territories.items()}


def _number_line(parcel: ParcelRecord, words: PageWords, shown: Presentation) -> str:
    if shown.hide_carrier:
        return words.say("page.number_only", number=parcel.tracking_number)
    return words.say("page.number", number=parcel.tracking_number, carrier=parcel.carrier_name)


def _route_line(
    parcel: ParcelRecord, words: PageWords, locale: PageLocale, shown: Presentation
) -> str | None:
    country = country_name(parcel.destination_country, locale) or parcel.destination_country
    origin = country_name(parcel.origin_country, locale)
    if origin and not shown.hide_origin and parcel.origin_country != parcel.destination_country:
        return words.say("page.route", origin=origin, country=country)
    return words.say("page.destination", country=country)


def _day(
    moment: datetime, locale: PageLocale, zone: ZoneInfo, same_year_as: datetime | None = None
) -> str:
    """The local day of ``moment``; without its year when it is ``same_year_as``'s (a range)."""
    day = moment.astimezone(zone).date()
    year = same_year_as is None or same_year_as.astimezone(zone).year != day.year
    return long_date(day, locale.tag, year=year)


def _window(parcel: ParcelRecord, words: PageWords, locale: PageLocale, zone: ZoneInfo) -> str:
    if parcel.status == "delivered":
        if parcel.delivered_at is None:
            return words.say("status.delivered") + "."
        return words.say("window.delivered", date=_day(parcel.delivered_at, locale, zone))
    start, end, carrier_estimate = parcel.window
    if end is None or parcel.status in ("returned", "expired"):
        return words.say("window.none")
    if carrier_estimate:
        return words.say(
            "window.carrier_by", carrier=parcel.carrier_name, by=_day(end, locale, zone)
        )
    if start is None or start.astimezone(zone).date() >= end.astimezone(zone).date():
        return words.say("window.by", by=_day(end, locale, zone))
    return words.say(
        "window.between",
        **{"from": _day(start, locale, zone, same_year_as=end), "by": _day(end, locale, zone)},
    )


def _pickup(parcel: ParcelRecord, words: PageWords, lang: str) -> str | None:
    if parcel.status != "available_for_pickup":
        return None
    latest = parcel.events[0] if parcel.events else None
    if latest is not None and latest.location and latest.location.strip():
        return words.say("pickup.place", place=latest.location.strip())
    return words.say("pickup.no_place")


def _pickup_until(
    parcel: ParcelRecord, words: PageWords, locale: PageLocale, zone: ZoneInfo
) -> str | None:
    if parcel.status != "available_for_pickup" or parcel.pickup_until is None:
        return None
    return words.say("pickup.until", until=_day(parcel.pickup_until, locale, zone))


def _event(event: EventRecord, locale: PageLocale, zone: ZoneInfo) -> StoryEvent:
    status = Status(event.status)
    detail = Detail(event.detail) if event.detail else None
    local = event.occurred_at.astimezone(zone)
    return StoryEvent(
        iso=event.occurred_at.isoformat(),
        when=f"{format_date(local.date(), format='medium', locale=locale.babel)}, "
        f"{format_time(local.time(), format='short', locale=locale.babel)}",
        place=_place(event, locale),
        explanation=explain(status, detail, locale.lang),
        original=event.text,
    )


def _place(event: EventRecord, locale: PageLocale) -> str | None:
    """Where the scan happened: the carrier's place name and the country's name in the page's
    language (left out when the place already names it)."""
    place = event.location.strip() if event.location else ""
    country = country_name(event.country, locale) if event.country else None
    if country and country.casefold() not in place.casefold():
        return f"{place}, {country}" if place else country
    return place or None


def _links(
    parcel: ParcelRecord, words: PageWords, locale: PageLocale, shown: Presentation
) -> tuple[Link, ...]:
    links: list[Link] = []
    if parcel.carrier_url and not shown.hide_carrier:
        links.append(
            Link(words.say("links.carrier", carrier=parcel.carrier_name), parcel.carrier_url)
        )
    post = national_post(parcel.destination_country)
    if post is not None:
        url = post.url_for(parcel.tracking_number)
        if url != parcel.carrier_url:
            country = country_name(post.country, locale) or post.country
            links.append(Link(words.say("links.national", post=post.name, country=country), url))
    return tuple(links)


def _help(words: PageWords, shown: Presentation) -> tuple[Link, ...]:
    links: Sequence[Link] = ()
    if shown.support_url:
        links = (Link(words.say("help.support", store=shown.store_name), shown.support_url),)
    if shown.support_email:
        links = (
            *links,
            Link(
                words.say("help.email", email=shown.support_email), f"mailto:{shown.support_email}"
            ),
        )
    return tuple(links)
