"""The dispatch job: claim due notices from the outbox, render them, send them, record the result.

Exactly-once in practice: the outbox row exists once per shipment and milestone (unique key);
a notice is marked sent in its own transaction right after the transport accepted it. The one
window left is a crash between the transport's acceptance and that commit: the notice is then
sent again after its lease expires, with the same Message-ID so mail systems can drop it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy.exc import SQLAlchemyError
from structlog.typing import FilteringBoundLogger

from notices.answers import BUYER_KIND as CHOICE_KIND
from notices.answers import SELLER_KIND as SELLER_CHOICE_KIND
from notices.answers import confirmation_email, seller_choice_email
from notices.context import NoticeContext, Parcel, notice_context
from notices.message import build_message, format_address, message_id_for
from notices.payload import NoticePayload
from notices.seller import follow_ups, offer_record, post_webhook, seller_email
from notices.unsubscribe import unsubscribe_for
from shops.dispatch import send_shop_pushes
from tracker.errors import NoticeError, PermanentSendError, PluginError, TransientSendError
from tracker.eventlog import get_logger, redact_secrets
from tracker.model import Milestone
from tracker.policy.retry import backoff
from tracker.policy.sendtime import next_allowed
from tracker.runtime.app import TrackerApp
from tracker.store.outbox import (
    SELLER_KIND_PREFIX,
    SHOP_KIND_PREFIX,
    ClaimedNotice,
    claim_due_notices,
    mark_failed,
    mark_retry,
    mark_sent,
)
from tracker.web.links import buyer_page_url


@dataclass
class DispatchStats:
    """Counts from one dispatch run."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0


def build_context(app: TrackerApp, notice: ClaimedNotice) -> NoticeContext:
    """Everything the renderer needs, from the notice's stored payload and its shipment."""
    carrier_name, tracking_url = carrier_facing(
        app, notice.carrier, notice.tracking_number, notice.carrier_holder
    )
    # with [web] public_url set, "Track my parcel" opens the buyer's page (which links the carrier)
    page_url = buyer_page_url(app.config, notice.shipment_id, app.clock.now())
    parcel = Parcel(
        tracking_number=notice.tracking_number,
        carrier_name=carrier_name,
        tracking_url=page_url or tracking_url,
        buyer_name=notice.buyer_name,
        buyer_email=notice.buyer_email,
        buyer_language=notice.buyer_language,
        destination_country=notice.destination_country,
        origin_country=notice.origin_country,
        order_reference=notice.order_reference,
        shipped_at=notice.shipped_at,
    )
    payload = NoticePayload.from_json(notice.payload)
    return notice_context(Milestone(notice.kind), payload, parcel, app.config.seller)


def carrier_facing(
    app: TrackerApp, carrier: str, number: str, holder: str | None = None
) -> tuple[str, str | None]:
    """The carrier's name as buyers know it and its tracking link; the configured name and no
    link when its adapter cannot load. ``holder`` (the courier an aggregator says holds the
    parcel) wins over the aggregator's own name."""
    try:
        adapter = app.carrier(carrier).adapter
    except PluginError:
        return holder or carrier, None
    return holder or adapter.buyer_facing_name(), adapter.tracking_url(number)


async def dispatch_due(app: TrackerApp) -> DispatchStats:
    """One run of the dispatch job over at most one batch of due notices."""
    now = app.clock.now()
    claimed = await app.in_store(
        claim_due_notices,
        app.store,
        now,
        app.owner,
        app.config.daemon.lease,
        app.config.daemon.batch_size,
    )
    stats = DispatchStats(claimed=len(claimed))
    shop_rows = [n for n in claimed if n.kind.startswith(SHOP_KIND_PREFIX)]
    if shop_rows:  # calls to shops and PayPal, sent (and batched) by shops.dispatch
        pushed = await send_shop_pushes(app, shop_rows)
        stats.sent, stats.retried, stats.failed = pushed.sent, pushed.retried, pushed.failed
    for notice in claimed:
        if notice.kind.startswith(SHOP_KIND_PREFIX):
            continue
        try:
            await _send_one(app, notice, stats)
        except SQLAlchemyError:
            raise  # the store itself failed: the lease brings every claimed notice back later
        except Exception as exc:  # one bad notice fails alone; the rest of the batch goes out
            await _fail_alone(app, notice, exc, stats)
    return stats


async def _fail_alone(
    app: TrackerApp, notice: ClaimedNotice, exc: Exception, stats: DispatchStats
) -> None:
    """Mark ``notice`` failed for an error nobody foresaw (bad stored data, a config value that
    breaks rendering), with the reason recorded and the traceback logged."""
    reason = redact_secrets(f"unexpected error: {type(exc).__name__}: {exc}")
    await _give_up(app, notice, app.clock.now(), reason, stats)
    log = get_logger(notice_id=notice.id, kind=notice.kind, shipment_id=notice.shipment_id)
    log.error("notice.failed", error=reason, exc_info=exc)


async def _send_one(app: TrackerApp, notice: ClaimedNotice, stats: DispatchStats) -> None:
    log = get_logger(
        shipment_id=notice.shipment_id,
        carrier=notice.carrier,
        tracking_number=notice.tracking_number,
        notice_id=notice.id,
        kind=notice.kind,
    )
    now = app.clock.now()
    if notice.kind.startswith(SELLER_KIND_PREFIX):
        await _send_to_seller(app, notice, stats, log)
        return
    if notice.opted_out:
        await app.in_store(
            mark_failed,
            app.store,
            notice.id,
            app.owner,
            now,
            error="buyer opted out",
            state="skipped",
        )
        log.info("notice.skipped", reason="opted_out")
        app.metrics.notice_handled(notice.kind, "skipped")
        return
    seller = app.config.seller
    message_id = message_id_for(notice.idempotency_key, seller.id_domain)
    try:
        if notice.kind == CHOICE_KIND:
            message, subject = confirmation_email(app.config, notice, now)
        else:
            message, subject = _rendered(app, notice, now, message_id)
        # Worked out before sending: whatever fails after the transport accepted the message
        # would otherwise mark failed a notice the buyer has.
        seller_copies, record = follow_ups(app.config, notice, now), offer_record(notice, now)
        await app.transport.send(message)
    except TransientSendError as exc:
        if await _retry(app, notice, now, str(exc), stats):
            log.warning("notice.send_deferred", error=str(exc), attempts=notice.attempts + 1)
        else:
            log.error("notice.failed", error=str(exc), attempts=notice.attempts + 1)
        return
    except (PermanentSendError, NoticeError) as exc:
        await _give_up(app, notice, now, str(exc), stats)
        log.error("notice.failed", error=str(exc))
        return
    if await app.in_store(
        mark_sent,
        app.store,
        notice.id,
        app.owner,
        now,
        message_id=message_id,
        subject=subject,
        follow_ups=seller_copies,
        record=record,
    ):
        stats.sent += 1
        app.metrics.notice_handled(notice.kind, "sent")
        log.info("notice.sent", message_id=message_id, recipient=notice.buyer_email)
    else:
        app.metrics.notice_handled(notice.kind, "lease_lost")
        log.warning("notice.lease_lost_after_send", message_id=message_id)


def _rendered(
    app: TrackerApp, notice: ClaimedNotice, now: datetime, message_id: str
) -> tuple[EmailMessage, str]:
    """A milestone notice rendered from its templates, and its subject."""
    seller = app.config.seller
    ctx = build_context(app, notice)
    rendered = app.renderer.render(ctx)
    message = build_message(
        rendered,
        sender=seller.sender,
        recipient=format_address(notice.buyer_name, notice.buyer_email),
        reply_to=seller.reply_to,
        message_id=message_id,
        date=now,
        language=ctx.language,
        unsubscribe=unsubscribe_for(seller, notice.buyer_email, ctx.language),
    )
    # Lets sellers' mail rules and our tests tell notice kinds apart without parsing text.
    message["X-Tracker-Notice"] = notice.kind
    return message, rendered.subject


async def _send_to_seller(
    app: TrackerApp, notice: ClaimedNotice, stats: DispatchStats, log: FilteringBoundLogger
) -> None:
    """The seller's copy of a refund offer, by email through the notice transport or by
    webhook through ``app.http``; not subject to the buyer's opt-out or quiet hours."""
    now = app.clock.now()
    channel = notice.payload.get("channel")
    try:
        if channel == "email":
            write = seller_choice_email if notice.kind == SELLER_CHOICE_KIND else seller_email
            message = write(app.config, notice, now)
            await app.transport.send(message)
            message_id, subject = str(message["Message-ID"]), str(message["Subject"])
        else:
            subject = await post_webhook(app.http, app.config, notice)
            message_id = notice.idempotency_key
    except TransientSendError as exc:
        if await _retry(app, notice, now, str(exc), stats, quiet_hours=False):
            log.warning("notice.send_deferred", error=str(exc), attempts=notice.attempts + 1)
        else:
            log.error("notice.failed", error=str(exc), attempts=notice.attempts + 1)
        return
    except NoticeError as exc:
        await _give_up(app, notice, now, str(exc), stats)
        log.error("notice.failed", error=str(exc), channel=channel)
        return
    if await app.in_store(
        mark_sent, app.store, notice.id, app.owner, now, message_id=message_id, subject=subject
    ):
        stats.sent += 1
        app.metrics.notice_handled(notice.kind, "sent")
        log.info("notice.sent", message_id=message_id, channel=channel)


async def _give_up(
    app: TrackerApp, notice: ClaimedNotice, now: datetime, error: str, stats: DispatchStats
) -> None:
    """Mark ``notice`` failed for good, and count it."""
    await app.in_store(mark_failed, app.store, notice.id, app.owner, now, error=error)
    stats.failed += 1
    app.metrics.notice_handled(notice.kind, "failed")


async def _retry(
    app: TrackerApp,
    notice: ClaimedNotice,
    now: datetime,
    error: str,
    stats: DispatchStats,
    *,
    quiet_hours: bool = True,
) -> bool:
    """Schedule another attempt with backoff; False (notice failed) once attempts run out."""
    mail = app.config.mail
    if notice.attempts + 1 >= mail.max_attempts:
        await _give_up(
            app, notice, now, f"gave up after {notice.attempts + 1} attempts: {error}", stats
        )
        return False
    delay = backoff(
        notice.attempts + 1, notice.idempotency_key, base=mail.retry_backoff, cap=timedelta(hours=6)
    )
    retry_at = now + delay
    if quiet_hours:
        retry_at = next_allowed(retry_at, notice.destination_country, app.config.quiet_hours)
    await app.in_store(
        mark_retry, app.store, notice.id, app.owner, now, error=error, retry_at=retry_at
    )
    stats.retried += 1
    app.metrics.notice_handled(notice.kind, "deferred")
    return True
