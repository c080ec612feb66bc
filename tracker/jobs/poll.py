"""The poll job: claim due shipments, ask each carrier in batches, classify, decide, store.

One carrier's failure never delays another's: carriers are polled concurrently, each behind its
own rate limiter, concurrency limit and circuit breaker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy.orm import Session
from structlog.typing import FilteringBoundLogger

from carriers.base import CarrierAdapter, CarrierReply, ParcelInfo, ReplyPart
from tracker.errors import (
    CarrierAuthError,
    CarrierError,
    CarrierRateLimited,
    ParseError,
    PluginError,
)
from tracker.eventlog import get_logger
from tracker.jobs.record import assessor, classify, follow_changes, record_isolated
from tracker.model import Status, TrackedEvent, TrackingResult
from tracker.policy.retry import backoff
from tracker.runtime.app import CarrierRuntime, TrackerApp
from tracker.store.models import Shipment
from tracker.store.record import Observation, Recorded, record_polls
from tracker.store.replies import parser_identity, part_digester, reply_digester
from tracker.store.shipments import ClaimedShipment, claim_due_for_poll, with_each_leased

RETRY_BASE = timedelta(minutes=15)
RETRY_CAP = timedelta(hours=12)
#: a 429 that names no wait backs off from here, with jitter, up to RATE_LIMIT_CAP; one that
#: names a longer wait is capped there too (a carrier's "retry in 3 years" is not obeyed)
RATE_LIMIT_BASE = timedelta(minutes=1)
RATE_LIMIT_CAP = RETRY_CAP
_POLL_LOG = get_logger()


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


class _Reading(NamedTuple):
    """One shipment's part of a carrier reply, as the store will record it (a named tuple: one
    per polled shipment, built for a fifth of a frozen dataclass's cost)."""

    item: ClaimedShipment
    #: None when the part matched the stored digest: nothing was parsed (tracker.store.replies)
    result: TrackingResult | None
    tracked: list[TrackedEvent]
    part: bytes | None = None


Pairs = list[_Reading]


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
    await runtime.limiter.acquire()
    started = time.monotonic()
    numbers: list[str] | None = None
    parcels: list[ParcelInfo] = []
    if _asks_by_number(adapter):
        numbers = [i.tracking_number for i in batch]
    else:
        parcels = [
            ParcelInfo(
                i.tracking_number,
                i.carrier,
                i.order_reference,
                i.destination_country,
                i.origin_country,
            )
            for i in batch
        ]
    try:
        try:
            if numbers is not None:
                reply = await adapter.fetch(app.http, numbers)
            else:
                reply = await adapter.fetch_parcels(app.http, parcels)
            pairs = _read(app, runtime, reply, batch)
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
        retry_after = _carrier_said_wait(app, runtime, exc, now)
        await _record_failures(app, batch, exc, retry_after=retry_after)
        stats.failed += len(batch)
        return None
    app.metrics.poll_finished(runtime.name, len(batch), time.monotonic() - started, None)
    had_rejected = runtime.breaker.credentials_rejected is not None
    if runtime.breaker.record_success():
        log.info("carrier.circuit_closed")
    if had_rejected:
        log.info("carrier.credentials_accepted")
    return pairs


def _asks_by_number(adapter: CarrierAdapter) -> bool:
    """Whether ``adapter`` asks with the numbers alone: its ``fetch_parcels`` is the base
    class's, which hands the numbers to ``fetch``; no ParcelInfo is built for it then."""
    return getattr(adapter.fetch_parcels, "__func__", None) is CarrierAdapter.fetch_parcels


def _read(
    app: TrackerApp, runtime: CarrierRuntime, reply: CarrierReply, batch: list[ClaimedShipment]
) -> Pairs:
    """Each shipment of ``batch`` with its part of ``reply``: a part whose digest matches the
    shipment's stored one is not parsed; every other part is parsed (a bad one fails the batch,
    as parsing the whole reply would) and its events classified."""
    parts = runtime.adapter.reply_parts(reply)
    by_number = {part.tracking_number.upper(): part for part in parts}
    digest_of = part_digester(runtime.name, parser_identity(type(runtime.adapter)))
    stored_digest = reply_digester()
    matched: list[tuple[ClaimedShipment, ReplyPart | None, bytes | None]] = []
    skipped: set[int] = set()
    unchanged = 0
    for item in batch:
        part = by_number.get(item.tracking_number.upper())
        if part is None or part.source is None:
            matched.append((item, part, None))
            continue
        part_hash = digest_of(part.source)
        # Unchanged: the stored digest is this part's, bound to the stored estimate
        # (tracker.store.replies).
        if (
            item.reply_digest is not None
            and item.last_polled_at is not None
            and stored_digest(part_hash, item.expected_delivery) == item.reply_digest
        ):
            skipped.add(id(part))
            unchanged += 1
        matched.append((item, part, part_hash))
    if unchanged == len(batch) and len(skipped) == len(parts):
        # The steady state: every shipment's part unchanged, no other part to parse.
        return [_Reading(item, None, [], digest) for item, _, digest in matched]
    results = {id(part): part.parse() for part in parts if id(part) not in skipped}
    pairs: Pairs = []
    for item, part, digest in matched:
        if part is not None and id(part) in skipped:
            pairs.append(_Reading(item, None, [], digest))
            continue
        result = _result_of(item, part, results)
        # Classified here, in the event loop, so the store's writer thread only writes.
        tracked = classify(app, result)
        pairs.append(_Reading(item, result, tracked, digest))
    return pairs


def _result_of(
    item: ClaimedShipment, part: ReplyPart | None, results: dict[int, TrackingResult]
) -> TrackingResult:
    if part is None:  # the carrier did not mention the number
        return TrackingResult(item.tracking_number, not_found=True)
    return results[id(part)]


def _carrier_said_wait(
    app: TrackerApp, runtime: CarrierRuntime, error: CarrierError, now: datetime
) -> float | None:
    """Seconds to wait before asking again when the carrier said so (capped); also holds the
    carrier's other batches for that long and records rejected credentials for ``status``."""
    if isinstance(error, CarrierAuthError):
        runtime.breaker.credentials_rejected = _credentials_problem(app, runtime.name, error)
        get_logger(carrier=runtime.name).error(
            "carrier.credentials_rejected", problem=runtime.breaker.credentials_rejected
        )
        return None
    if not isinstance(error, CarrierRateLimited) or error.retry_after is None:
        return None
    # capped before it becomes a timedelta: 10**40 seconds would overflow one
    wait = timedelta(seconds=min(max(0.0, error.retry_after), RATE_LIMIT_CAP.total_seconds()))
    runtime.breaker.hold(now + wait)
    return wait.total_seconds()


def _credentials_problem(app: TrackerApp, name: str, error: CarrierAuthError) -> str:
    """The rejection, with the environment variables ops should check."""
    entry = app.config.carriers.get(name)
    keys = [
        f"{env} (carriers.{name}.{key})"
        for key in ("api_key_env", "client_id_env", "client_secret_env")
        if entry is not None and (env := getattr(entry, key))
    ]
    where = " or ".join(keys) if keys else f"the credentials of [carriers.{name}]"
    return f"{error}; check {where}"


@dataclass
class _Recorded:
    polled: int = 0
    new_events: int = 0
    notices: int = 0


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
                    for reading in pairs:
                        outcome = outcomes.get(reading.item.id)
                        if outcome is not None:
                            recorded.polled += 1
                            recorded.new_events += outcome.new_events
                            recorded.notices += outcome.notices
                    if not future.done():
                        future.set_result(recorded)
        finally:
            self.draining = None


def _store_batch(app: TrackerApp, pairs: Pairs) -> dict[int, Recorded]:
    """Record carrier replies (already classified) in one store call; see ``record_isolated``.
    Returns what was recorded per shipment id (a shipment whose lease was lost, or whose write
    failed, is absent)."""
    now = app.clock.now()
    assess = assessor(app, now, polled=True)
    follow = follow_changes(app)
    observations = [
        Observation(
            r.item.id,
            r.tracked,
            r.result,
            claimed=r.item,
            part=r.part,
            unchanged=r.result is None,
        )
        for r in pairs
    ]

    def record(group: Sequence[Observation]) -> dict[int, Recorded]:
        return record_polls(app.store, app.owner, now, group, assess, app.lanes, follow)

    recorded = record_isolated(record, observations, "poll")
    # Logged only once the transaction committed, so the log never claims what was rolled back.
    counts: Counter[tuple[str, str]] = Counter()
    # One logger for the batch: each call on the shared lazy proxy would build a new one.
    log = _POLL_LOG.bind()
    # A quiet reply (most of them) is logged at debug only: below that level it costs nothing.
    quiet_lines = log.is_enabled_for(logging.DEBUG)
    for reading in pairs:
        outcome = recorded.get(reading.item.id)
        if outcome is None:
            continue
        if quiet_lines or outcome.outcome != "quiet":
            _log_outcome(log, reading.item, reading.result, outcome)
        counts[reading.item.carrier, _result_label(reading, outcome)] += 1
    app.metrics.polls_recorded(counts)
    return {sid: r for sid, r in recorded.items() if r.outcome != "lease_lost"}


def _result_label(reading: _Reading, recorded: Recorded) -> str:
    if recorded.outcome == "recorded":
        return "news"
    if recorded.outcome == "quiet" and reading.result is None:
        return "unchanged"
    return recorded.outcome


def _log_outcome(
    log: FilteringBoundLogger,
    item: ClaimedShipment,
    result: TrackingResult | None,
    recorded: Recorded,
) -> None:
    # One logger per batch, the shipment's fields passed per line: no logger per shipment.
    who = {"shipment_id": item.id, "carrier": item.carrier, "tracking_number": item.tracking_number}
    if recorded.outcome == "lease_lost":
        log.warning("poll.lease_lost", **who)
        return
    for event in recorded.fresh:
        if event.status is Status.UNKNOWN:
            log.warning("event.unclassified", **who, text=event.raw.text, code=event.raw.code)
    # A reply with nothing new (most polls) is counted by tracker_poll_results and logged at
    # debug: at info, a line per quiet shipment cost as much as recording it.
    emit = log.debug if recorded.outcome == "quiet" else log.info
    emit(
        "poll.succeeded",
        **who,
        new_events=recorded.new_events,
        notices=recorded.notices,
        not_found=result is not None and result.not_found,
    )


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
        key = f"{shipment.id}:{shipment.poll_failures}"
        if retry_after is not None:  # capped: a plugin's own Retry-After may be anything
            delay = timedelta(seconds=min(max(retry_after, 0.0), RETRY_CAP.total_seconds()))
        elif isinstance(error, CarrierAuthError | PluginError):
            delay = RETRY_CAP
        elif isinstance(error, CarrierRateLimited):
            grown = backoff(shipment.poll_failures, key, base=RATE_LIMIT_BASE, cap=RATE_LIMIT_CAP)
            delay = min(grown, RATE_LIMIT_CAP)  # jitter never carries it past the cap
        else:
            delay = backoff(shipment.poll_failures, key, base=RETRY_BASE, cap=RETRY_CAP)
        shipment.next_poll_at = now + delay

    await app.in_store(with_each_leased, app.store, [i.id for i in items], app.owner, work)


async def _defer(app: TrackerApp, items: Sequence[ClaimedShipment], until: datetime) -> None:
    """Push polls past an open circuit breaker without counting them as failures."""

    def work(session: Session, shipment: Shipment) -> None:
        shipment.next_poll_at = until

    await app.in_store(with_each_leased, app.store, [i.id for i in items], app.owner, work)
