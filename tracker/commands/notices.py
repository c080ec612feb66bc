"""Buyer-notice commands: ``preview`` a notice to a file, and ``opt-out`` a buyer.

``preview`` renders exactly as the daemon does (same renderer, same seller overrides from the
config), for a built-in sample parcel or for a stored shipment and its latest event.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from notices.context import NoticeContext, Parcel, notice_context
from notices.languages import supported_languages
from notices.message import build_message, format_address, message_id_for
from notices.payload import NoticePayload
from notices.render import NoticeRenderer, RenderedNotice
from notices.strings import sample_buyer
from notices.unsubscribe import unsubscribe_for
from tracker.commands.common import config_option, friendly_errors, load
from tracker.commands.common import store_url as store_url_of
from tracker.config import TrackerConfig
from tracker.errors import InputError, TrackerError
from tracker.model import Classification, Detail, Milestone, RawEvent, Status, TrackedEvent
from tracker.policy.milestones import Due
from tracker.policy.notices import payload_for
from tracker.runtime.app import load_adapter
from tracker.store.db import open_store
from tracker.store.history import load_histories
from tracker.store.lanes import LaneCache
from tracker.store.models import Notice, Shipment
from tracker.store.optout import opt_out as store_opt_out
from tracker.store.readonly import open_existing_store

KINDS = [m.value for m in Milestone]


#: per kind: days after shipping of the quoted event, its text, where, status and detail
SAMPLE_EVENTS: dict[Milestone, tuple[int, str, str, Status, Detail | None]] = {
    Milestone.SHIPPED: (
        1,
        "Item accepted at post office",
        "origin",
        Status.IN_TRANSIT,
        Detail.ACCEPTED,
    ),
    Milestone.IN_TRANSIT: (
        7,
        "Arrived at inward office of exchange",
        "exchange",
        Status.IN_TRANSIT,
        Detail.ARRIVED_DESTINATION_COUNTRY,
    ),
    Milestone.DELAYED: (
        8,
        "Presented to import customs",
        "exchange",
        Status.IN_TRANSIT,
        Detail.CUSTOMS_PROCESSING,
    ),
    Milestone.CUSTOMS_ACTION: (
        9,
        "Held by customs: documents required",
        "exchange",
        Status.EXCEPTION,
        Detail.CUSTOMS_HOLD,
    ),
    Milestone.ARRIVED_LOCALLY: (
        14,
        "Arrived at delivery office",
        "local",
        Status.IN_TRANSIT,
        Detail.ARRIVED_DELIVERY_OFFICE,
    ),
    Milestone.DELIVERED: (16, "Delivered to recipient", "local", Status.DELIVERED, None),
    Milestone.SATISFACTION: (16, "Delivered to recipient", "local", Status.DELIVERED, None),
    Milestone.REFUND_OFFER: (
        8,
        "Presented to import customs",
        "exchange",
        Status.IN_TRANSIT,
        Detail.CUSTOMS_PROCESSING,
    ),
}
#: how many days after shipping the sample notice goes out
SAMPLE_SENT_AFTER = {
    Milestone.DELAYED: 20,
    Milestone.REFUND_OFFER: 45,
    Milestone.SATISFACTION: 21,
}
SAMPLE_NUMBER = "RR123456785CN"


def sample_context(config: TrackerConfig, kind: Milestone, language: str) -> NoticeContext:
    """A realistic China -> buyer's country parcel at the moment ``kind`` would be sent, its
    payload made by the same policy code as the daemon's."""
    buyer = sample_buyer(language)  # each locale file names its sample buyer
    days, text, where, status, detail = SAMPLE_EVENTS[kind]
    sent_after = SAMPLE_SENT_AFTER.get(kind, days)
    now = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    shipped = now - timedelta(days=sent_after)
    place, country = {
        "origin": ("Shenzhen Futian", "CN"),
        "exchange": (buyer["exchange"], buyer["country"]),
        "local": (buyer["local"], buyer["country"]),
    }[where]
    event = RawEvent(
        occurred_at=shipped + timedelta(days=days, hours=3),
        text=text,
        location=place,
        country=country,
    )
    tracked = TrackedEvent(event, Classification(status, detail))
    reason = "stalled" if kind is Milestone.DELAYED else None
    limits = config.thresholds.for_shipment("china_post", buyer["country"])
    payload = payload_for(
        Due(kind, kind.value, reason=reason),
        [tracked],
        shipped,
        None,
        None,
        limits,
        tuple(config.refund.choices),
        now,
    )
    parcel = Parcel(
        tracking_number=SAMPLE_NUMBER,
        carrier_name="China Post",
        tracking_url=None,
        buyer_name=buyer["name"],
        buyer_email="buyer@example.com",
        buyer_language=language,
        destination_country=buyer["country"],
        origin_country="CN",
        order_reference="ORD-1001",
        shipped_at=shipped,
    )
    return notice_context(kind, payload, parcel, config.seller, language=language)


def journey_context(
    config: TrackerConfig, name: str, kind: Milestone, language: str, situation: str | None
) -> NoticeContext:
    """The ``kind`` notice that sandbox journey ``name`` produces, rehearsed through the
    daemon's own policy (``tracker.jobs.rehearse``)."""
    from carriers.sandbox.journeys import load_journeys
    from tracker.jobs.rehearse import rehearse
    from tracker.normalize import load_normalizer

    journeys = load_journeys()
    if name not in journeys:
        raise InputError(
            f"--journey {name!r}: no such journey; known: {', '.join(sorted(journeys))}"
        )
    start = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0) - timedelta(
        days=60
    )
    normalizer = load_normalizer(config.normalization.rule_files)
    payload, parcel = rehearse(config, normalizer, journeys[name], kind, start, situation=situation)
    return notice_context(kind, payload, parcel, config.seller, language=language)


def _carrier(config: TrackerConfig, name: str, number: str) -> tuple[str, str | None]:
    """The carrier's display name and tracking link, or its plain name when it cannot load."""
    try:
        adapter = load_adapter(config, name)
    except TrackerError:
        return name, None
    return adapter.buyer_facing_name(), adapter.tracking_url(number)


def stored_context(
    config: TrackerConfig,
    session: Session,
    shipment: Shipment,
    kind: Milestone,
    language: str | None,
) -> NoticeContext:
    """The notice ``kind`` for a stored shipment: exactly the queued or sent one when there is
    one; else what the policy would put in it now, from the stored timeline."""
    queued = session.scalars(
        select(Notice)
        .where(Notice.shipment_id == shipment.id, Notice.kind == kind.value)
        .order_by(Notice.id.desc())
    ).first()
    if queued is not None:
        payload = NoticePayload.from_json(dict(queued.payload))
    else:
        now = datetime.now(UTC)
        events = load_histories(session, [shipment.id])[shipment.id].events
        limits = config.thresholds.for_shipment(shipment.carrier, shipment.destination_country)
        lane = LaneCache().get(
            session, shipment.carrier, shipment.origin_country, shipment.destination_country, now
        )
        reason = "stalled" if kind is Milestone.DELAYED else None
        payload = payload_for(
            Due(kind, kind.value, reason=reason),
            events,
            shipment.shipped_at,
            shipment.expected_delivery,
            lane,
            limits,
            tuple(config.refund.choices),
            now,
            estimate_source=shipment.expected_delivery_source,
        )
    carrier_name, tracking_url = _carrier(config, shipment.carrier, shipment.tracking_number)
    carrier_name = shipment.carrier_holder or carrier_name  # as dispatch names it
    parcel = Parcel(
        tracking_number=shipment.tracking_number,
        carrier_name=carrier_name,
        tracking_url=tracking_url,
        buyer_name=shipment.buyer_name,
        buyer_email=shipment.buyer_email,
        buyer_language=shipment.buyer_language,
        destination_country=shipment.destination_country,
        origin_country=shipment.origin_country,
        order_reference=shipment.order_reference,
        shipped_at=shipment.shipped_at,
    )
    return notice_context(kind, payload, parcel, config.seller, language=language)


def write_preview(
    config: TrackerConfig, ctx: NoticeContext, rendered: RenderedNotice, out: Path
) -> list[Path]:
    """``out`` as an .eml (the whole email), else HTML at ``out`` and the text part beside it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".eml":
        seller = config.seller
        message = build_message(
            rendered,
            sender=seller.sender,
            recipient=format_address(ctx.buyer_name, ctx.buyer_email),
            reply_to=seller.reply_to,
            message_id=message_id_for(
                f"preview:{ctx.tracking_number}:{ctx.kind}:{ctx.language}",
                seller.id_domain,
            ),
            language=ctx.language,
            unsubscribe=unsubscribe_for(seller, ctx.buyer_email, ctx.language),
        )
        message["X-Tracker-Notice"] = ctx.kind.value
        out.write_bytes(message.as_bytes())
        return [out]
    text_path = out.with_suffix(".txt")
    out.write_text(rendered.html, encoding="utf-8")
    text_path.write_text(f"Subject: {rendered.subject}\n\n{rendered.text}", encoding="utf-8")
    return [out, text_path]


@click.command("preview")
@click.argument("kind", type=click.Choice(KINDS))
@click.option(
    "--lang",
    "language",
    type=click.Choice(supported_languages()),
    default=None,
    help="Language (default: en for the sample, the buyer's for a stored shipment).",
)
@click.option("--tracking", "tracking_number", default=None, help="Preview a stored shipment.")
@click.option(
    "--journey",
    "journey_name",
    default=None,
    help="Preview the notice as a sandbox journey produces it (see docs/journeys.md).",
)
@click.option(
    "--situation",
    default=None,
    help="With --journey: which notice of the kind (e.g. pickup_reminder, returned).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="HTML file to write (the text part goes beside it), or a .eml file for the whole email.",
)
@config_option
@click.option("--store", "store_url", default=None, help="SQLAlchemy URL of the store to read.")
@friendly_errors
def preview(
    config_path: Path | None,
    store_url: str | None,
    kind: str,
    language: str | None,
    tracking_number: str | None,
    journey_name: str | None,
    situation: str | None,
    out: Path | None,
) -> None:
    """Render a notice for a sample parcel (or a stored one) to a file to look at."""
    config = load(config_path)
    milestone = Milestone(kind)
    renderer = NoticeRenderer(
        overrides_dir=config.notices.templates_dir, strings_file=config.notices.strings_file
    )
    if journey_name is not None and tracking_number is not None:
        raise InputError("give --journey or --tracking, not both")
    if journey_name is not None:
        ctx = journey_context(config, journey_name, milestone, language or "en", situation)
    elif tracking_number is None:
        ctx = sample_context(config, milestone, language or "en")
    else:
        number = tracking_number.replace(" ", "").upper()
        # read-only: a missing store or another schema revision is an error, never created
        factory = open_existing_store(store_url_of(config_path, store_url))
        with factory() as session:
            shipment = session.scalars(
                select(Shipment).where(Shipment.tracking_number == number).order_by(Shipment.id)
            ).first()
            if shipment is None:
                raise InputError(f"tracking number {number!r} is not tracked")
            ctx = stored_context(config, session, shipment, milestone, language)
    rendered = renderer.render(ctx)
    target = out or Path(f"preview-{ctx.kind.value}-{ctx.language}.html")
    for path in write_preview(config, ctx, rendered, target):
        click.echo(str(path))


@click.command("opt-out")
@click.argument("tracking_number", required=False)
@click.option("--email", default=None, help="Opt out every shipment of this buyer.")
@config_option
@click.option("--store", "store_url", default=None, help="SQLAlchemy URL of the store to change.")
@friendly_errors
def opt_out(
    config_path: Path | None, store_url: str | None, tracking_number: str | None, email: str | None
) -> None:
    """Stop all buyer notices for one shipment, or (--email) for every shipment of a buyer."""
    if (tracking_number is None) == (email is None):
        raise InputError("give a tracking number or --email ADDRESS (exactly one)")
    factory = open_store(store_url_of(config_path, store_url))
    number = tracking_number.replace(" ", "").upper() if tracking_number else None
    result = store_opt_out(factory, datetime.now(UTC), tracking_number=number, email=email)
    if not result.shipments and not result.already and email is None:
        raise InputError(f"no shipment found for {number!r}")
    if result.suppressed:
        click.echo(f"{result.suppressed} is on the suppression list: no email to it, ever")
    for done in result.shipments:
        click.echo(f"opted out: {done}")
    for already in result.already:
        click.echo(f"already opted out: {already}")
    click.echo(f"{result.pending_notices} pending notice(s) will be skipped")


commands = [preview, opt_out]
