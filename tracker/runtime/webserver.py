"""Inbound pushes: 17TRACK's webhook, recorded through the same path as a poll result.

17TRACK POSTs ``TRACKING_UPDATED`` / ``TRACKING_STOPPED`` JSON and signs it in the ``sign``
header as hex SHA-256 of ``body + "/" + key``. A push with a bad or missing signature is
answered 401 and logged ``webhook.rejected``; nothing is read from it.

A verified push is parsed, classified with ``app.normalizer`` and recorded through the policy
and the store (``tracker.jobs.record``) in one transaction per shipment, under a short lease of
the push's own so it
never interleaves with a poll. When a poll (or another push) holds the shipment's lease the
server answers 503 with Retry-After and records nothing for that push: 17TRACK retries, and a
retried push is idempotent because events are deduplicated by fingerprint. Numbers we do not
track are acknowledged with 200 and ignored, so 17TRACK does not retry them forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carriers import seventeentrack
from tracker.config import secret
from tracker.errors import ConfigError, ParseError
from tracker.eventlog import get_logger
from tracker.jobs.record import classify, record_now
from tracker.model import TrackedEvent, TrackingResult
from tracker.runtime.app import TrackerApp
from tracker.store.models import Shipment
from tracker.store.record import Observation
from tracker.store.shipments import lease_free

SEVENTEENTRACK_PATH = "/webhooks/seventeentrack"
#: how long 17TRACK is asked to wait before retrying a push whose shipment was busy
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


def seventeentrack_carriers(app: TrackerApp) -> set[str]:
    """Carrier names whose shipments 17TRACK tracks: the adapter's own name and every config
    table that runs on it (``adapter = "seventeentrack"``)."""
    names = {seventeentrack.NAME}
    for name, entry in app.config.carriers.items():
        if (entry.adapter or name) == seventeentrack.NAME:
            names.add(name)
    return names


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


def record_push(app: TrackerApp, result: TrackingResult) -> list[PushOutcome]:
    """Apply one pushed result to every matching shipment, one transaction each (blocking)."""
    number = result.tracking_number
    if result.extra.get("stopped") == "true":
        return [PushOutcome(number, "stopped")]
    with app.store() as session:
        ids = list(
            session.scalars(
                select(Shipment.id).where(
                    Shipment.tracking_number == number,
                    Shipment.carrier.in_(sorted(seventeentrack_carriers(app))),
                )
            )
        )
    if not ids:
        return [PushOutcome(number, "unknown")]
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
    observation = Observation(shipment_id, tracked, result)
    done = record_now(app, owner, now, [observation], polled=True)[shipment_id]
    if done.outcome != "recorded":
        return PushOutcome(result.tracking_number, "busy", shipment_id)
    return PushOutcome(
        result.tracking_number, "recorded", shipment_id, done.new_events, done.notices
    )


class WebhookServer:
    """A small aiohttp server for inbound pushes; ``start``/``stop`` are the daemon's hooks."""

    def __init__(self, app: TrackerApp) -> None:
        self.app = app
        self.log = get_logger(component="webhooks")
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._key: str | None = None

    @property
    def url(self) -> str:
        """Base URL the server listens on (after ``start``)."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("webhook server is not started")
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    async def start(self) -> None:
        """Bind and serve; ConfigError when on without a key to check signatures with."""
        config = self.app.config.webhooks
        if config.port is None:
            return
        self._key = secret(config.seventeentrack_key_env, "webhooks.seventeentrack_key_env")
        if not self._key:
            raise ConfigError("webhooks.seventeentrack_key_env: required when webhooks.port is set")
        web_app = web.Application(client_max_size=config.max_body)
        web_app.router.add_post(SEVENTEENTRACK_PATH, self._seventeentrack)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, config.host, config.port)
        await self._site.start()
        self.log.info("webhook.listening", url=self.url + SEVENTEENTRACK_PATH)

    async def stop(self) -> None:
        """Stop accepting pushes; pushes being recorded finish first."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self.log.info("webhook.stopped")

    async def _seventeentrack(self, request: web.Request) -> web.Response:
        body = await request.read()
        signature = request.headers.get("sign", "")
        assert self._key is not None
        if not signature or not seventeentrack.verify_webhook_signature(body, signature, self._key):
            self.log.warning(
                "webhook.rejected", source="seventeentrack", remote=request.remote, size=len(body)
            )
            return web.json_response({"error": "bad signature"}, status=401)
        try:
            results = seventeentrack.parse_webhook(body)
        except ParseError as exc:
            self.log.warning(
                "webhook.unparsable", error=str(exc), body=exc.body.decode("utf-8", "replace")
            )
            return web.json_response({"error": "unparsable push"}, status=400)
        outcomes: list[PushOutcome] = []
        for result in results:
            outcomes.extend(await self.app.in_store(record_push, self.app, result))
        return self._answer(outcomes)

    def _answer(self, outcomes: list[PushOutcome]) -> web.Response:
        for o in outcomes:
            log = self.log.bind(tracking_number=o.tracking_number, shipment_id=o.shipment_id)
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


_KINDS: tuple[Outcome, ...] = ("recorded", "busy", "unknown", "stopped")
