"""The demo: the real daemon against the sandbox carrier over loopback HTTP, in simulated time.

A few dozen shipments follow scripted journeys (normal, slow, customs hold, failed delivery then
pickup, lost, returned, ...); the daemon polls, classifies, decides and emails into a Maildir,
60 simulated days in well under a minute. A quarter of the orders come from a simulated Shopify
store (``shops.sandbox``) through its signed webhook, and every status change of those goes back
to the store as a fulfillment event, counted in the summary.
"""

from __future__ import annotations

import asyncio
import mailbox
import os
import secrets
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from carriers.sandbox.journeys import load_journeys, sandbox_number
from carriers.sandbox.service import SandboxService
from shops.sandbox import SandboxShop
from tracker.clock import SimulatedClock
from tracker.config import (
    CarrierConfig,
    MailConfig,
    ShopConfig,
    StoreConfig,
    TrackerConfig,
    WebhooksConfig,
)
from tracker.runtime.app import TrackerApp, build_app
from tracker.runtime.daemon import Daemon
from tracker.store.models import Notice, Shipment
from tracker.store.shipments import NewShipment, add_shipments
from tracker.web.site import DaemonSite

DEMO_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
#: buyers who live where their parcel goes, so each email is in the language they read
BUYERS = {
    "US": (("Olivia Martin", "en"), ("James Carter", "en")),
    "GB": (("Amelia Hughes", "en"), ("Oliver Bennett", "en")),
    "RU": (("Ivan Petrov", "ru"), ("Anna Smirnova", "ru")),
    "BR": (("Ana Souza", "pt"), ("Rafael Lima", "pt")),
    "ES": (("Lucía García", "es"), ("Javier Ruiz", "es")),
    "FR": (("Camille Dubois", "fr"), ("Hugo Laurent", "fr")),
    "DE": (("Jonas Weber", "de"), ("Lena Fischer", "de")),
    "IT": (("Giulia Rossi", "it"), ("Marco Bianchi", "it")),
    "PL": (("Zofia Nowak", "pl"), ("Jakub Kowalski", "pl")),
}
FALLBACK_BUYERS = (("Sam Taylor", "en"), ("Alex Morgan", "en"))
#: the simulated store's table and the variables holding its (random, per run) secrets
DEMO_SHOP = "demo_shop"
DEMO_SHOP_TOKEN_ENV = "TRACKER_DEMO_SHOP_TOKEN"  # noqa: S105 (a variable name)
DEMO_SHOP_SECRET_ENV = "TRACKER_DEMO_SHOP_SECRET"  # noqa: S105 (a variable name)


@dataclass(frozen=True)
class DemoResult:
    """What the demo did, for the summary table and tests."""

    directory: Path
    maildir: Path
    shipments_by_status: dict[str, int]
    emails_by_kind: dict[str, int]
    emails_in_maildir: int
    simulated_days: int
    sample_number: str
    #: orders that came in through the simulated store's webhook
    shop_orders: int = 0
    #: fulfillment events the simulated store received back, by status
    shop_events: dict[str, int] = field(default_factory=dict)


def _reset(directory: Path) -> None:
    """Start from an empty database and mailbox so the summary counts only this run."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in ("tracker.sqlite3", "tracker.sqlite3-wal", "tracker.sqlite3-shm"):
        (directory / stale).unlink(missing_ok=True)
    shutil.rmtree(directory / "mail", ignore_errors=True)


def demo_config(directory: Path, base_url: str, shop_url: str | None = None) -> TrackerConfig:
    """Embedded defaults: SQLite and a Maildir inside ``directory``, the sandbox carrier and,
    with ``shop_url``, the simulated store (its webhooks on a loopback port of its own)."""
    shops = {}
    if shop_url is not None:
        shops[DEMO_SHOP] = ShopConfig(
            adapter="shopify",
            base_url=shop_url,
            access_token_env=DEMO_SHOP_TOKEN_ENV,
            webhook_secret_env=DEMO_SHOP_SECRET_ENV,
        )
    return TrackerConfig(
        store=StoreConfig(url=f"sqlite:///{directory / 'tracker.sqlite3'}"),
        mail=MailConfig(transport="maildir", maildir=directory / "mail"),
        carriers={"sandbox": CarrierConfig(base_url=base_url, requests_per_second=10_000)},
        shops=shops,
        webhooks=WebhooksConfig(port=0 if shops else None),
    )


def demo_shipments(per_journey: int, start: datetime) -> list[tuple[NewShipment, str]]:
    """Shipments spread over every journey, each with a buyer; paired with the journey name."""
    items = []
    serial = 0
    for name, journey in sorted(load_journeys().items()):
        for copy in range(per_journey):
            serial += 1
            people = BUYERS.get(journey.destination, FALLBACK_BUYERS)
            buyer, language = people[copy % len(people)]
            number = sandbox_number(journey, serial)
            items.append(
                (
                    NewShipment(
                        tracking_number=number,
                        carrier="sandbox",
                        buyer_email=f"buyer{serial:03d}@example.com",
                        buyer_name=buyer,
                        buyer_language=language if copy % 2 == 0 else None,
                        destination_country=journey.destination,
                        origin_country=journey.origin,
                        order_reference=f"ORD-{1000 + serial}",
                        shipped_at=start,
                    ),
                    name,
                )
            )
    return items


async def run_demo(
    directory: Path,
    *,
    days: int = 60,
    per_journey: int = 4,
    step: timedelta = timedelta(hours=1),
    on_progress: Callable[[float], None] | None = None,
) -> DemoResult:
    """Run the whole demo into ``directory`` (created; an earlier demo there is replaced)."""
    _reset(directory)
    clock = SimulatedClock(DEMO_START)
    # Secrets only ever come from the environment: the demo makes up its own for this run.
    os.environ[DEMO_SHOP_TOKEN_ENV] = secrets.token_hex(16)
    os.environ[DEMO_SHOP_SECRET_ENV] = secrets.token_hex(16)
    store = SandboxShop(os.environ[DEMO_SHOP_TOKEN_ENV], os.environ[DEMO_SHOP_SECRET_ENV])
    async with SandboxService(clock=clock.now) as service, store:
        config = demo_config(directory, service.base_url, store.url)
        app = build_app(config, clock)
        try:
            items = demo_shipments(per_journey, clock.now())
            for shipment, journey in items:
                service.register(
                    shipment.tracking_number, journey, registered_at=shipment.shipped_at
                )
            from_shop = [s for i, (s, _) in enumerate(items) if i % per_journey == 0]
            add_shipments(app.store, [s for s, _ in items if s not in from_shop], clock.now())
            shop_orders = await _orders_from_store(app, store, from_shop)
            daemon = Daemon(app)
            end = DEMO_START + timedelta(days=days)
            while clock.now() < end:
                await daemon.step()
                clock.advance(step)
                if on_progress is not None:
                    on_progress((clock.now() - DEMO_START) / timedelta(days=1))
            await daemon.step()
            summary = _summarize(app.store, directory, config.mail.maildir, days)
            return replace(
                summary,
                sample_number=_pick_sample(items),
                shop_orders=shop_orders,
                shop_events=store.events_by_status(),
            )
        finally:
            await app.close()


async def _orders_from_store(app: TrackerApp, store: SandboxShop, orders: list[NewShipment]) -> int:
    """The store sends one signed fulfillment webhook per order to the daemon's web server;
    returns how many were tracked."""
    server = DaemonSite(app)
    await server.start()
    tracked = 0
    try:
        async with httpx.AsyncClient() as client:
            for index, order in enumerate(orders):
                reply = await store.fulfill(
                    client,
                    f"{server.url}/webhooks/shops/{DEMO_SHOP}",
                    order_id=5000 + index,
                    order_name=order.order_reference,
                    number=order.tracking_number,
                    carrier_label=order.carrier,
                    buyer=order.buyer_name,
                    email=order.buyer_email,
                    country=order.destination_country,
                    shipped_at=order.shipped_at,
                )
                reply.raise_for_status()
                tracked += sum(len(o.get("tracked", [])) for o in reply.json()["orders"])
    finally:
        await server.stop()
    return tracked


def _summarize(store: object, directory: Path, maildir: Path, days: int) -> DemoResult:
    from sqlalchemy.orm import Session, sessionmaker

    assert isinstance(store, sessionmaker)
    factory: sessionmaker[Session] = store
    with factory() as session:
        statuses = dict(
            session.execute(select(Shipment.status, func.count()).group_by(Shipment.status)).all()
        )
        kinds = dict(
            session.execute(
                select(Notice.kind, func.count())
                .where(Notice.state == "sent", Notice.kind.not_like("shop:%"))
                .group_by(Notice.kind)
            ).all()
        )
    box = mailbox.Maildir(maildir, create=False)
    return DemoResult(
        directory=directory,
        maildir=maildir,
        shipments_by_status=dict(Counter(statuses).most_common()),
        emails_by_kind=dict(Counter(kinds).most_common()),
        emails_in_maildir=len(box),
        simulated_days=days,
        sample_number="",
    )


def _pick_sample(items: list[tuple[NewShipment, str]]) -> str:
    """A shipment with an eventful journey to suggest to `tracker show`."""
    for shipment, journey in items:
        if journey == "customs_hold":
            return shipment.tracking_number
    return items[0][0].tracking_number


@dataclass(frozen=True)
class DemoSite:
    """Where the demo's pages are served, for the summary."""

    page_url: str
    ops_url: str
    ops_token: str


def _open_offer_shipment(factory: object, fallback: str) -> int | None:
    """A parcel whose buyer has an unanswered delay or refund offer (the sample otherwise)."""
    from sqlalchemy.orm import Session, sessionmaker

    assert isinstance(factory, sessionmaker)
    store: sessionmaker[Session] = factory
    with store() as session:
        offered = session.scalars(
            select(Notice.shipment_id)
            .join(Shipment, Shipment.id == Notice.shipment_id)
            .where(
                Notice.kind.in_(("refund_offer", "delayed")),
                Notice.state == "sent",
                Shipment.status != "delivered",
            )
            .order_by(Notice.id.desc())
            .limit(1)
        ).first()
        if offered is not None:
            return int(offered)
        return session.scalars(
            select(Shipment.id).where(Shipment.tracking_number == fallback)
        ).first()


async def serve_demo(result: DemoResult, port: int, on_ready: Callable[[DemoSite], None]) -> None:
    """Serve the demo's store on 127.0.0.1 (``port``, 0 for any) with the buyer's pages and the
    ops view, as of the demo's last simulated day, until cancelled (Ctrl-C).

    Links are signed with a key made for this run; the ops token is printed with the URL.
    """
    import os
    import secrets

    from tracker.config import WebConfig
    from tracker.web.links import LinkKeys, sign
    from tracker.web.site import DaemonSite

    os.environ["TRACKER_DEMO_WEB_KEYS"] = secrets.token_hex(32)
    token = secrets.token_urlsafe(18)
    os.environ["TRACKER_DEMO_OPS_TOKEN"] = token
    end = DEMO_START + timedelta(days=result.simulated_days)
    base = demo_config(result.directory, "http://127.0.0.1:9")
    web = WebConfig(
        port=port,
        link_keys_env="TRACKER_DEMO_WEB_KEYS",
        ops_token_env="TRACKER_DEMO_OPS_TOKEN",  # noqa: S106 - a variable's name, not a secret
    )
    app = build_app(base.model_copy(update={"web": web}), SimulatedClock(end))
    site = DaemonSite(app)
    try:
        await site.start()
        shipment_id = _open_offer_shipment(app.store, result.sample_number)
        keys = LinkKeys((os.environ["TRACKER_DEMO_WEB_KEYS"].encode(),))
        page = f"{site.url}/t/{sign(keys, 'page', shipment_id or 0, end)}"
        on_ready(DemoSite(page_url=page, ops_url=f"{site.url}/ops", ops_token=token))
        await asyncio.Event().wait()
    finally:
        await site.stop()
        await app.close()
