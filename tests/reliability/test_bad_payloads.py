"""Bad carrier payloads: markup and line breaks in carrier text reach the buyer's email inert
(escaped HTML, no extra headers); impossible dates are refused without touching stored state."""

from __future__ import annotations

import json
import mailbox
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from tests.reliability.harness import START, write_config
from tests.support.loopback import LoopbackHTTPServer, Reply, Request
from tracker.clock import SimulatedClock
from tracker.config import load_config
from tracker.runtime.app import TrackerApp, build_app
from tracker.runtime.daemon import Daemon
from tracker.store.models import Shipment, TrackingEvent
from tracker.store.shipments import NewShipment, add_shipments

NUMBER = "SBNM00000001"
SCRIPT = "<script>alert('x')</script><img src=x onerror=alert(1)>"
EVENTS: list[dict[str, Any]] = []


def reply(request: Request) -> Reply:
    body = {
        "results": [
            {"tracking_number": NUMBER, "found": True, "origin": "CN", "destination": "US",
             "events": EVENTS}
        ]
    }  # fmt: skip
    return Reply(200, json.dumps(body), {"Content-Type": "application/json"})


@pytest.fixture
async def app(tmp_path: Path, loopback_http: LoopbackHTTPServer) -> AsyncIterator[TrackerApp]:
    loopback_http.route("GET", "/v1/track", reply)
    config = write_config(
        tmp_path / "tracker.toml",
        db=tmp_path / "tracker.sqlite3",
        carriers={"sandbox": loopback_http.base_url},
        smtp_port=None,
        maildir=tmp_path / "mail",
        extra="[quiet_hours]\nenabled = false\n",
    )
    clock = SimulatedClock(START)
    application = build_app(load_config(config), clock)
    add_shipments(
        application.store,
        [
            NewShipment(NUMBER, "sandbox", "olivia@example.com", "Olivia Martin", "en", "US",
                        "CN", "ORD-1", START)
        ],
        START,
    )  # fmt: skip
    try:
        yield application
    finally:
        await application.close()


def event(text: str, location: str, when: str = "2026-03-02T10:00:00+00:00") -> dict[str, Any]:
    return {"time": when, "code": "EMA", "description": text, "location": location, "country": "CN"}


def stored(app: TrackerApp) -> tuple[str, list[tuple[str, str | None]]]:
    with app.store() as session:
        shipment = session.scalars(select(Shipment)).one()
        rows = session.scalars(
            select(TrackingEvent).where(TrackingEvent.shipment_id == shipment.id)
        )
        return shipment.status, [(e.text, e.location) for e in rows]


def messages(app: TrackerApp) -> list[Message]:
    box = mailbox.Maildir(app.config.mail.maildir, create=False)
    return [box.get_message(key) for key in box.iterkeys()]


async def test_markup_and_line_breaks_in_carrier_text_stay_inert(app: TrackerApp) -> None:
    EVENTS[:] = [event(f"Accepted {SCRIPT}", "Shenzhen\r\nBcc: all@evil.test")]
    daemon = Daemon(app)
    await daemon.step()
    assert isinstance(app.clock, SimulatedClock)
    app.clock.advance(timedelta(days=1))
    await daemon.step()
    status, events = stored(app)
    assert status == "in_transit"
    assert events[0][0].startswith("Accepted")
    sent = messages(app)
    assert sent, "no notice was sent; the test proves nothing"
    for message in sent:
        assert message["Bcc"] is None
        assert "evil.test" not in str(message["To"])
        assert "\n" not in str(message["Subject"])
        for part in message.walk():
            if part.get_content_type() == "text/html":
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                html = payload.decode()
                assert "<script" not in html
                assert "<img src=x" not in html
                assert "onerror=alert" not in html or "&lt;img" in html


@pytest.mark.parametrize(
    "when",
    ["2026-02-30T10:00:00+00:00", "2026-03-02T25:00:00+00:00", "2026-03-02T10:00:00", "soon"],
    ids=["feb-30", "hour-25", "no-timezone", "words"],
)
async def test_impossible_event_dates_are_refused_and_change_nothing(
    app: TrackerApp, when: str
) -> None:
    daemon = Daemon(app)
    EVENTS[:] = [event("Accepted", "Shenzhen")]
    await daemon.step()
    before = stored(app)
    assert isinstance(app.clock, SimulatedClock)
    app.clock.advance(timedelta(days=1))
    EVENTS.append(event("Departed", "Shenzhen", when))
    with capture_logs() as logs:
        await daemon.step()
    assert stored(app) == before
    failed = [e for e in logs if e["event"] == "poll.failed"]
    assert failed
    assert failed[0]["error_type"] == "ParseError"
    assert "events" in failed[0]["error"]
