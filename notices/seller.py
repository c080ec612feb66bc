"""Telling the seller that a buyer was offered a refund: a short email and/or a JSON webhook.

Each configured channel is its own outbox row (kind ``seller_refund_offer``), queued in the same
transaction that marks the buyer's ``refund_offer`` sent, so a crash cannot lose it; sending it
retries like any notice. The payload is a snapshot taken when the offer went out.
"""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import httpx

from notices.compose import one_line
from notices.message import format_address, message_id_for
from tracker.config import TrackerConfig, secret
from tracker.errors import ConfigError, PermanentSendError, TransientSendError
from tracker.eventlog import redact_secrets
from tracker.model import Milestone
from tracker.store.outbox import ClaimedNotice, FollowUp

KIND = "seller_refund_offer"
CHOICE_LABELS = {
    "keep_waiting": "keep waiting",
    "resend": "free resend",
    "refund": "full refund",
}


def offer_record(notice: ClaimedNotice, now: datetime) -> tuple[str, dict[str, Any]] | None:
    """The audit row that records a refund offer (when, which choices); None for other kinds."""
    if notice.kind != Milestone.REFUND_OFFER:
        return None
    return "refund.offered", {
        "offered_at": now.isoformat(),
        "choices": list(notice.payload.get("choices") or ()),
    }


def follow_ups(config: TrackerConfig, notice: ClaimedNotice, now: datetime) -> list[FollowUp]:
    """One seller row per configured channel when ``notice`` is a refund offer."""
    refund = config.refund
    if notice.kind != Milestone.REFUND_OFFER:
        return []
    channels = [
        channel
        for channel, target in (
            ("email", refund.notify_seller_email),
            ("webhook", refund.notify_seller_webhook_env or refund.notify_seller_webhook),
        )
        if target
    ]
    payload = {
        "event": "refund_offer",
        "order_reference": notice.order_reference,
        "tracking_number": notice.tracking_number,
        "carrier": notice.carrier,
        "buyer": {
            "name": notice.buyer_name,
            "email": notice.buyer_email,
            "language": notice.buyer_language,
        },
        "destination_country": notice.destination_country,
        "offered_at": now.isoformat(),
        "choices": list(notice.payload.get("choices") or ()),
        "buyer_notice_id": notice.id,
    }
    return [
        FollowUp(kind=KIND, key=f"{KIND}:{channel}", payload={"channel": channel, **payload})
        for channel in channels
    ]


def seller_email(config: TrackerConfig, notice: ClaimedNotice, now: datetime) -> EmailMessage:
    """A short plain-text email to ``refund.notify_seller_email`` about one refund offer or one
    parcel the carrier never received."""
    target = config.refund.notify_seller_email
    if not target:
        raise PermanentSendError("refund.notify_seller_email is no longer configured")
    if notice.payload.get("event") == "not_handed_over":
        subject, lines = _not_handed_over(notice.payload)
    elif notice.payload.get("event") == "expired":
        subject, lines = _expired(notice.payload)
    else:
        subject, lines = _refund_offer(notice.payload)
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = one_line(subject)
    message["From"] = config.seller.sender
    message["To"] = format_address("", target)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id_for(notice.idempotency_key, config.seller.id_domain)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Tracker-Notice"] = notice.kind
    message.set_content("\n".join(lines) + "\n")
    return message


def _parcel(payload: dict[str, Any]) -> list[str]:
    """The lines every seller email gives to find the order: order, buyer, number."""
    buyer = payload["buyer"]
    return [
        f"Order: {payload['order_reference']}",
        f"Buyer: {one_line(buyer['name'])} <{buyer['email']}>",
        f"Tracking number: {payload['tracking_number']} ({payload['carrier']})",
    ]


def _subject(what: str, payload: dict[str, Any]) -> str:
    return f"{what}: order {payload['order_reference']} ({payload['tracking_number']})"


def _not_handed_over(alert: dict[str, Any]) -> tuple[str, list[str]]:
    shipped = datetime.fromisoformat(alert["shipped_at"])
    lines = [
        "The carrier has not received this parcel: it has a label, but no scan shows it in the",
        "carrier's hands. The buyer has not been told it is on its way.",
        "",
        *_parcel(alert),
        f"Label date: {shipped:%Y-%m-%d}",
        "",
        "Hand the parcel over to the carrier, or correct the tracking number with `tracker edit`.",
    ]
    return _subject("Not handed over", alert), lines


def _expired(alert: dict[str, Any]) -> tuple[str, list[str]]:
    shipped = datetime.fromisoformat(alert["shipped_at"])
    lines = [
        "Tracking has ended for this parcel without a delivery: the carrier (or the tracking",
        "service following it) has shared no news for too long. It is no longer polled, and the",
        "buyer has not been told anything more about where it is.",
        "",
        *_parcel(alert),
        f"Shipped: {shipped:%Y-%m-%d}",
    ]
    if alert.get("latest_event"):
        lines.append(f"Last news: {one_line(str(alert['latest_event']))}")
    lines += ["", "Ask the buyer whether it arrived, and offer a resend or a refund if it did not."]
    return _subject("Tracking expired", alert), lines


def _refund_offer(offer: dict[str, Any]) -> tuple[str, list[str]]:
    choices = ", ".join(CHOICE_LABELS.get(c, c) for c in offer["choices"]) or "none"
    lines = [
        "A refund offer was sent to a buyer whose parcel has not arrived.",
        "",
        *_parcel(offer),
        f"Destination: {offer['destination_country']}",
        f"Offered at: {datetime.fromisoformat(offer['offered_at']):%Y-%m-%d %H:%M %Z}",
        f"Choices offered: {choices}",
        "",
        "The buyer answers by replying to the offer; nothing else happens automatically.",
    ]
    return _subject("Refund offered", offer), lines


def seller_webhook_url(config: TrackerConfig) -> str | None:
    """The seller's webhook URL: from ``refund.notify_seller_webhook_env`` when named (a URL
    with a token in it belongs in the environment), else ``refund.notify_seller_webhook``."""
    refund = config.refund
    try:
        from_env = secret(refund.notify_seller_webhook_env, "refund.notify_seller_webhook_env")
    except ConfigError as exc:
        raise PermanentSendError(str(exc)) from exc
    return from_env or refund.notify_seller_webhook


async def post_webhook(
    http: httpx.AsyncClient, config: TrackerConfig, notice: ClaimedNotice
) -> str:
    """POST the offer as JSON; the Idempotency-Key header lets the receiver drop a retry.

    Connection errors, timeouts, 429 and 5xx are transient; any other non-2xx is permanent. The
    URL itself never appears in what this returns or raises: it is logged and stored.
    """
    url = seller_webhook_url(config)
    if not url:
        raise PermanentSendError("refund.notify_seller_webhook is no longer configured")
    body = {k: v for k, v in notice.payload.items() if k != "channel"}
    try:
        response = await http.post(
            url, json=body, headers={"Idempotency-Key": notice.idempotency_key}
        )
    except httpx.HTTPError as exc:
        problem = redact_secrets(str(exc).replace(url, "(the URL)"))
        raise TransientSendError(f"seller webhook: {type(exc).__name__}: {problem}") from exc
    reply = f"seller webhook: HTTP {response.status_code}"
    if response.is_success:
        return reply
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientSendError(reply)
    raise PermanentSendError(f"{reply} {response.text[:200]}")
