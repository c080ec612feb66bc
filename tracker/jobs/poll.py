"""The poll job: claim due shipments, ask each carrier in batches, classify, decide, store.

One carrier's failure never delays another's: carriers are polled concurrently, each behind its
own rate limiter, concurrency limit and circuit breaker.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tracker.errors import (
    CarrierAuthError,
    CarrierError,
    CarrierRateLimited,
    ParseError,
    PluginError,
)
from tracker.eventlog import get_logger, shipment_logger
from tracker.jobs.record import apply_decision, brings_news, quiet_poll_row
from tracker.model import Status, TrackedEvent, TrackingResult
from tracker.runtime.app import CarrierRuntime, TrackerApp
from tracker.runtime.resilience import backoff
from tracker.store.history import PendingWrites, load_histories
from tracker.store.models import Shipment
from tracker.store.shipments import (
    ClaimedShipment,
    claim_due_for_poll,
    known_fingerprints,
    leased_shipments,
    reschedule_quiet,
    still_leased,
    with_each_leased,
)

RETRY_BASE = timedelta(minutes=15)
RETRY_CAP = timedelta(hours=12)


@dataclass
class PollStats:
    """Counts from one poll run, for logs, metrics and the demo summary."""

    claimed: int = 0
    polled: int = 0
    failed: int = 0
    new_events: int = 0
    notices: int = 0
    by_carrier: dict[str, int] = field(default_factory=lambda: defaultdict(int))


async def poll_due(app: TrackerApp) -> PollStats:
    """One run of the poll job over at most one batch of due shipments."""
    now = app.clock.now()
    claimed = await app.in_store(
        claim_due_for_poll,
        app.store,
        now,
        app.owner,
        app.config.daemon.lease,
        app.config.daemon.batch_size,
    )
    stats = PollStats(claimed=len(claimed))
    groups: dict[str, list[ClaimedShipment]] = defaultdict(list)
    for item in claimed:
        groups[item.carrier].append(item)
    writer = _ReplyWriter(app)
    await asyncio.gather(
        *(_poll_carrier(app, name, items, stats, writer) for name, items in groups.items())
    )
    return stats


async def _poll_carrier(
    app: TrackerApp,
    name: str,
    items: list[ClaimedShipment],
    stats: PollStats,
    writer: _ReplyWriter,
) -> None:
    log = get_logger(carrier=name)
    try:
        runtime = app.carrier(name)
    except PluginError as exc:
        log.error("carrier.unavailable_plugin", error=str(exc), shipments=len(items))
        app.metrics.poll_failed_early(name, len(items), exc)
        await _record_failures(app, items, exc, retry_after=None)
        stats.failed += len(items)
        return
    if await _postponed(app, runtime, items):
        return
    size = runtime.batch_size
    batches = [items[i : i + size] for i in range(0, len(items), size)]
    gate = asyncio.Semaphore(max(1, runtime.adapter.max_concurrency))

    async def run(batch: list[ClaimedShipment]) -> None:
        # The gate bounds requests in flight; recording happens outside it, so the next
        # request goes out while this reply is being written.
        async with gate:
            # The breaker may have opened while this batch waited: a carrier that is down
            # costs a few timeouts, not one per remaining batch.
            if await _postponed(app, runtime, batch):
                return
            pairs = await _poll_batch(app, runtime, batch, stats)
        if pairs:
            recorded = await writer.record(pairs)
            stats.polled += recorded.polled
            stats.new_events += recorded.new_events
            stats.notices += recorded.notices
            stats.by_carrier[runtime.name] += recorded.polled

    await asyncio.gather(*(run(batch) for batch in batches))


Pairs = list[tuple[ClaimedShipment, TrackingResult]]


async def _postponed(
    app: TrackerApp, runtime: CarrierRuntime, items: Sequence[ClaimedShipment]
) -> bool:
    """Defer ``items`` to when the carrier's open circuit breaker lets a trial through."""
    now = app.clock.now()
    if runtime.breaker.allows(now):
        return False
    app.metrics.polls_postponed(runtime.name, len(items))
    await _defer(app, items, runtime.breaker.reopens_at() or now)
    return True


async def _poll_batch(
    app: TrackerApp, runtime: CarrierRuntime, batch: list[ClaimedShipment], stats: PollStats
) -> Pairs | None:
    """Ask the carrier about ``batch``; each shipment paired with its result, or None when the
    request failed (the failure is already recorded)."""
    adapter = runtime.adapter
    log = get_logger(carrier=runtime.name)
    numbers = [item.tracking_number for item in batch]
    await runtime.limiter.acquire()
    started = time.monotonic()
    try:
        try:
            reply = await adapter.fetch(app.http, numbers)
            results = adapter.parse(reply)
        except CarrierError:
            raise
        except Exception as exc:  # a plugin bug must fail this batch, not the whole poll job
            raise CarrierError(
                f"{runtime.name}: adapter failed unexpectedly: {type(exc).__name__}: {exc}",
                carrier=runtime.name,
            ) from exc
    except CarrierError as exc:
        app.metrics.poll_finished(runtime.name, len(batch), time.monotonic() - started, exc)
        now = app.clock.now()
        if runtime.breaker.record_failure(now):
            log.warning(
                "carrier.circuit_opened",
                failures=runtime.breaker.failures,
                cooldown_s=runtime.breaker.cooldown.total_seconds(),
                error=str(exc),
            )
        extra = {"body": exc.body.decode("utf-8", "replace")} if isinstance(exc, ParseError) else {}
        log.warning(
            "poll.failed", error=str(exc), error_type=type(exc).__name__, batch=len(batch), **extra
        )
        retry_after = exc.retry_after if isinstance(exc, CarrierRateLimited) else None
        await _record_failures(app, batch, exc, retry_after=retry_after)
        stats.failed += len(batch)
        return None
    app.metrics.poll_finished(runtime.name, len(batch), time.monotonic() - started, None)
    if runtime.breaker.record_success():
        log.info("carrier.circuit_closed")
    by_number = {r.tracking_number.upper(): r for r in results}
    return [
        (
            item,
            by_number.get(
                item.tracking_number.upper(), TrackingResult(item.tracking_number, not_found=True)
            ),
        )
        for item in batch
    ]


@dataclass
class _Recorded:
    polled: int = 0
    new_events: int = 0
    notices: int = 0

    def add(self, other: _Recorded) -> None:
        self.polled += other.polled
        self.new_events += other.new_events
        self.notices += other.notices


class _ReplyWriter:
    """Records carrier replies in the store. Replies that arrive while a transaction is being
    written wait and are then recorded together in one: fewer commits when replies come faster
    than the store takes them (many one-number requests), no wait when they do not."""

    def __init__(self, app: TrackerApp) -> None:
        self.app = app
        self.waiting: list[tuple[Pairs, asyncio.Future[_Recorded]]] = []
        self.draining: asyncio.Task[None] | None = None

    async def record(self, pairs: Pairs) -> _Recorded:
        future: asyncio.Future[_Recorded] = asyncio.get_running_loop().create_future()
        self.waiting.append((pairs, future))
        if self.draining is None:
            self.draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.waiting:
                group, self.waiting = self.waiting, []
                try:
                    outcomes = await self.app.in_store(
                        _store_batch, self.app, [pair for pairs, _ in group for pair in pairs]
                    )
                except asyncio.CancelledError:
                    for _, future in group:
                        future.cancel()
                    raise
                except Exception as exc:  # a bug outside the per-shipment fallback: tell them all
                    for _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for pairs, future in group:
                    recorded = _Recorded()
                    for item, _ in pairs:
                        recorded.add(outcomes.get(item.id, _Recorded()))
                    if not future.done():
                        future.set_result(recorded)
        finally:
            self.draining = None


def _classify(app: TrackerApp, result: TrackingResult) -> list[TrackedEvent]:
    return [TrackedEvent(raw, app.normalizer.classify(raw)) for raw in result.events]


def _store_batch(app: TrackerApp, pairs: Pairs) -> dict[int, _Recorded]:
    """Record carrier replies in one transaction; if anything in it fails, record each
    shipment on its own so one bad shipment cannot hold back the others. Returns what was
    recorded per shipment id (a shipment whose lease was lost, or whose write failed, is absent).
    """
    now = app.clock.now()
    tracked = {item.id: _classify(app, result) for item, result in pairs}
    try:
        return _store_together(app, pairs, tracked, now)
    except Exception:  # isolation is the point: any failure falls back to one-by-one
        get_logger().exception(
            "poll.batch_store_failed",
            size=len(pairs),
            carriers=sorted({item.carrier for item, _ in pairs}),
        )
    recorded: dict[int, _Recorded] = {}
    for item, result in pairs:
        try:
            recorded.update(_store_together(app, [(item, result)], tracked, now))
        except Exception:  # this shipment stays leased and is retried when the lease expires
            shipment_logger(item).exception("poll.store_failed")
    return recorded


def _store_together(
    app: TrackerApp, pairs: Pairs, tracked: dict[int, list[TrackedEvent]], now: datetime
) -> dict[int, _Recorded]:
    recorded: dict[int, _Recorded] = {}
    logs: list[tuple[ClaimedShipment, str, dict[str, Any]]] = []
    with app.store.begin() as session, session.no_autoflush:
        ids = [item.id for item, _ in pairs]
        held = still_leased(session, ids, app.owner)
        known = known_fingerprints(session, ids)
        quiet: list[dict[str, Any]] = []
        busy: list[tuple[ClaimedShipment, TrackingResult]] = []
        for item, result in pairs:
            if item.id not in held:
                logs.append((item, "poll.lease_lost", {}))
            elif brings_news(item, result, tracked[item.id], known[item.id]):
                busy.append((item, result))
            else:
                quiet.append(quiet_poll_row(item, now))
                logs.append(
                    (
                        item,
                        "poll.succeeded",
                        {"new_events": 0, "notices": 0, "not_found": result.not_found},
                    )
                )
        reschedule_quiet(session, quiet, app.owner, now)
        recorded.update((row["sid"], _Recorded(polled=1)) for row in quiet)
        shipments = {s.id: s for s in leased_shipments(session, [i.id for i, _ in busy], app.owner)}
        histories = load_histories(session, list(shipments))
        writes = PendingWrites()
        for item, result in busy:
            shipment, history, events = shipments[item.id], histories[item.id], tracked[item.id]
            outcome = apply_decision(app, session, shipment, events, result, now, history, writes)
            shipment.lease_owner = None
            shipment.lease_until = None
            recorded[item.id] = _Recorded(1, outcome.new_events, outcome.notices)
            logs.extend(
                (item, "event.unclassified", {"text": e.raw.text, "code": e.raw.code})
                for e in outcome.fresh
                if e.status is Status.UNKNOWN
            )
            logs.append(
                (
                    item,
                    "poll.succeeded",
                    {
                        "new_events": outcome.new_events,
                        "notices": outcome.notices,
                        "not_found": result.not_found,
                    },
                )
            )
        writes.flush(session)
    # Logged only once the transaction committed, so the log never claims what was rolled back.
    for item, event_name, fields in logs:
        log = shipment_logger(item)
        if event_name == "poll.succeeded":
            log.info(event_name, **fields)
        else:
            log.warning(event_name, **fields)
    return recorded


async def _record_failures(
    app: TrackerApp,
    items: Sequence[ClaimedShipment],
    error: Exception,
    *,
    retry_after: float | None,
) -> None:
    now = app.clock.now()

    def work(session: Session, shipment: Shipment) -> None:
        shipment.poll_failures += 1
        if retry_after is not None:
            delay = timedelta(seconds=retry_after)
        elif isinstance(error, CarrierAuthError | PluginError):
            delay = RETRY_CAP
        else:
            delay = backoff(
                shipment.poll_failures,
                f"{shipment.id}:{shipment.poll_failures}",
                base=RETRY_BASE,
                cap=RETRY_CAP,
            )
        shipment.next_poll_at = now + delay

    await app.in_store(with_each_leased, app.store, [i.id for i in items], app.owner, work)


async def _defer(app: TrackerApp, items: Sequence[ClaimedShipment], until: datetime) -> None:
    """Push polls past an open circuit breaker without counting them as failures."""

    def work(session: Session, shipment: Shipment) -> None:
        shipment.next_poll_at = until

    await app.in_store(with_each_leased, app.store, [i.id for i in items], app.owner, work)
