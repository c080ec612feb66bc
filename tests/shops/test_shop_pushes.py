"""Status back to the shops through the outbox, against fake Shopify, WooCommerce and PayPal
servers on loopback: each push is queued with the status change, sent once, retried with
back-off while the shop is down, and PayPal's token is renewed when it expires mid-batch."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from carriers.detect import s10
from shops.ingest import ShopContext, record_orders
from shops.receive import known_carriers
from shops.woocommerce import order_from_rest
from tests.shops.conftest import count, record_status, shipment
from tests.shops.fakes import FakePayPal, FakeShopify, FakeWooCommerce
from tracker.jobs.dispatch import dispatch_due
from tracker.model import Status
from tracker.runtime.app import TrackerApp
from tracker.store.models import AuditEntry, Notice

#: every test here talks to real loopback servers (the fake shop APIs, the webhook routes)
pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).with_name("fixtures")
FULFILLMENT = json.loads((FIXTURES / "shopify_fulfillment.json").read_text())
WOO_ORDER = json.loads((FIXTURES / "woocommerce_order.json").read_text())


def ingest_fulfillment(app: TrackerApp, payload: dict[str, Any]) -> None:
    """Record a Shopify fulfillment as its webhook would."""
    from shops.shopify import order_of_fulfillment

    order = order_of_fulfillment(payload, "test")
    ctx = ShopContext("main_store", app.config, known_carriers(app), app.clock.now())
    (report,) = record_orders(app.store, ctx, [order])
    assert report.error is None, report.error


def ingest_woo(app: TrackerApp, data: dict[str, Any]) -> None:
    ctx = ShopContext("woo", app.config, known_carriers(app), app.clock.now())
    (report,) = record_orders(app.store, ctx, [order_from_rest(data, "test")])
    assert report.error is None, report.error


def pushes(app: TrackerApp, kind: str | None = None) -> list[Notice]:
    with app.store() as session:
        query = select(Notice).where(Notice.kind.startswith("shop:")).order_by(Notice.id)
        if kind is not None:
            query = query.where(Notice.kind == kind)
        return list(session.scalars(query))


async def test_status_change_sends_one_fulfillment_event(
    app: TrackerApp, fake_shopify: FakeShopify
) -> None:
    ingest_fulfillment(app, FULFILLMENT)
    record_status(app, "RB123456785BR", Status.IN_TRANSIT, place="CURITIBA - PR")
    (queued,) = pushes(app)
    assert (queued.kind, queued.state) == ("shop:fulfillment_event", "pending")
    assert (await dispatch_due(app)).failed == 0
    (event,) = fake_shopify.events
    assert event["fulfillmentId"] == "gid://shopify/Fulfillment/4455667788"
    assert (event["status"], event["city"], event["country"]) == (
        "IN_TRANSIT",
        "CURITIBA - PR",
        "BR",
    )
    assert event["happenedAt"] == app.clock.now().isoformat()
    (sent,) = pushes(app)
    assert (sent.state, sent.message_id) == ("sent", "gid://shopify/FulfillmentEvent/1")
    # Nothing twice: the same status recorded again and another dispatch send nothing more.
    record_status(app, "RB123456785BR", Status.IN_TRANSIT, text="Objeto em trânsito (2)")
    await dispatch_due(app)
    assert len(fake_shopify.events) == 1


async def test_shop_down_is_retried_with_backoff_nothing_lost_nothing_twice(
    app: TrackerApp, fake_shopify: FakeShopify
) -> None:
    ingest_fulfillment(app, FULFILLMENT)
    record_status(app, "RB123456785BR", Status.OUT_FOR_DELIVERY)
    fake_shopify.down_for = 2
    assert (await dispatch_due(app)).retried == 1
    (row,) = pushes(app)
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.last_error is not None
    assert "HTTP 503" in row.last_error
    assert row.not_before > app.clock.now()  # backed off, not hammered
    assert (await dispatch_due(app)).claimed == 0
    app.clock.advance(timedelta(minutes=15))  # type: ignore[attr-defined]
    assert (await dispatch_due(app)).retried == 1
    app.clock.advance(timedelta(minutes=30))  # type: ignore[attr-defined]
    await dispatch_due(app)
    assert pushes(app)[0].state == "sent"
    app.clock.advance(timedelta(hours=6))  # type: ignore[attr-defined]
    assert (await dispatch_due(app)).claimed == 0
    assert fake_shopify.down_answers == 2
    assert [e["status"] for e in fake_shopify.events] == ["OUT_FOR_DELIVERY"]
    (row,) = pushes(app)
    assert (row.state, row.attempts) == ("sent", 3)
    with app.store() as session:
        rows = session.execute(
            select(AuditEntry.kind, AuditEntry.data)
            .where(AuditEntry.shipment_id == row.shipment_id)
            .order_by(AuditEntry.id)
        ).all()
    kinds = [k for k, data in rows if (data.get("kind") or data.get("notice_kind")) == row.kind]
    assert kinds == [
        "notice.queued",
        "notice.retry_scheduled",
        "notice.retry_scheduled",
        "notice.sent",
    ]


async def test_delivered_is_pushed_once_every_number_of_the_fulfillment_is_delivered(
    app: TrackerApp, fake_shopify: FakeShopify
) -> None:
    ingest_fulfillment(app, FULFILLMENT)
    record_status(app, "RB123456785BR", Status.DELIVERED, text="Objeto entregue")
    assert pushes(app) == []
    record_status(app, "RB987654326BR", Status.DELIVERED, text="Objeto entregue")
    await dispatch_due(app)
    assert [(e["status"], e["fulfillmentId"]) for e in fake_shopify.events] == [
        ("DELIVERED", "gid://shopify/Fulfillment/4455667788")
    ]


async def test_woocommerce_completed_and_paypal_tracked_then_delivered_once(
    app: TrackerApp, fake_woo: FakeWooCommerce, fake_paypal: FakePayPal
) -> None:
    fake_woo.add_order(WOO_ORDER)
    fake_paypal.expect_order("5O190127TN364715T")
    ingest_woo(app, WOO_ORDER)
    await dispatch_due(app)
    tracker = fake_paypal.trackers["8MC585209K746392H-9400111899223334445561"]
    assert (tracker["carrier"], tracker["notify_payer"]) == ("USPS", False)
    number = "9400111899223334445561"
    record_status(app, number, Status.IN_TRANSIT, text="In transit", place="CHICAGO IL")
    assert pushes(app, "shop:order_status") == []
    record_status(app, number, Status.DELIVERED, text="Delivered", place="PARIS")
    await dispatch_due(app)
    assert fake_woo.updates == [("727", {"status": "completed"})]
    assert tracker["updates"] == ["DELIVERED"]
    record_status(app, number, Status.DELIVERED, text="Delivered, in mailbox", place="PARIS")
    await dispatch_due(app)
    assert fake_woo.updates == [("727", {"status": "completed"})]
    assert tracker["updates"] == ["DELIVERED"]
    assert fake_paypal.tokens_issued == ["A21AA-token-1"]  # cached across dispatch runs


def woo_paypal_order(index: int) -> dict[str, Any]:
    serial = f"{10000000 + index:08d}"
    number = f"RB{serial}{s10(serial)}BR"
    tracking = {
        "tracking_provider": "Correios",
        "tracking_number": number,
        "date_shipped": "1795608000",
    }
    return {
        **WOO_ORDER,
        "id": 900 + index,
        "number": str(900 + index),
        "transaction_id": f"TX{index:04d}ABCDEF",
        "meta_data": [{"id": 1, "key": "_wc_shipment_tracking_items", "value": [tracking]}],
    }


@pytest.mark.parametrize("paypal_api", ["trackers_batch"])
async def test_paypal_token_expiry_mid_batch_renews_once_and_loses_nothing(
    app: TrackerApp, fake_paypal: FakePayPal
) -> None:
    for index in range(25):
        ingest_woo(app, woo_paypal_order(index))
    fake_paypal.expire_token_after_batches = 1
    stats = await dispatch_due(app)
    assert (stats.retried, stats.failed) == (0, 0)
    assert fake_paypal.batch_calls == 2  # 20 + 5: PayPal takes at most 20 per call
    assert fake_paypal.refused_with_401 == 1
    assert fake_paypal.tokens_issued == ["A21AA-token-1", "A21AA-token-2"]
    assert len(fake_paypal.trackers) == 25
    assert {t["carrier"] for t in fake_paypal.trackers.values()} == {"BRA_CORREIOS"}
    assert {n.state for n in pushes(app)} == {"sent"}
    assert (await dispatch_due(app)).claimed == 0
    assert fake_paypal.batch_calls == 2
    assert count(app, Notice) == 25
    assert shipment(app, woo_paypal_order(3)["meta_data"][0]["value"][0]["tracking_number"])
