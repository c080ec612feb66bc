"""Several carriers on one adapter: ``[carriers.NAME] adapter = "webpage"`` tables each read
their own page description, and shipments, events, logs and stats keep the table's name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from tests.support.loopback import LoopbackHTTPServer, Reply, Request
from tests.support.orders import order
from tracker.clock import SimulatedClock
from tracker.config import load_config
from tracker.errors import PluginError
from tracker.jobs.poll import poll_due
from tracker.runtime.app import TrackerApp, build_app
from tracker.store.models import Shipment, TrackingEvent
from tracker.store.shipments import add_shipments

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

PAGE_CONFIG = """
name = "{name}"
display_name = "{display}"
url = "{base}/{name}/track?id={{number}}"
timezone = "{zone}"
time_formats = ["%d/%m/%Y %H:%M"]

[selectors]
row = "table.events tr.event"
time = "td.when"
text = "td.what"
location = "td.where"
"""

PAGE = """<html><body><table class="events">
<tr class="event"><td class="when">{when}</td><td class="what">{text}</td>
<td class="where">{where}</td></tr>
</table></body></html>"""


def _write_config(tmp_path: Path, base: str) -> Path:
    (tmp_path / "pages").mkdir()
    for name, display, zone in (
        ("cyprus_post", "Cyprus Post", "Asia/Nicosia"),
        ("bulgarian_post", "Bulgarian Post", "Europe/Sofia"),
    ):
        text = PAGE_CONFIG.format(name=name, display=display, base=base, zone=zone)
        (tmp_path / "pages" / f"{name}.toml").write_text(text, encoding="utf-8")
    config = f"""
[store]
url = "sqlite:///{tmp_path / "tracker.sqlite3"}"
[mail]
transport = "maildir"
maildir = "{tmp_path / "mail"}"
[carriers.cyprus_post]
adapter = "webpage"
requests_per_second = 1000
options = {{ config = "pages/cyprus_post.toml" }}
[carriers.bulgarian_post]
adapter = "webpage"
requests_per_second = 1000
options = {{ config = "pages/bulgarian_post.toml" }}
[carriers.ghost]
adapter = "no_such_adapter"
"""
    path = tmp_path / "tracker.toml"
    path.write_text(config, encoding="utf-8")
    return path


@pytest.fixture
async def app(tmp_path: Path, loopback_http: LoopbackHTTPServer) -> AsyncIterator[TrackerApp]:
    def cyprus(request: Request) -> Reply:
        when, text = "02/03/2025 10:15", "Receive item at office of exchange (Inb)"
        body = PAGE.format(when=when, text=text, where="NICOSIA")
        return Reply(body=body, headers={"Content-Type": "text/html; charset=utf-8"})

    def bulgaria(request: Request) -> Reply:
        body = PAGE.format(when="03/03/2025 08:05", text="Пратката е доставена", where="СОФИЯ")
        return Reply(
            body=body.encode("cp1251"), headers={"Content-Type": "text/html; charset=windows-1251"}
        )

    loopback_http.route("GET", "/cyprus_post/track", cyprus)
    loopback_http.route("GET", "/bulgarian_post/track", bulgaria)
    built = build_app(
        load_config(_write_config(tmp_path, loopback_http.base_url)), SimulatedClock(START)
    )
    try:
        yield built
    finally:
        await built.close()


async def test_two_web_page_carriers_keep_their_config_names(
    app: TrackerApp, loopback_http: LoopbackHTTPServer
) -> None:
    add_shipments(
        app.store,
        [order("RR000000001CY", "cyprus_post"), order("RR000000002BG", "bulgarian_post")],
        START,
    )
    with capture_logs() as logs:
        stats = await poll_due(app)

    assert (stats.polled, stats.failed) == (2, 0)
    assert dict(stats.by_carrier) == {"cyprus_post": 1, "bulgarian_post": 1}
    loaded = {(e["carrier"], e["adapter"]) for e in logs if e["event"] == "carrier.loaded"}
    assert loaded == {("cyprus_post", "webpage"), ("bulgarian_post", "webpage")}
    polled = {e["carrier"] for e in logs if e["event"] == "poll.succeeded"}
    assert polled == {"cyprus_post", "bulgarian_post"}
    assert {r.path for r in loopback_http.requests} == {
        "/cyprus_post/track",
        "/bulgarian_post/track",
    }
    assert set(app.carriers) == {"cyprus_post", "bulgarian_post"}
    assert app.carrier("cyprus_post").adapter.tracking_url("X1") == (
        f"{loopback_http.base_url}/cyprus_post/track?id=X1"
    )
    with app.store() as session:
        rows = session.execute(
            select(
                Shipment.carrier,
                TrackingEvent.carrier,
                TrackingEvent.text,
                TrackingEvent.occurred_at,
            )
            .join(TrackingEvent, TrackingEvent.shipment_id == Shipment.id)
            .order_by(Shipment.carrier)
        ).all()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("bulgarian_post", "bulgarian_post", "Пратката е доставена"),
        ("cyprus_post", "cyprus_post", "Receive item at office of exchange (Inb)"),
    ]
    # each page's own zone: Sofia and Nicosia are both UTC+2 in March
    assert [r[3].replace(tzinfo=UTC) if r[3].tzinfo is None else r[3] for r in rows] == [
        datetime(2025, 3, 3, 6, 5, tzinfo=UTC),
        datetime(2025, 3, 2, 8, 15, tzinfo=UTC),
    ]


def test_unknown_adapter_names_the_adapter(app: TrackerApp) -> None:
    with pytest.raises(PluginError, match="no_such_adapter"):
        app.carrier("ghost")


async def test_parse_failure_keeps_the_body_and_spares_the_other_carrier(
    app: TrackerApp, loopback_http: LoopbackHTTPServer
) -> None:
    changed = "<html><body><p>Новый дизайн</p>" + "x" * 10_000 + "</body></html>"
    loopback_http.route(
        "GET",
        "/cyprus_post/track",
        lambda request: Reply(body=changed, headers={"Content-Type": "text/html; charset=utf-8"}),
    )
    add_shipments(
        app.store,
        [order("RR000000001CY", "cyprus_post"), order("RR000000002BG", "bulgarian_post")],
        START,
    )
    with capture_logs() as logs:
        stats = await poll_due(app)

    assert (stats.polled, stats.failed) == (1, 1)
    (failed,) = [e for e in logs if e["event"] == "poll.failed"]
    assert (failed["carrier"], failed["error_type"]) == ("cyprus_post", "ParseError")
    assert failed["body"].startswith("<html><body><p>Новый дизайн</p>")  # decoded, size-capped
    assert len(failed["body"].encode()) <= 4096
    with app.store() as session:
        cyprus = session.scalars(select(Shipment).where(Shipment.carrier == "cyprus_post")).one()
        assert (cyprus.status, cyprus.poll_failures) == ("pending", 1)
        stored = session.scalars(select(TrackingEvent.carrier)).all()
    assert stored == ["bulgarian_post"]
