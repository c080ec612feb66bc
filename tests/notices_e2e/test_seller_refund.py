"""A refund offer is recorded when it is sent, and the seller hears about it by email and webhook.

The seller's copies are outbox rows queued in the transaction that marks the buyer's offer sent,
so a crash right after that commit loses nothing: a restarted daemon delivers them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from tests.notices_e2e.conftest import (
    CHOICES,
    T0,
    base_payload,
    notices,
    queue,
    shipment,
    smtp_config,
    stored,
)
from tests.support.loopback import LoopbackHTTPServer, Reply, Request
from tests.support.smtp import SmtpSink
from tracker.cli import main
from tracker.clock import SimulatedClock
from tracker.config import RefundConfig, TrackerConfig
from tracker.jobs.dispatch import dispatch_due
from tracker.runtime.app import TrackerApp, build_app
from tracker.store.db import open_store
from tracker.store.history import load_histories
from tracker.store.models import AuditEntry

HOOK = "/hooks/refund-offer"


def _refund(
    http: LoopbackHTTPServer | None, email: str | None = "seller@shop.example"
) -> RefundConfig:
    return RefundConfig(
        choices=CHOICES,
        notify_seller_email=email,
        notify_seller_webhook=f"{http.base_url}{HOOK}" if http else None,
    )


@asynccontextmanager
async def _daemon(config: TrackerConfig, clock: SimulatedClock) -> AsyncIterator[TrackerApp]:
    """The daemon's object graph; leaving the block is a process exit (or a crash)."""
    app = build_app(config, clock)
    try:
        yield app
    finally:
        await app.close()


def _seller_mail(smtp: SmtpSink) -> list[EmailMessage]:
    return [r.message for r in smtp.messages if r.rcpt_tos == ["seller@shop.example"]]


async def test_offer_is_recorded_and_seller_told_by_email_and_webhook(
    tmp_path: Path, smtp_server: SmtpSink, loopback_http: LoopbackHTTPServer
) -> None:
    loopback_http.route("POST", HOOK, lambda request: Reply(204))
    config = smtp_config(tmp_path, smtp_server, refund=_refund(loopback_http))
    url = config.store.url
    (shipment_id,) = stored(url, shipment())
    queue(url, shipment_id, "refund_offer")
    clock = SimulatedClock(T0)

    async with _daemon(config, clock) as app:
        first = await dispatch_due(app)
    assert (first.claimed, first.sent) == (1, 1)
    buyer = [r for r in smtp_server.messages if r.rcpt_tos == ["ana@buyers.example"]]
    assert [str(r.message["X-Tracker-Notice"]) for r in buyer] == ["refund_offer"]
    # The seller rows were committed with the "sent" mark; a crash here would not lose them.
    rows = notices(url)
    assert [(n.kind, n.state, n.idempotency_key) for n in rows] == [
        ("refund_offer", "sent", f"{shipment_id}:refund_offer"),
        ("seller_refund_offer", "pending", f"{shipment_id}:seller_refund_offer:email"),
        ("seller_refund_offer", "pending", f"{shipment_id}:seller_refund_offer:webhook"),
    ]
    with open_store(url)() as session:
        (record,) = session.scalars(
            select(AuditEntry).where(AuditEntry.kind == "refund.offered")
        ).all()
        assert record.data["choices"] == CHOICES
        assert record.data["offered_at"] == T0.isoformat()
        # The seller's copies never hold back the buyer's next email (minimum gap).
        history = load_histories(session, [shipment_id])[shipment_id]
        assert history.last_notice_at == T0

    async with _daemon(config, clock) as app:  # a restarted daemon picks them up
        second = await dispatch_due(app)
        clock.advance(timedelta(days=1))
        again = await dispatch_due(app)
    assert (second.claimed, second.sent) == (2, 2)
    (mail,) = _seller_mail(smtp_server)
    assert mail["Subject"] == "Refund offered: order ORD-1001 (SBNM00000001)"
    assert mail["X-Tracker-Notice"] == "seller_refund_offer"
    assert mail.get_content_type() == "text/plain"
    body = mail.get_content()
    for needle in (
        "Order: ORD-1001",
        "Buyer: Ana Souza <ana@buyers.example>",
        "Tracking number: SBNM00000001 (sandbox)",
        "Choices offered: free resend, full refund, keep waiting",
    ):
        assert needle in body
    (hook,) = loopback_http.requests
    assert hook.headers["content-type"] == "application/json"
    assert hook.headers["idempotency-key"] == f"{shipment_id}:seller_refund_offer:webhook"
    sent = json.loads(hook.body)
    assert sent["event"] == "refund_offer"
    assert sent["order_reference"] == "ORD-1001"
    assert sent["tracking_number"] == "SBNM00000001"
    assert sent["buyer"] == {"name": "Ana Souza", "email": "ana@buyers.example", "language": "pt"}
    assert sent["choices"] == CHOICES
    assert sent["offered_at"] == T0.isoformat()
    assert {n.state for n in notices(url)} == {"sent"}

    assert again.claimed == 0
    assert len(smtp_server.messages) == 2
    assert len(loopback_http.requests) == 1


async def test_failing_webhook_retries_then_succeeds_and_a_4xx_fails(
    tmp_path: Path, smtp_server: SmtpSink, loopback_http: LoopbackHTTPServer
) -> None:
    replies = iter([Reply(503, "busy"), Reply(200, "{}")])

    def hook(request: Request) -> Reply:
        return next(replies)

    loopback_http.route("POST", HOOK, hook)
    config = smtp_config(tmp_path, smtp_server, refund=_refund(loopback_http, email=None))
    url = config.store.url
    first_id, second_id = stored(
        url, shipment(), shipment("SBNM00000002", buyer_email="b@x.example")
    )
    queue(url, first_id, "refund_offer")
    clock = SimulatedClock(T0)
    async with _daemon(config, clock) as app:
        await dispatch_due(app)

        deferred = await dispatch_due(app)
        assert (deferred.retried, deferred.sent) == (1, 0)
        (row,) = [n for n in notices(url) if n.kind == "seller_refund_offer"]
        assert (row.state, row.attempts) == ("pending", 1)
        assert row.last_error is not None
        assert "HTTP 503" in row.last_error
        assert row.not_before > T0
        # Seller retries ignore the buyer's quiet hours: due within the backoff cap.
        assert row.not_before - T0 <= timedelta(hours=6)

        clock.advance(row.not_before - T0)
        assert (await dispatch_due(app)).sent == 1
        assert len(loopback_http.requests) == 2
        assert (
            loopback_http.requests[0].headers["idempotency-key"]
            == (loopback_http.requests[1].headers["idempotency-key"])
        )

        loopback_http.route("POST", HOOK, lambda request: Reply(410, "gone"))
        queue(url, second_id, "refund_offer")
        await dispatch_due(app)
        failed = await dispatch_due(app)
        assert failed.failed == 1
        last = notices(url)[-1]
        assert (last.kind, last.state) == ("seller_refund_offer", "failed")
        assert last.last_error is not None
        assert "HTTP 410" in last.last_error


async def test_no_seller_channel_means_no_seller_rows_and_other_kinds_never_notify(
    tmp_path: Path, smtp_server: SmtpSink
) -> None:
    config = smtp_config(tmp_path, smtp_server)
    url = config.store.url
    first_id, second_id = stored(url, shipment(), shipment("SBNM00000002"))
    queue(url, first_id, "refund_offer")
    with_seller = smtp_config(tmp_path, smtp_server, refund=_refund(None))
    queue(url, second_id, "delayed", {**base_payload(), "reason": "stalled"})
    clock = SimulatedClock(T0)
    async with _daemon(config, clock) as app:
        await dispatch_due(app)
    async with _daemon(with_seller, clock) as app:
        await dispatch_due(app)
    assert [(n.kind, n.state) for n in notices(url)] == [
        ("refund_offer", "sent"),
        ("delayed", "sent"),
    ]
    assert not _seller_mail(smtp_server)


async def test_seller_still_told_when_buyer_opts_out_after_the_offer(
    tmp_path: Path, smtp_server: SmtpSink
) -> None:
    config = smtp_config(tmp_path, smtp_server, refund=_refund(None))
    url = config.store.url
    (shipment_id,) = stored(url, shipment())
    queue(url, shipment_id, "refund_offer")
    clock = SimulatedClock(T0)
    async with _daemon(config, clock) as app:
        await dispatch_due(app)
        result = CliRunner().invoke(main, ["opt-out", "SBNM00000001", "--store", url])
        assert result.exit_code == 0, result.output
        await dispatch_due(app)
    assert len(_seller_mail(smtp_server)) == 1


async def test_show_lists_the_choices_offered(tmp_path: Path, smtp_server: SmtpSink) -> None:
    config = smtp_config(tmp_path, smtp_server)
    url = config.store.url
    (shipment_id,) = stored(url, shipment())
    queue(url, shipment_id, "refund_offer")
    async with _daemon(config, SimulatedClock(T0)) as app:
        await dispatch_due(app)
    result = CliRunner().invoke(main, ["show", "SBNM00000001", "--store", url])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert (
        "refund offered 2026-03-02 12:00 UTC; choices offered: resend, refund, keep_waiting" in flat
    )
