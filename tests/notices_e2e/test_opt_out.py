"""`tracker opt-out`: a buyer who opts out gets nothing more, queued or not.

Opting out (by tracking number, or by email for all of a buyer's shipments) sets the flag and
writes an audit row; the dispatcher skips notices already queued, and the policy queues no new
ones, while the daemon keeps tracking the parcel.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from carriers.sandbox.service import SandboxService
from tests.notices_e2e.conftest import T0, notices, queue, shipment, smtp_config, stored
from tests.support.smtp import SmtpSink
from tracker.cli import main
from tracker.clock import SimulatedClock
from tracker.config import CarrierConfig
from tracker.jobs.dispatch import dispatch_due
from tracker.runtime.app import build_app
from tracker.runtime.daemon import Daemon
from tracker.store.db import open_store
from tracker.store.models import AuditEntry, Shipment


def _opt_out(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["opt-out", *args, "--store", url])
    return result.exit_code, result.output


def test_by_number_and_by_email_set_the_flag_with_an_audit_row(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    stored(
        url,
        shipment("SBNM00000001"),
        shipment("SBNM00000002", buyer_email="Ana@Buyers.Example"),
        shipment("SBNM00000003", buyer_email="bruno@buyers.example"),
    )
    code, out = _opt_out(url, "sbnm 00000001")
    assert code == 0, out
    assert "opted out: SBNM00000001" in out

    code, out = _opt_out(url, "--email", "ANA@buyers.example")
    assert code == 0, out
    assert "opted out: SBNM00000002" in out
    assert "already opted out: SBNM00000001" in out

    with open_store(url)() as session:
        flags = dict(session.execute(select(Shipment.tracking_number, Shipment.opted_out)).all())
        assert flags == {"SBNM00000001": True, "SBNM00000002": True, "SBNM00000003": False}
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.kind == "shipment.opted_out")
        ).all()
        assert [(r.shipment_id, r.data["by"]) for r in rows] == [
            (1, "tracking_number"),
            (2, "email"),
        ]


def test_unknown_number_or_no_target_is_an_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    stored(url, shipment())
    code, out = _opt_out(url, "SBNM99999999")
    assert code == 2
    assert "no shipment found" in out
    assert _opt_out(url)[0] == 2
    assert _opt_out(url, "SBNM00000001", "--email", "ana@buyers.example")[0] == 2


async def test_queued_notices_are_skipped_at_send_time(
    tmp_path: Path, smtp_server: SmtpSink
) -> None:
    config = smtp_config(tmp_path, smtp_server)
    url = config.store.url
    first, second = stored(url, shipment(), shipment("SBNM00000002", buyer_email="b@x.example"))
    queue(url, first, "shipped")
    queue(url, second, "shipped")
    code, out = _opt_out(url, "SBNM00000001")
    assert code == 0
    assert "1 pending notice(s) will be skipped" in out
    app = build_app(config, SimulatedClock(T0))
    try:
        stats = await dispatch_due(app)
    finally:
        await app.close()
    assert (stats.claimed, stats.sent) == (2, 1)
    assert [r.rcpt_tos for r in smtp_server.messages] == [["b@x.example"]]
    assert [(n.shipment_id, n.state, n.last_error) for n in notices(url)] == [
        (first, "skipped", "buyer opted out"),
        (second, "sent", None),
    ]


async def test_daemon_tracks_an_opted_out_parcel_but_queues_nothing(
    tmp_path: Path, smtp_server: SmtpSink
) -> None:
    start = T0.replace(hour=9)
    clock = SimulatedClock(start)
    async with SandboxService(clock=clock.now) as service:
        config = smtp_config(tmp_path, smtp_server).model_copy(
            update={
                "carriers": {
                    "sandbox": CarrierConfig(base_url=service.base_url, requests_per_second=1e4)
                }
            }
        )
        url = config.store.url
        items = [
            shipment(f"SBNM0000000{n}", buyer_email=f"buyer{n}@x.example", shipped_at=start)
            for n in (1, 2)
        ]
        for item in items:
            service.register(item.tracking_number, "normal", registered_at=start)
        stored(url, *items)
        assert _opt_out(url, "--email", "buyer1@x.example")[0] == 0
        app = build_app(config, clock)
        daemon = Daemon(app)
        try:
            while clock.now() < start + timedelta(days=13):
                await daemon.step()
                clock.advance(timedelta(hours=2))
        finally:
            await app.close()
    assert {tuple(r.rcpt_tos) for r in smtp_server.messages} == {("buyer2@x.example",)}
    assert len(smtp_server.messages) >= 3
    assert {n.shipment_id for n in notices(url)} == {2}
    with open_store(url)() as session:
        statuses = dict(session.execute(select(Shipment.tracking_number, Shipment.status)).all())
    assert statuses == {"SBNM00000001": "delivered", "SBNM00000002": "delivered"}
