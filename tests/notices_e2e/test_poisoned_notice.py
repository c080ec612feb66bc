"""One bad notice fails alone (issue 13, item 3).

Notices that break in ways nobody foresaw (a mistyped ``default_language`` meeting a buyer whose
language it must fall back to, a stored payload a notice kind cannot use, a seller webhook URL
httpx cannot even parse) are marked ``failed`` with the reason recorded; the innocent notices
claimed in the same batch are sent, and nothing is left ``sending``.
"""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from tests.notices_e2e.conftest import T0, base_payload, notices, queue, shipment, smtp_config
from tests.notices_e2e.conftest import stored as store_shipments
from tests.support.smtp import SmtpSink
from tracker.clock import SimulatedClock
from tracker.jobs.dispatch import dispatch_due
from tracker.runtime.app import build_app

#: a webhook URL with a credential in it that httpx refuses to parse (an invalid port)
BROKEN_HOOK = "http://hook:s3cret-token@[::1/refund"


async def test_poisoned_notices_fail_alone_and_the_innocent_are_sent(
    tmp_path: Path, smtp_server: SmtpSink
) -> None:
    config = smtp_config(tmp_path, smtp_server)
    config = config.model_copy(
        update={
            "seller": config.seller.model_copy(update={"default_language": "portugese"}),
            "refund": config.refund.model_copy(update={"notify_seller_webhook": BROKEN_HOOK}),
        }
    )
    url = config.store.url
    innocent = [f"innocent{n}@buyers.example" for n in range(3)]
    ids = store_shipments(
        url,
        shipment("SBNM00000000", buyer_email=innocent[0]),
        # no language of its own and a destination we have none for: the default decides
        shipment(
            "SBNM00000001",
            buyer_email="p1@buyers.example",
            buyer_language=None,
            destination_country="ZZ",
        ),
        shipment("SBNM00000002", buyer_email=innocent[1]),
        shipment("SBNM00000003", buyer_email="p3@buyers.example"),
        shipment("SBNM00000004", buyer_email="p4@buyers.example"),
        shipment("SBNM00000005", buyer_email=innocent[2]),
    )
    queue(url, ids[0], "shipped")
    queue(url, ids[1], "shipped")
    queue(url, ids[2], "shipped")
    queue(url, ids[3], "delayed", base_payload() | {"reason": None})  # delayed, but why?
    webhook_copy = base_payload() | {"channel": "webhook", "event": "refund_offer"}
    queue(url, ids[4], "seller_refund_offer", webhook_copy)
    queue(url, ids[5], "shipped")

    app = build_app(config, SimulatedClock(T0))
    try:
        with capture_logs() as logs:
            stats = await dispatch_due(app)
        again = await dispatch_due(app)
    finally:
        await app.close()

    assert (stats.claimed, stats.sent, stats.failed) == (6, 3, 3)
    assert sorted(r.rcpt_tos[0] for r in smtp_server.messages) == innocent
    rows = {n.shipment_id: n for n in notices(url)}
    assert [rows[i].state for i in ids] == ["sent", "failed", "sent", "failed", "failed", "sent"]
    errors = [rows[i].last_error or "" for i in (ids[1], ids[3], ids[4])]
    assert all(e.startswith("unexpected error: ") for e in errors), errors
    assert "default_language 'portugese'" in errors[0]
    assert "a delayed notice needs one of" in errors[1]
    assert "InvalidURL" in errors[2]
    assert all(rows[i].last_error is None for i in (ids[0], ids[2], ids[5]))
    failed = [e for e in logs if e["event"] == "notice.failed"]
    assert sorted(e["notice_id"] for e in failed) == sorted(
        rows[i].id for i in (ids[1], ids[3], ids[4])
    )
    assert all(e["exc_info"] for e in failed), "the traceback is logged for ops to read"
    assert not any("s3cret-token" in str(e) for e in failed)
    assert "s3cret-token" not in errors[2]
    assert again.claimed == 0, "a failed notice is not claimed again"
