"""The ops view (``/ops``): parcels that need a person, service health and queues, search, one
parcel's whole history, and three actions (re-send a notice, opt the buyer out, stop tracking).

Behind a token from the environment (``[web] ops_token_env``), sent as ``Authorization: Bearer``
or as the password of HTTP basic auth (any user name), so a browser can open it too. Everything
shown here is also reachable from the CLI: ``tracker status``, ``show``, ``events``, ``opt-out``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from tracker.runtime.app import TrackerApp
from tracker.runtime.health import HealthLimits, health_report
from tracker.store.models import AuditEntry, Notice, Shipment, TrackingEvent
from tracker.store.optout import opt_out
from tracker.web import links
from tracker.web.answers import BUYER_KIND, OFFER_KINDS
from tracker.web.pages import parse_form, same_origin, templates
from tracker.web.server import WebServer

LIST_LIMIT = 50
STALLED_STATUSES = ("pending", "info_received", "in_transit")


class OpsView:
    """The ops routes; every one checks the token first."""

    def __init__(
        self, app: TrackerApp, server: WebServer, token: str, keys: links.LinkKeys
    ) -> None:
        self.app = app
        self.server = server
        self.token = token
        self.keys = keys
        self.env = templates()

    def mount(self, router: web.UrlDispatcher) -> None:
        """Add the ops routes."""
        router.add_get("/ops", self.overview)
        router.add_get("/ops/parcel/{id:[0-9]{1,12}}", self.parcel)
        router.add_post("/ops/parcel/{id:[0-9]{1,12}}/{action:opt-out|stop}", self.act)
        router.add_post("/ops/notice/{id:[0-9]{1,12}}/resend", self.resend)

    def authorized(self, request: web.Request) -> bool:
        """True when the request carries the token (Bearer, or basic-auth password)."""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        given = ""
        if scheme.lower() == "bearer":
            given = value.strip()
        elif scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            given = decoded.partition(":")[2]
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    def _deny(self) -> web.Response:
        return web.Response(
            status=401,
            text="The ops view needs the token from the environment.\n",
            headers={"WWW-Authenticate": 'Basic realm="tracker ops", charset="UTF-8"'},
        )

    async def overview(self, request: web.Request) -> web.StreamResponse:
        if not self.authorized(request):
            return self._deny()
        query = request.query.get("q", "").strip()[:254]
        data = await self.app.in_store(overview_data, self.app, query)
        return self._render("ops.html.j2", title="Parcels that need a person", query=query, **data)

    async def parcel(self, request: web.Request) -> web.StreamResponse:
        if not self.authorized(request):
            return self._deny()
        shipment_id = int(request.match_info["id"])
        data = await self.app.in_store(parcel_data, self.app, shipment_id)
        if data is None:
            raise web.HTTPNotFound(reason="no such parcel")
        csrf = links.sign(self.keys, "form", shipment_id, self.app.clock.now())
        return self._render(
            "ops_parcel.html.j2",
            title=f"Parcel {data['shipment'].tracking_number}",
            csrf=csrf,
            **data,
        )

    async def act(self, request: web.Request) -> web.StreamResponse:
        if not self.authorized(request):
            return self._deny()
        shipment_id = int(request.match_info["id"])
        await self._checked_form(request, shipment_id)
        action = request.match_info["action"]
        await self.app.in_store(parcel_action, self.app, shipment_id, action)
        raise web.HTTPSeeOther(f"/ops/parcel/{shipment_id}")

    async def resend(self, request: web.Request) -> web.StreamResponse:
        if not self.authorized(request):
            return self._deny()
        notice_id = int(request.match_info["id"])
        shipment_id = await self.app.in_store(resend_notice, self.app, notice_id, None)
        if shipment_id is None:
            raise web.HTTPNotFound(reason="no such notice")
        await self._checked_form(request, shipment_id)
        await self.app.in_store(resend_notice, self.app, notice_id, shipment_id)
        raise web.HTTPSeeOther(f"/ops/parcel/{shipment_id}")

    async def _checked_form(self, request: web.Request, ref: int) -> None:
        if not same_origin(request, self.app.config.web.public_url):
            raise web.HTTPForbidden(reason="cross-site form")
        body = await request.read()  # read within the limits by the server
        fields = parse_form(body) or {}
        try:
            signed = links.verify(
                self.keys, fields.get("csrf", ""), "form", self.app.clock.now(), timedelta(days=1)
            )
        except links.LinkError as exc:
            raise web.HTTPForbidden(reason="form expired or forged") from exc
        if signed.ref != ref:
            raise web.HTTPForbidden(reason="form for another parcel")

    def _render(self, template: str, **values: Any) -> web.Response:
        html = self.env.get_template(template).render(**values)
        return web.Response(
            text=html, content_type="text/html", headers={"Cache-Control": "no-store"}
        )


def _shipments(session: Session, *where: Any) -> list[Shipment]:
    return list(
        session.scalars(
            select(Shipment).where(*where).order_by(Shipment.id.desc()).limit(LIST_LIMIT)
        )
    )


def overview_data(app: TrackerApp, query: str) -> dict[str, Any]:
    """The overview's lists, health report and (when searching) the matches."""
    now = app.clock.now()
    stalled_before = now - app.config.thresholds.default.stalled_after
    with app.store() as session:
        lists: dict[str, list[Any]] = {
            "Customs duties due": _shipments(session, Shipment.detail == "customs_duties_due"),
            "Exceptions": _shipments(
                session, Shipment.status == "exception", Shipment.detail != "customs_duties_due"
            ),
            "Stalled": _shipments(
                session,
                Shipment.status.in_(STALLED_STATUSES),
                func.coalesce(Shipment.last_event_at, Shipment.shipped_at) < stalled_before,
            ),
            "Returned": _shipments(session, Shipment.status == "returned"),
        }
        offers = _offers(session)
        failed = list(
            session.execute(
                select(Notice, Shipment)
                .join(Shipment, Shipment.id == Notice.shipment_id)
                .where(Notice.state == "failed")
                .order_by(Notice.id.desc())
                .limit(LIST_LIMIT)
            ).all()
        )
        matches = _search(session, query) if query else []
        health = health_report(session, now, HealthLimits())
    return {
        "lists": lists,
        "waiting": offers["waiting"],
        "answered": offers["answered"],
        "failed": failed,
        "matches": matches,
        "health": health,
    }


def _offers(session: Session) -> dict[str, list[Any]]:
    sent = list(
        session.execute(
            select(Notice, Shipment)
            .join(Shipment, Shipment.id == Notice.shipment_id)
            .where(Notice.kind.in_(OFFER_KINDS), Notice.state == "sent")
            .order_by(Notice.id.desc())
            .limit(LIST_LIMIT * 4)
        ).all()
    )
    answered_rows = list(
        session.execute(
            select(Notice, Shipment)
            .join(Shipment, Shipment.id == Notice.shipment_id)
            .where(Notice.kind == BUYER_KIND)
            .order_by(Notice.id.desc())
            .limit(LIST_LIMIT)
        ).all()
    )
    answered_offers = {int(n.payload.get("offer_notice_id", 0)) for n, _ in answered_rows}
    latest: dict[int, Any] = {}
    for notice, shipment in sent:
        latest.setdefault(shipment.id, (notice, shipment))
    waiting = [
        pair
        for pair in latest.values()
        if pair[0].id not in answered_offers and pair[1].status != "delivered"
    ]
    return {"waiting": waiting[:LIST_LIMIT], "answered": answered_rows}


def _search(session: Session, query: str) -> list[Shipment]:
    text = query.strip()
    return _shipments(
        session,
        or_(
            Shipment.tracking_number == text.upper(),
            Shipment.tracking_number == text,
            Shipment.order_reference == text,
            func.lower(Shipment.buyer_email) == text.lower(),
        ),
    )


def parcel_data(app: TrackerApp, shipment_id: int) -> dict[str, Any] | None:
    """One parcel: its scans, notices and audit trail (answers included), newest first."""
    with app.store() as session:
        shipment = session.get(Shipment, shipment_id)
        if shipment is None:
            return None
        session.expunge(shipment)
        events = list(
            session.scalars(
                select(TrackingEvent)
                .where(TrackingEvent.shipment_id == shipment_id)
                .order_by(TrackingEvent.occurred_at.desc())
            )
        )
        notices = list(
            session.scalars(
                select(Notice).where(Notice.shipment_id == shipment_id).order_by(Notice.id.desc())
            )
        )
        audit = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.shipment_id == shipment_id)
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .limit(200)
            )
        )
        session.expunge_all()
    return {"shipment": shipment, "events": events, "notices": notices, "audit": audit}


def parcel_action(app: TrackerApp, shipment_id: int, action: str) -> None:
    """Opt the parcel's buyer out, or stop tracking the parcel (history kept)."""
    now = app.clock.now()
    with app.store() as session:
        shipment = session.get(Shipment, shipment_id)
        email = shipment.buyer_email if shipment is not None else None
    if email is None:
        return
    if action == "opt-out":
        opt_out(app.store, now, email=email, source="ops")
        return
    with app.store.begin() as session:
        session.execute(
            update(Shipment)
            .where(Shipment.id == shipment_id)
            .values(
                next_poll_at=None,
                next_timer_at=None,
                stopped_at=func.coalesce(Shipment.stopped_at, now),
                lease_owner=None,
                lease_until=None,
            )
        )
        session.add(
            AuditEntry(shipment_id=shipment_id, at=now, kind="shipment.stopped", data={"by": "ops"})
        )


def resend_notice(app: TrackerApp, notice_id: int, shipment_id: int | None) -> int | None:
    """With ``shipment_id`` None: which shipment the notice belongs to. Otherwise queue a failed
    or skipped notice again, due now, and audit it."""
    now = app.clock.now()
    with app.store.begin() as session:
        notice = session.get(Notice, notice_id)
        if notice is None:
            return None
        if shipment_id is None or notice.shipment_id != shipment_id:
            return notice.shipment_id
        if notice.state in ("failed", "skipped", "sent"):
            notice.state = "pending"
            notice.not_before = now
            notice.attempts = 0
            notice.last_error = None
            session.add(
                AuditEntry(
                    shipment_id=notice.shipment_id,
                    at=now,
                    kind="notice.requeued",
                    data={"notice_id": notice.id, "kind": notice.kind, "by": "ops"},
                )
            )
        return notice.shipment_id
