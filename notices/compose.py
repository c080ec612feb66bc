"""Which sentences a notice says, in which order: the same structure for every kind.

Thanks first; the evidence (latest event, date, place); where to follow it; what it means; what
happens next and when; the buyer's choices; a friendly close. This module picks string keys and
fills their fields; the wording itself lives in ``notices/locales`` and the layout in the templates.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import structlog
from babel.dates import format_time

from notices.context import CHOICES, DELAY_REASONS, EventSummary, NoticeContext
from notices.countries import national_post
from notices.explain import event_label
from notices.languages import cldr_locale, long_date
from notices.strings import Catalog
from tracker.errors import ConfigError
from tracker.model import Detail, Milestone, Status

ExplainFn = Callable[..., str]
_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Link:
    """A labelled URL. The text part shows the label and the URL on its own line; HTML shows a
    button when ``button`` is set, else the label itself as the link (no long raw URLs)."""

    label: str
    url: str
    button: str | None = None

    @property
    def anchor(self) -> str:
        """The label as link text: without the colon that introduces a URL in plain text."""
        return self.label.rstrip(": \u00a0")


@dataclass(frozen=True)
class Section:
    """One block of the message: an optional heading, paragraphs, a list and links."""

    name: str
    heading: str | None = None
    paragraphs: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()


@dataclass(frozen=True)
class NoticeBody:
    """The composed notice, language-resolved, ready for a template to lay out."""

    subject: str
    greeting: str
    sections: tuple[Section, ...]
    close: tuple[str, ...]
    support: Link | None
    regards: str
    signature: str
    coupon_line: str | None


def _explainer() -> ExplainFn | None:
    """``notices.explain.explain`` when that module is installed; notices work without it."""
    try:
        module = importlib.import_module("notices.explain")
    except ModuleNotFoundError:
        return None
    fn = getattr(module, "explain", None)
    return fn if callable(fn) else None


def tame_capitals(text: str) -> str:
    """Carrier text often shouts ("ARRIVED AT FACILITY"); show it as a normal sentence."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 4 and all(c.isupper() for c in letters):
        lowered = text.lower()
        return lowered[:1].upper() + lowered[1:]
    return text


#: whitespace that may break a line; no-break spaces stay (French "commande\u00a0:")
_BREAKING_SPACE = re.compile(r"[^\S\u00a0\u202f]+")


def one_line(text: str) -> str:
    """Collapse CR, LF and runs of whitespace: nothing from outside may break a line or header."""
    return _BREAKING_SPACE.sub(" ", text).strip()


class Composer:
    """Builds a ``NoticeBody`` from a context: pure, given the catalog and the explainer."""

    def __init__(self, catalog: Catalog, explain: ExplainFn | None = None) -> None:
        self._catalog = catalog
        self._explain = explain if explain is not None else _explainer()

    def compose(self, ctx: NoticeContext) -> NoticeBody:
        """The whole notice for ``ctx``; ConfigError when the context breaks a seller rule."""
        _check(ctx)
        values = self._values(ctx)

        def t(key: str) -> str:
            return self._catalog.format(ctx.language, key, values)

        sections = [
            Section("intro", paragraphs=(t(_variant(ctx, "intro")),)),
            self._evidence(ctx, t),
            self._tracking(ctx, t),
            *self._meaning(ctx, t),
            *self._kind_sections(ctx, t),
        ]
        store = ctx.store
        return NoticeBody(
            subject=one_line(t(_variant(ctx, "subject"))),
            greeting=t("common.greeting") if values["buyer_name"] else t("common.greeting_no_name"),
            sections=tuple(s for s in sections if s.paragraphs or s.items or s.links),
            close=(t("common.close_question"),),
            support=Link(t("common.close_support"), store.support_url)
            if store.support_url
            else None,
            regards=t("common.close_regards"),
            signature=store.signature or t("common.signature"),
            coupon_line=store.coupon_line,
        )

    def _values(self, ctx: NoticeContext) -> dict[str, str]:
        lang = ctx.language
        post = national_post(ctx.destination_country)
        event = ctx.latest_event
        values = {
            "buyer_name": one_line(ctx.buyer_name),
            "order": one_line(ctx.order_reference),
            "store": one_line(ctx.store.name),
            "carrier": one_line(ctx.carrier_name),
            "number": one_line(ctx.tracking_number),
            "country": country_name(ctx.destination_country, lang),
            "origin": country_name(ctx.origin_country, lang) if ctx.origin_country else "",
            "shipped_on": _date(ctx.shipped_at.date(), lang),
            "expected_from": _range_start(ctx.expected_from, ctx.expected_by, lang),
            "expected_by": _date(ctx.expected_by, lang),
            "post": post.name if post else "",
            "date": "",
            "time": "",
            "place": "",
            "carrier_text": "",
            "until": _date(ctx.pickup_until, lang),
            "pickup_place": one_line(event.place) if event and event.place else "",
        }
        if event is not None:
            values["date"] = _date(event.occurred_at.date(), lang)
            values["time"] = format_time(
                event.occurred_at,
                format="short",
                tzinfo=event.occurred_at.tzinfo,
                locale=cldr_locale(lang),
            )
            values["place"] = _place(event, lang)
            values["carrier_text"] = tame_capitals(one_line(event.text))
        return values

    def _evidence(self, ctx: NoticeContext, t: Callable[[str], str]) -> Section:
        """When and where, what happened in the buyer's language, then the carrier's own words."""
        event = ctx.latest_event
        if event is None:
            return Section("evidence", t("evidence.heading"), (t("evidence.none"),))
        when = t("evidence.when_where") if _place(event, ctx.language) else t("evidence.when")
        paragraphs = [when[:1].upper() + when[1:]]  # Italian dates open with a weekday
        label = event_label(event.status, event.detail, ctx.language)
        if label:
            paragraphs.append(label)
        if one_line(event.text):
            paragraphs.append(t("evidence.carrier_words"))
        return Section("evidence", t("evidence.heading"), tuple(paragraphs))

    def _tracking(self, ctx: NoticeContext, t: Callable[[str], str]) -> Section:
        links: list[Link] = []
        if ctx.tracking_url:
            links.append(Link(t("track.link"), ctx.tracking_url, button=t("track.button")))
        post = national_post(ctx.destination_country)
        if post is not None and ctx.international:
            url = post.url_for(ctx.tracking_number)
            if url != ctx.tracking_url:
                label = t("track.national") if post.deep_link else t("track.national_search")
                links.append(Link(label, url))
        return Section("tracking", t("track.heading"), (t("track.number"),), links=tuple(links))

    def _meaning(self, ctx: NoticeContext, t: Callable[[str], str]) -> list[Section]:
        if ctx.kind is Milestone.CUSTOMS_ACTION or ctx.situation in _SAYS_ITS_MEANING:
            return []  # its own steps say what it means; the explanation would repeat them
        event = ctx.latest_event
        if event is not None and _is_old(ctx):
            # An old scan is not news: say when it was, never explain it as happening now.
            return [Section("meaning", t("meaning.heading"), (t("situation.meaning_old"),))]
        if event is None or self._explain is None:
            return []
        try:
            # The evidence section already shows when and where, so ask for the meaning only.
            text = self._explain(event.status, event.detail, ctx.language)
        except (ConfigError, OSError, KeyError) as exc:
            # An explanation is a bonus; a missing translation must not stop the notice.
            _log.warning("notice.explain_failed", language=ctx.language, error=str(exc))
            return []
        return [Section("meaning", t("meaning.heading"), (one_line(text),))] if text else []

    def _kind_sections(self, ctx: NoticeContext, t: Callable[[str], str]) -> list[Section]:
        build = _KIND_SECTIONS[ctx.kind]
        return build(ctx, t)


#: situations whose own next steps already say what the latest event means
_SAYS_ITS_MEANING = ("delivery_failed", "pickup", "pickup_reminder")

#: an event older than this when the notice is due is told as past, not explained as current
OLD_EVENT = timedelta(days=3)

#: (kind, situation) -> prefix of the situation's own subject and intro strings
_VARIANTS = {
    (Milestone.REFUND_OFFER, "returned"): "situation.refund_returned",
    (Milestone.REFUND_OFFER, "returning"): "situation.refund_returning",
    (Milestone.REFUND_OFFER, "lost"): "situation.refund_lost",
    (Milestone.REFUND_OFFER, "not_handed_over"): "situation.refund_not_handed_over",
    (Milestone.ARRIVED_LOCALLY, "delivery_failed"): "situation.attempt",
    (Milestone.ARRIVED_LOCALLY, "pickup"): "situation.pickup",
    (Milestone.ARRIVED_LOCALLY, "pickup_reminder"): "situation.reminder",
}


def _variant(ctx: NoticeContext, name: str) -> str:
    """The string key of ``name`` (subject, intro) for this notice's kind and situation."""
    prefix = _VARIANTS.get((ctx.kind, ctx.situation or ""))
    if prefix is None or (name == "subject" and ctx.kind is Milestone.REFUND_OFFER):
        return f"{ctx.kind.value}.{name}"
    event = ctx.latest_event
    named_place = event is not None and bool(event.place)
    if name == "intro" and named_place and ctx.situation in ("pickup", "pickup_reminder"):
        return f"{prefix}_intro_place"
    return f"{prefix}_{name}"


def _is_old(ctx: NoticeContext) -> bool:
    event = ctx.latest_event
    return bool(event and ctx.as_of and ctx.as_of - event.occurred_at > OLD_EVENT)


def _check(ctx: NoticeContext) -> None:
    if ctx.kind in (Milestone.DELAYED, Milestone.REFUND_OFFER):
        unknown = [c for c in ctx.choices if c not in CHOICES]
        if unknown:
            raise ConfigError(f"choices: unknown {unknown}; allowed are {list(CHOICES)}")
        if len(set(ctx.choices)) < 2:
            raise ConfigError(
                f"choices: a {ctx.kind} notice must offer at least two of {list(CHOICES)}, "
                f"the seller allows {list(ctx.choices)}"
            )
    if ctx.kind is Milestone.DELAYED and ctx.reason not in DELAY_REASONS:
        raise ConfigError(f"reason: a delayed notice needs one of {list(DELAY_REASONS)}")


def country_name(code: str | None, lang: str) -> str:
    """The country's name in ``lang`` (Babel/CLDR); the code itself if CLDR has no name for it."""
    if not code:
        return ""
    names: Mapping[str, str] = cldr_locale(lang).territories
    return names.get(code.upper(), code.upper())


def _date(value: date | None, lang: str) -> str:
    return long_date(value, lang) if value else ""


def _range_start(start: date | None, end: date | None, lang: str) -> str:
    """The first day of a window, without its year when the last day gives the same one."""
    if start is None:
        return ""
    return long_date(start, lang, year=end is None or start.year != end.year)


def _place(event: EventSummary, lang: str) -> str:
    parts = [one_line(event.place)] if event.place and event.place.strip() else []
    if event.country:
        parts.append(country_name(event.country, lang))
    return ", ".join(parts)


def _expected(ctx: NoticeContext, t: Callable[[str], str]) -> str:
    if ctx.carrier_estimate and ctx.expected_by:
        return t("next.carrier_by")
    if ctx.expected_from and ctx.expected_by and ctx.expected_from < ctx.expected_by:
        return t("next.window")
    if ctx.expected_by:
        return t("next.by")
    return t("next.unknown")


def _next(
    *keys: str, expected: bool = True
) -> Callable[[NoticeContext, Callable[[str], str]], list[Section]]:
    def build(ctx: NoticeContext, t: Callable[[str], str]) -> list[Section]:
        paragraphs = [t(k) for k in keys]
        if expected:
            paragraphs.insert(0, _expected(ctx, t))
        return [Section("next", t("next.heading"), tuple(paragraphs))]

    return build


def _choices(ctx: NoticeContext, t: Callable[[str], str]) -> Section:
    items = []
    for choice in dict.fromkeys(ctx.choices):
        if choice == "keep_waiting" and not ctx.expected_by:
            items.append(t("choices.keep_waiting_no_date"))
        elif choice == "keep_waiting" and ctx.carrier_estimate:
            items.append(t("choices.keep_waiting_carrier"))
        else:
            items.append(t(f"choices.{choice}"))
    closing = [t("choices.how")]
    if "keep_waiting" in ctx.choices:
        closing.append(t("choices.default"))
    return Section("choices", t("choices.heading"), tuple(closing), items=tuple(items))


def _delayed(ctx: NoticeContext, t: Callable[[str], str]) -> list[Section]:
    reason = t(f"delayed.{ctx.reason}")
    return [
        Section("next", t("next.heading"), (reason, t("delayed.next"))),
        _choices(ctx, t),
    ]


#: situations in which waiting longer cannot bring the parcel
_NOTHING_TO_WAIT_FOR = ("returned", "returning", "lost")


def _refund_offer(ctx: NoticeContext, t: Callable[[str], str]) -> list[Section]:
    offer = (
        "situation.refund_offer_now"
        if ctx.situation in _NOTHING_TO_WAIT_FOR
        else "refund_offer.offer"
    )
    return [Section("next", t("next.heading"), (t(offer),)), _choices(ctx, t)]


def _customs(ctx: NoticeContext, t: Callable[[str], str]) -> list[Section]:
    event = ctx.latest_event
    if event is not None and event.detail is Detail.CUSTOMS_DUTIES_DUE:
        how = "duties_2_post" if national_post(ctx.destination_country) else "duties_2_carrier"
        steps = ("duties_1", how, "duties_3")
    else:
        steps = ("hold_1", "hold_2", "hold_3")
    return [
        Section(
            "actions",
            t("customs_action.heading"),
            items=tuple(t(f"customs_action.{s}") for s in steps),
        ),
        Section("next", t("next.heading"), (t("customs_action.next"),)),
    ]


def _arrived(ctx: NoticeContext, t: Callable[[str], str]) -> list[Section]:
    event = ctx.latest_event
    paragraphs: tuple[str, ...]
    if ctx.situation == "delivery_failed":
        paragraphs = (t("situation.attempt_next"),)
    elif ctx.situation in ("pickup", "pickup_reminder") and ctx.pickup_until:
        paragraphs = (t("situation.pickup_until"), t("situation.pickup_bring"))
    elif event is not None and event.status is Status.AVAILABLE_FOR_PICKUP:
        paragraphs = (t("arrived_locally.pickup"), t("arrived_locally.pickup_soon"))
    else:
        paragraphs = (t("arrived_locally.office"),)
    return [Section("next", t("next.heading"), paragraphs)]


_KIND_SECTIONS: dict[Milestone, Callable[[NoticeContext, Callable[[str], str]], list[Section]]] = {
    Milestone.SHIPPED: _next("shipped.next"),
    Milestone.IN_TRANSIT: _next("in_transit.next"),
    Milestone.DELAYED: _delayed,
    Milestone.CUSTOMS_ACTION: _customs,
    Milestone.ARRIVED_LOCALLY: _arrived,
    Milestone.DELIVERED: _next("delivered.next", expected=False),
    Milestone.SATISFACTION: _next(
        "satisfaction.ask", "satisfaction.review", "satisfaction.problem", expected=False
    ),
    Milestone.REFUND_OFFER: _refund_offer,
}
