"""Backfill for missed webhooks: read a shop's recently updated orders and ingest them.

Idempotent with the webhooks (the same reconciling, one transaction per order), so a sync after
a webhook, or two syncs in a row, store nothing twice. A page that cannot be fetched ends the
sync with what was stored so far kept; the audit log records each sync (``shop.synced`` or
``shop.sync_failed``) for ``tracker status``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from shops.base import ShopError
from shops.dispatch import adapters_of
from shops.ingest import OrderReport, ShopContext, record_orders
from shops.receive import known_carriers
from shops.store import audit
from tracker.errors import CarrierError, ConfigError, PluginError
from tracker.runtime.app import TrackerApp


@dataclass
class SyncReport:
    """What one sync of one shop did."""

    shop: str
    since: datetime
    orders: list[OrderReport] = field(default_factory=list)
    error: str | None = None

    @property
    def failed(self) -> list[OrderReport]:
        """Orders that could not be tracked."""
        return [r for r in self.orders if r.error]

    @property
    def tracked(self) -> int:
        """Numbers newly tracked."""
        return sum(len(r.tracked) for r in self.orders)


def _record_sync(factory: sessionmaker[Session], report: SyncReport, now: datetime) -> None:
    with factory.begin() as session:
        audit(
            session,
            None,
            now,
            "shop.sync_failed" if report.error else "shop.synced",
            shop=report.shop,
            since=report.since.isoformat(),
            orders=len(report.orders),
            tracked=report.tracked,
            failed=[r.reference for r in report.failed],
            error=report.error,
        )


async def sync_shop(
    app: TrackerApp,
    name: str,
    since: datetime,
    progress: Callable[[int], None] = lambda _count: None,
) -> SyncReport:
    """Fetch and ingest ``name``'s orders updated since ``since``; ``progress`` gets the size of
    each page stored."""
    report = SyncReport(name, since)
    try:
        adapter = adapters_of(app).get(app.config, name)
        async for page in adapter.fetch_orders(app.http, since):
            ctx = ShopContext(name, app.config, known_carriers(app), app.clock.now())
            report.orders += await app.in_store(record_orders, app.store, ctx, page)
            progress(len(page))
    except (CarrierError, ShopError, ConfigError, PluginError) as exc:
        report.error = str(exc)
    await app.in_store(_record_sync, app.store, report, app.clock.now())
    return report
