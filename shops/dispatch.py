"""Sending claimed shop pushes: grouped by target so PayPal can batch, each recorded on its own.

Called by the dispatch job with the ``shop:*`` rows it claimed. A push is marked sent in the
outbox right after the shop accepted it (the shop's id for what it created is kept as the row's
message id); a shop that is down or throttling gets the row back with exponential back-off
(``retry_backoff``, ``max_attempts`` of the target's table); a refusal fails the row for good.
Either way the row, its attempts and its last error are what ``tracker show`` prints.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shops.base import PushResult, ShopAdapter, ShopError, ShopSettings
from shops.payload import ShopPush
from shops.registry import default_registry
from tracker.config import ShopConfig, TrackerConfig, secret
from tracker.errors import ConfigError, NoticeError, PluginError
from tracker.eventlog import get_logger
from tracker.policy.retry import backoff
from tracker.runtime.app import TrackerApp
from tracker.store.outbox import ClaimedNotice, mark_failed, mark_retry, mark_sent

#: longest wait between two attempts of one push
RETRY_CAP = timedelta(hours=6)


@dataclass
class PushCounts:
    """What one dispatch run did with shop pushes."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


def shop_settings(name: str, entry: ShopConfig, default_timeout: timedelta) -> ShopSettings:
    """Resolve one shop table, reading its secrets from the environment."""
    where = f"shops.{name}"
    return ShopSettings(
        name=name,
        base_url=entry.base_url,
        api_version=entry.api_version,
        access_token=secret(entry.access_token_env, f"{where}.access_token_env"),
        webhook_secret=secret(entry.webhook_secret_env, f"{where}.webhook_secret_env"),
        client_id=secret(entry.client_id_env or entry.consumer_key_env, f"{where} client id/key"),
        client_secret=secret(
            entry.client_secret_env or entry.consumer_secret_env, f"{where} client secret"
        ),
        timeout_seconds=(entry.timeout or default_timeout).total_seconds(),
        delivered_status=entry.delivered_status,
        options=dict(entry.options),
    )


class ShopAdapters:
    """Adapter instances per shop table for one app; rebuilt when the table changes (reload),
    so a PayPal token stays cached between dispatch runs."""

    def __init__(self) -> None:
        self._built: dict[str, tuple[ShopConfig, ShopAdapter]] = {}

    def get(self, config: TrackerConfig, name: str) -> ShopAdapter:
        """The adapter for ``[shops.NAME]``; ConfigError/PluginError/ShopError when unusable."""
        entry = config.shops.get(name)
        if entry is None or not entry.enabled:
            raise ConfigError(f"shops.{name}: no such enabled shop table")
        built = self._built.get(name)
        if built is not None and built[0] is entry:
            return built[1]
        adapter_class = default_registry().load(entry.adapter or name)
        adapter = adapter_class(shop_settings(name, entry, config.daemon.http_timeout))
        self._built[name] = (entry, adapter)
        return adapter


_per_app: dict[int, ShopAdapters] = {}


def adapters_of(app: TrackerApp) -> ShopAdapters:
    """The app's shop adapters (created on first use, dropped with the app)."""
    key = id(app)
    if key not in _per_app:
        _per_app[key] = ShopAdapters()
        weakref.finalize(app, _per_app.pop, key, None)
    return _per_app[key]


async def send_shop_pushes(app: TrackerApp, rows: Sequence[ClaimedNotice]) -> PushCounts:
    """Send claimed ``shop:*`` rows and record each outcome in the outbox."""
    counts = PushCounts()
    groups: dict[str, list[tuple[ClaimedNotice, ShopPush]]] = defaultdict(list)
    for row in rows:
        try:
            push = ShopPush.from_json(row.payload)
        except NoticeError as exc:
            await _record(app, row, None, PushResult("failed", error=str(exc)), counts)
            continue
        groups[push.shop].append((row, push))
    for shop, items in groups.items():
        try:
            adapter = adapters_of(app).get(app.config, shop)
        except (ConfigError, PluginError, ShopError) as exc:
            # Fixable by ops without losing the push: retried with back-off like a shop outage.
            results = [PushResult("retry", error=str(exc)) for _ in items]
        else:
            results = await _send(app, adapter, shop, [push for _, push in items])
        for (row, push), result in zip(items, results, strict=True):
            await _record(app, row, push, result, counts)
    return counts


async def _send(
    app: TrackerApp, adapter: ShopAdapter, shop: str, pushes: list[ShopPush]
) -> list[PushResult]:
    """``adapter.send``; an error nobody foresaw (a bug, a reply shaped like nothing documented)
    fails these pushes with the reason instead of stopping the dispatch job."""
    try:
        return await adapter.send(app.http, pushes)
    except Exception as exc:  # isolation is the point: the rest of the batch still goes out
        get_logger(shop=shop).exception("shop.push_crashed", pushes=len(pushes))
        return [PushResult("failed", error=f"{type(exc).__name__}: {exc}") for _ in pushes]


async def _record(
    app: TrackerApp,
    row: ClaimedNotice,
    push: ShopPush | None,
    result: PushResult,
    counts: PushCounts,
) -> None:
    now = app.clock.now()
    log = get_logger(shipment_id=row.shipment_id, notice_id=row.id, kind=row.kind)
    if push is not None:
        log = log.bind(shop=push.shop, tracking_number=push.tracking_number, status=push.status)
    if result.outcome == "sent" and push is not None:
        subject = f"{push.action} {push.status}"
        reference = result.reference or row.idempotency_key
        if await app.in_store(
            mark_sent, app.store, row.id, app.owner, now, message_id=reference, subject=subject
        ):
            counts.sent += 1
            app.metrics.notice_handled(row.kind, "sent")
            log.info("shop.push_sent", reference=reference)
        return
    if result.outcome == "retry" and push is not None:
        retry_at = _retry_at(app.config, push.shop, row, result, now)
        if retry_at is not None:
            await app.in_store(
                mark_retry, app.store, row.id, app.owner, now, error=result.error, retry_at=retry_at
            )
            counts.retried += 1
            app.metrics.notice_handled(row.kind, "deferred")
            log.warning("shop.push_deferred", error=result.error, retry_at=retry_at.isoformat())
            return
        result = PushResult(
            "failed", error=f"gave up after {row.attempts + 1} attempts: {result.error}"
        )
    await app.in_store(mark_failed, app.store, row.id, app.owner, now, error=result.error)
    counts.failed += 1
    app.metrics.notice_handled(row.kind, "failed")
    log.error("shop.push_failed", error=result.error)


def _retry_at(
    config: TrackerConfig, shop: str, row: ClaimedNotice, result: PushResult, now: datetime
) -> datetime | None:
    """When to try again, or None once the attempts are used up."""
    entry = config.shops.get(shop) or ShopConfig()
    if row.attempts + 1 >= entry.max_attempts:
        return None
    delay = backoff(row.attempts + 1, row.idempotency_key, base=entry.retry_backoff, cap=RETRY_CAP)
    if result.retry_after is not None:
        delay = max(delay, timedelta(seconds=result.retry_after))
    return now + delay
