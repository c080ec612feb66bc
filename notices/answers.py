"""Emails about a buyer's answer to a delay or refund offer: the buyer's confirmation in their
language, and the seller's short copy (email; the webhook posts the row's payload as JSON).

The wording is in ``notices/web/<lang>.toml`` (``[confirm_email]`` and ``[choices]``), beside the
page that took the answer.
"""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from notices.compose import one_line
from notices.context import store_identity
from notices.countries import choose_language
from notices.message import build_message, format_address, message_id_for
from notices.render import RenderedNotice
from notices.unsubscribe import unsubscribe_for
from notices.webwords import page_words
from tracker.config import TrackerConfig
from tracker.errors import NoticeError, PermanentSendError
from tracker.store.outbox import ClaimedNotice

BUYER_KIND = "buyer_choice"
SELLER_KIND = "seller_buyer_choice"
SELLER_LABELS = {"keep_waiting": "keep waiting", "resend": "free resend", "refund": "full refund"}


def confirmation_email(
    config: TrackerConfig, notice: ClaimedNotice, now: datetime
) -> tuple[EmailMessage, str]:
    """The buyer's confirmation of their choice, in their language (plain text and HTML), and
    its subject as the buyer reads it."""
    seller = config.seller
    lang = choose_language(
        notice.buyer_language, notice.destination_country, seller.default_language
    )
    words = page_words(lang)
    choice = str(notice.payload.get("choice", ""))
    if choice not in SELLER_LABELS:
        raise NoticeError(f"buyer_choice notice {notice.id}: unknown choice {choice!r}")
    fields = {"order": notice.order_reference, "buyer_name": notice.buyer_name}
    greeting = (
        words.say("confirm_email.greeting", **fields)
        if notice.buyer_name.strip()
        else words.say("confirm_email.greeting_no_name")
    )
    lines = [
        greeting,
        "",
        words.say("confirm_email.chose", choice=words.say(f"choices.{choice}")),
        words.say(f"confirm_email.{choice}"),
    ]
    page_url = notice.payload.get("page_url")
    if page_url:
        lines += ["", words.say("confirm_email.page"), str(page_url)]
    identity = store_identity(seller, lang)
    lines += ["", words.say("confirm_email.regards"), identity.signature or identity.name]
    text = "\n".join(lines) + "\n"
    rendered = RenderedNotice(
        subject=words.say("confirm_email.subject", **fields), text=text, html=_html(text, lang)
    )
    message = build_message(
        rendered,
        sender=seller.sender,
        recipient=format_address(notice.buyer_name, notice.buyer_email),
        reply_to=seller.reply_to,
        message_id=message_id_for(notice.idempotency_key, seller.id_domain),
        date=now,
        language=lang,
        unsubscribe=unsubscribe_for(seller, notice.buyer_email, lang),
    )
    message["X-Tracker-Notice"] = BUYER_KIND
    return message, rendered.subject


def _html(text: str, lang: str) -> str:
    from html import escape

    paragraphs = "".join(
        f"<p>{escape(block).replace(chr(10), '<br>')}</p>" for block in text.strip().split("\n\n")
    )
    return f'<!doctype html><html lang="{lang}"><body>{paragraphs}</body></html>'


def seller_choice_email(
    config: TrackerConfig, notice: ClaimedNotice, now: datetime
) -> EmailMessage:
    """A short plain-text email telling the seller what the buyer chose."""
    target = config.refund.notify_seller_email
    if not target:
        raise PermanentSendError("refund.notify_seller_email is no longer configured")
    facts = notice.payload
    buyer = facts["buyer"]
    choice = SELLER_LABELS.get(str(facts["choice"]), str(facts["choice"]))
    lines = [
        f"A buyer answered your {facts['offer_kind'].replace('_', ' ')} notice: {choice}.",
        "",
        f"Order: {facts['order_reference']}",
        f"Buyer: {one_line(buyer['name'])} <{buyer['email']}>",
        f"Tracking number: {facts['tracking_number']} ({facts['carrier']})",
        f"Answered at: {datetime.fromisoformat(facts['answered_at']):%Y-%m-%d %H:%M %Z}",
        "",
        "The buyer was sent a confirmation. Please carry out their choice.",
    ]
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = one_line(
        f"Buyer chose {choice}: order {facts['order_reference']} ({facts['tracking_number']})"
    )
    message["From"] = config.seller.sender
    message["To"] = format_address("", target)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id_for(notice.idempotency_key, config.seller.id_domain)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Tracker-Notice"] = SELLER_KIND
    message.set_content("\n".join(lines) + "\n")
    return message
