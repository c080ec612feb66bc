"""Inbound pushes: every configured aggregator's webhook, recorded through the same path as a poll.

The server knows no carrier. Each adapter that takes pushes declares a ``PushReceiver`` (path,
signature check, parse); ``tracker.runtime.preflight.push_routes`` picks those a configured
carrier gives a webhook secret for, and exactly those are served. A push whose signature does not
verify is answered 401 and logged ``webhook.rejected``; nothing is read from it.

A verified push is parsed, classified with ``app.normalizer`` and recorded through the policy
and the store (``tracker.jobs.record``) in one transaction per shipment, under a short lease of
the push's own so it never interleaves with a poll. When a poll (or another push) holds the
shipment's lease the server answers 503 with Retry-After and records nothing for that push: the
aggregator retries, and a retried push is harmless because events are deduplicated by
fingerprint. Numbers we do not track are acknowledged with 200 and ignored, so the aggregator does
not retry them forever.

A push saying the aggregator stopped following a number (``extra["stopped"]``, e.g. 17TRACK's
``TRACKING_STOPPED``) closes each shipment still under way through the event the adapter names
(``stopped_code``/``stopped_text``, dated when the push came), recorded like any other; a
shipment already finished, or closed by an earlier copy of the push, is left as it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shops.receive import ShopWebhooks, shop_path
from tracker.errors import ParseError
from tracker.eventlog import get_logger
from tracker.jobs.record import classify, record_now
from tracker.model import FINAL_STATUSES, RawEvent, Status, TrackedEvent, TrackingResult
from tracker.runtime.app import TrackerApp
from tracker.runtime.preflight import PushRoute, push_routes
from tracker.runtime.unsubscribe import OneClickUnsubscribe
from tracker.store.models import Shipment
from tracker.store.record import Observation
from tracker.store.shipments import lease_free

#: how long an aggregator is asked to wait before retrying a push whose shipment was busy
BUSY_RETRY_SECONDS = 30

Outcome = Literal["recorded", "busy", "unknown", "stopped"]


@dataclass(frozen=True, slots=True)
class PushOutcome:
    """What one push result did to one stored shipment (or why it did nothing)."""

    tracking_number: str
    outcome: Outcome
    shipment_id: int | None = None
    new_events: int = 0
    notices: int = 0


def _take_lease(
    session: Session, shipment_id: int, owner: str, now: datetime, app: TrackerApp
) -> bool:
    """Lease the shipment for this push unless someone else holds an unexpired lease."""
    taken = session.scalars(
        update(Shipment)
        .where(Shipment.id == shipment_id, lease_free(now))
        .values(lease_owner=owner, lease_until=now + app.config.webhooks.lease)
        .returning(Shipment.id)
        .execution_options(synchronize_session=False)
    ).first()
    return taken is not None


def record_push(app: TrackerApp, route: PushRoute, result: TrackingResult) -> list[PushOutcome]:
    """Apply one pushed result to every shipment of the route's carriers with its number, one
    transaction each (blocking)."""
    number = result.tracking_number
    with app.store() as session:
        ids = list(
            session.scalars(
                select(Shipment.id).where(
                    Shipment.tracking_number == number,
                    Shipment.carrier.in_(sorted(route.carriers)),
                )
            )
        )
    if not ids:
        return [PushOutcome(number, "unknown")]
    if result.extra.get("stopped") == "true":
        return [_stop(app, route, shipment_id, result) for shipment_id in ids]
    tracked = classify(app, result)
    return [_apply(app, shipment_id, tracked, result) for shipment_id in ids]


def _apply(
    app: TrackerApp, shipment_id: int, tracked: Sequence[TrackedEvent], result: TrackingResult
) -> PushOutcome:
    now = app.clock.now()
    owner = f"{app.owner}:webhook"
    with app.store.begin() as session:
        if not _take_lease(session, shipment_id, owner, now, app):
            return PushOutcome(result.tracking_number, "busy", shipment_id)
    return _record(app, owner, now, shipment_id, tracked, result)


def _stop(
    app: TrackerApp, route: PushRoute, shipment_id: int, result: TrackingResult
) -> PushOutcome:
    """Close a shipment still under way with the adapter's stop event, dated now; a finished
    one (delivered, or closed by an earlier copy of this push) or one the seller stopped
    (``tracker stop``: no poll, no timer) is left as it is."""
    now = app.clock.now()
    owner = f"{app.owner}:webhook"
    number = result.tracking_number
    with app.store.begin() as session:
        if not _take_lease(session, shipment_id, owner, now, app):
            return PushOutcome(number, "busy", shipment_id)
        row = session.execute(
            select(Shipment.status, Shipment.next_poll_at, Shipment.next_timer_at).where(
                Shipment.id == shipment_id
            )
        ).first()
        if row is None or Status(row.status) in FINAL_STATUSES or row[1:] == (None, None):
            session.execute(
                update(Shipment)
                .where(Shipment.id == shipment_id, Shipment.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )
            return PushOutcome(number, "stopped", shipment_id)
    event = RawEvent(
        occurred_at=now,
        text=result.extra.get("stopped_text") or f"{route.adapter} stopped tracking this number",
        code=result.extra.get("stopped_code"),
        carrier=route.adapter,
    )
    stopped = replace(result, events=(event,))
    return _record(app, owner, now, shipment_id, classify(app, stopped), stopped)


def _record(
    app: TrackerApp,
    owner: str,
    now: datetime,
    shipment_id: int,
    tracked: Sequence[TrackedEvent],
    result: TrackingResult,
) -> PushOutcome:
    """Record under the lease just taken (``record_now`` checks and gives it back)."""
    observation = Observation(shipment_id, tracked, result)
    done = record_now(app, owner, now, [observation], polled=True)[shipment_id]
    if done.outcome != "recorded":
        return PushOutcome(result.tracking_number, "busy", shipment_id)
    return PushOutcome(
        result.tracking_number, "recorded", shipment_id, done.new_events, done.notices
    )


class PushReceivers:
    """The push routes on the daemon's web server (:mod:`tracker.web.site`), one per receiver a
    configured carrier gives a webhook secret for. Bodies are read within the server's limits:
    ``webhooks.max_body`` bytes and ``web.body_timeout``."""

    def __init__(self, app: TrackerApp) -> None:
        self.app = app
        self.log = get_logger(component="webhooks")
        self.routes: list[PushRoute] = []
        self.shops = ShopWebhooks(app)

    def mount(self, router: web.UrlDispatcher) -> None:
        """Resolve the receivers (ConfigError naming the key when a secret is missing) and add
        their routes."""
        self.routes = push_routes(self.app.config)
        for route in self.routes:
            router.add_post(route.receiver.path, self._handler(route))
        router.add_routes(self.shops.routes())  # /webhooks/shops/<table name>
        router.add_routes(OneClickUnsubscribe(self.app).routes())  # seller.unsubscribe_url

    def log_listening(self, base_url: str) -> None:
        """One ``webhook.listening`` line per receiver, once the server is bound."""
        for route in self.routes:
            self.log.info(
                "webhook.listening", source=route.adapter, url=base_url + route.receiver.path
            )
        for name in self.shops.receivers():
            self.log.info(
                "webhook.listening", source=f"shop:{name}", url=base_url + shop_path(name)
            )

    def _handler(self, route: PushRoute) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def receive(request: web.Request) -> web.Response:
            return await self._receive(route, request)

        return receive

    async def _receive(self, route: PushRoute, request: web.Request) -> web.Response:
        body = await request.read()  # already read within the server's limits
        if not _verified(route, body, request):
            self.log.warning(
                "webhook.rejected", source=route.adapter, remote=request.remote, size=len(body)
            )
            return web.json_response({"error": "bad signature"}, status=401)
        try:
            results = route.receiver.parse(body)
        except ParseError as exc:
            self.log.warning(
                "webhook.unparsable",
                source=route.adapter,
                error=str(exc),
                body=exc.body[:2000].decode("utf-8", "replace"),
            )
            return web.json_response({"error": "unparsable push"}, status=400)
        except RecursionError:
            self.log.warning("webhook.unparsable", source=route.adapter, error="nested too deeply")
            return web.json_response({"error": "unparsable push"}, status=400)
        outcomes: list[PushOutcome] = []
        for result in results:
            outcomes.extend(await self.app.in_store(record_push, self.app, route, result))
        return self._answer(route, outcomes)

    def _answer(self, route: PushRoute, outcomes: list[PushOutcome]) -> web.Response:
        for o in outcomes:
            log = self.log.bind(
                source=route.adapter, tracking_number=o.tracking_number, shipment_id=o.shipment_id
            )
            if o.outcome == "recorded":
                log.info("webhook.recorded", new_events=o.new_events, notices=o.notices)
            elif o.outcome == "busy":
                log.info("webhook.busy", retry_after_s=BUSY_RETRY_SECONDS)
            else:
                log.info("webhook.ignored", reason=o.outcome)
        summary = {kind: sum(o.outcome == kind for o in outcomes) for kind in _KINDS}
        if summary["busy"]:
            headers = {"Retry-After": str(BUSY_RETRY_SECONDS)}
            return web.json_response(summary, status=503, headers=headers)
        return web.json_response(summary)


def _verified(route: PushRoute, body: bytes, request: web.Request) -> bool:
    """The receiver's own check; a check that trips over odd input counts as a failed one."""
    try:
        return route.receiver.verify(body, request.headers, route.secret)
    except (ValueError, TypeError, UnicodeError):
        return False


_KINDS: tuple[Outcome, ...] = ("recorded", "busy", "unknown", "stopped")
