"""Shop fixtures: an app configured with every shop kind, its webhook routes served on loopback,
fake Shopify / WooCommerce / PayPal APIs (tests.shops.fakes) and signing helpers."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from sqlalchemy import func, select, update

from shops.receive import ShopWebhooks
from tests.shops.fakes import FakePayPal, FakeShopify, FakeWooCommerce
from tracker.clock import SimulatedClock
from tracker.config import load_config
from tracker.jobs.record import record_now
from tracker.model import Classification, RawEvent, Status, TrackedEvent, TrackingResult
from tracker.runtime.app import TrackerApp, build_app
from tracker.store.models import Shipment
from tracker.store.record import Observation

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SHOPIFY_SECRET = "shopify-app-secret"
WOO_SECRET = "woo-webhook-secret"
SCRIPT_SECRET = "script-secret"
ENV = {
    "TEST_SHOPIFY_TOKEN": "shpat_test_token",
    "TEST_SHOPIFY_SECRET": SHOPIFY_SECRET,
    "TEST_WOO_KEY": "ck_test",
    "TEST_WOO_SECRET": "cs_test",
    "TEST_WOO_HOOK": WOO_SECRET,
    "TEST_PAYPAL_ID": "paypal-client",
    "TEST_PAYPAL_SECRET": "paypal-secret",
    "TEST_SCRIPT_SECRET": SCRIPT_SECRET,
    "TEST_USPS_ID": "usps-client",
    "TEST_USPS_SECRET": "usps-secret",
}


def b64_sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def write_config(tmp_path: Path, shopify: str, woo: str, paypal: str, *, paypal_api: str) -> Path:
    text = f"""
[store]
url = "sqlite:///{tmp_path / "tracker.sqlite3"}"
[daemon]
heartbeat_every = "1h"
[mail]
maildir = "{tmp_path / "mail"}"
[quiet_hours]
enabled = false
[carriers.usps]
client_id_env = "TEST_USPS_ID"
client_secret_env = "TEST_USPS_SECRET"

[shops.main_store]
adapter = "shopify"
base_url = "{shopify}"
access_token_env = "TEST_SHOPIFY_TOKEN"
webhook_secret_env = "TEST_SHOPIFY_SECRET"
origin_country = "CN"
retry_backoff = "10m"
max_attempts = 5

[shops.woo]
adapter = "woocommerce"
base_url = "{woo}"
consumer_key_env = "TEST_WOO_KEY"
consumer_secret_env = "TEST_WOO_SECRET"
webhook_secret_env = "TEST_WOO_HOOK"
delivered_status = "completed"
paypal = "paypal"

[shops.paypal]
base_url = "{paypal}"
client_id_env = "TEST_PAYPAL_ID"
client_secret_env = "TEST_PAYPAL_SECRET"
options = {{ api = "{paypal_api}" }}

[shops.script]
adapter = "webhook"
webhook_secret_env = "TEST_SCRIPT_SECRET"
"""
    path = tmp_path / "tracker.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def fake_shopify() -> Iterator[FakeShopify]:
    with FakeShopify(ENV["TEST_SHOPIFY_TOKEN"]) as fake:
        yield fake


@pytest.fixture
def fake_woo() -> Iterator[FakeWooCommerce]:
    with FakeWooCommerce(ENV["TEST_WOO_KEY"], ENV["TEST_WOO_SECRET"]) as fake:
        yield fake


@pytest.fixture
def fake_paypal() -> Iterator[FakePayPal]:
    with FakePayPal(ENV["TEST_PAYPAL_ID"], ENV["TEST_PAYPAL_SECRET"]) as fake:
        yield fake


@pytest.fixture
def paypal_api() -> str:
    return "orders_v2"


@pytest.fixture
async def app(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_shopify: FakeShopify,
    fake_woo: FakeWooCommerce,
    fake_paypal: FakePayPal,
    paypal_api: str,
) -> AsyncIterator[TrackerApp]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    path = write_config(
        tmp_path, fake_shopify.url, fake_woo.url, fake_paypal.url, paypal_api=paypal_api
    )
    built = build_app(load_config(path), SimulatedClock(START))
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def hooks(app: TrackerApp) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the shop webhook routes, served on 127.0.0.1."""
    web_app = web.Application()
    web_app.add_routes(ShopWebhooks(app).routes())
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
            yield client
    finally:
        await runner.cleanup()


def count(app: TrackerApp, model: type, *where: object) -> int:
    with app.store() as session:
        query = select(func.count()).select_from(model)
        for condition in where:
            query = query.where(condition)  # type: ignore[arg-type]
        return int(session.scalar(query) or 0)


def shipment(app: TrackerApp, number: str) -> Shipment:
    with app.store() as session:
        row = session.scalars(select(Shipment).where(Shipment.tracking_number == number)).one()
        session.expunge(row)
        return row


def record_status(
    app: TrackerApp,
    number: str,
    status: Status,
    *,
    text: str = "Objeto em trânsito",
    place: str | None = "CURITIBA - PR",
    at: datetime | None = None,
) -> None:
    """Record a carrier event for ``number`` the way a poll does (lease, record, release)."""
    now = app.clock.now()
    row = shipment(app, number)
    owner = f"{app.owner}:test"
    with app.store.begin() as session:
        session.execute(
            update(Shipment)
            .where(Shipment.id == row.id)
            .values(lease_owner=owner, lease_until=now + timedelta(minutes=5))
        )
    raw = RawEvent(at or now, text, location=place, country="BR", carrier=row.carrier)
    tracked = [TrackedEvent(raw, Classification(status))]
    result = TrackingResult(number, (raw,))
    record_now(app, owner, now, [Observation(row.id, tracked, result)], polled=True)
