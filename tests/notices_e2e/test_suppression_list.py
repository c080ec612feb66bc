"""Opt-out lasts (issue 13, item 4): an address that opted out is on the suppression list, and
shipments stored for it later, by any path, get no email either."""

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
from tracker.store.models import AuditEntry, Shipment, Suppression


def _opt_out(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["opt-out", *args, "--store", url])
    return result.exit_code, result.output


async def test_an_opted_out_address_added_again_gets_no_email(
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
        first = shipment("SBNM00000001", buyer_email="ana@buyers.example", shipped_at=start)
        service.register(first.tracking_number, "normal", registered_at=start)
        stored(url, first)
        code, out = _opt_out(url, "--email", "Ana@Buyers.Example")
        assert code == 0, out
        # Weeks later the same buyer orders again (another case of her address), and so does
        # someone else; both parcels are tracked to delivery.
        later = [
            shipment("SBNM00000002", buyer_email="ANA@buyers.example", shipped_at=start),
            shipment("SBNM00000003", buyer_email="bruno@buyers.example", shipped_at=start),
        ]
        for item in later:
            service.register(item.tracking_number, "normal", registered_at=start)
        stored(url, *later)
        app = build_app(config, clock)
        daemon = Daemon(app)
        try:
            while clock.now() < start + timedelta(days=13):
                await daemon.step()
                clock.advance(timedelta(hours=2))
        finally:
            await app.close()
    assert {tuple(r.rcpt_tos) for r in smtp_server.messages} == {("bruno@buyers.example",)}
    assert len(smtp_server.messages) >= 3
    with open_store(url)() as session:
        flags = dict(session.execute(select(Shipment.tracking_number, Shipment.opted_out)).all())
        assert flags == {"SBNM00000001": True, "SBNM00000002": True, "SBNM00000003": False}
        statuses = set(session.scalars(select(Shipment.status)))
        assert statuses == {"delivered"}, "opted-out parcels are still tracked"
        (listed,) = session.scalars(select(Suppression)).all()
        assert listed.email == "ana@buyers.example"
        audit = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.kind == "shipment.opted_out")
            .order_by(AuditEntry.shipment_id)
        ).all()
        assert [(a.shipment_id, a.data["by"]) for a in audit] == [
            (1, "email"),
            (2, "suppression_list"),
        ]


def test_an_address_with_no_shipment_yet_can_opt_out(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    code, out = _opt_out(url, "--email", "carla@buyers.example")
    assert code == 0, out
    assert "carla@buyers.example is on the suppression list" in out
    (shipment_id,) = stored(url, shipment(buyer_email="Carla@Buyers.example"))
    with open_store(url)() as session:
        row = session.get(Shipment, shipment_id)
        assert row is not None
        assert row.opted_out


async def test_a_shipment_stored_by_another_path_is_skipped_at_send_time(
    tmp_path: Path, smtp_server: SmtpSink
) -> None:
    config = smtp_config(tmp_path, smtp_server)
    url = config.store.url
    assert _opt_out(url, "--email", "ana@buyers.example")[0] == 0
    first, second = stored(url, shipment(), shipment("SBNM00000002", buyer_email="b@x.example"))
    factory = open_store(url)
    with factory.begin() as session:  # as a shop's order feed writes it: flag not set
        row = session.get(Shipment, first)
        assert row is not None
        row.opted_out = False
    queue(url, first, "shipped")
    queue(url, second, "shipped")
    app = build_app(config, SimulatedClock(T0))
    try:
        stats = await dispatch_due(app)
    finally:
        await app.close()
    assert (stats.claimed, stats.sent) == (2, 1)
    assert [r.rcpt_tos for r in smtp_server.messages] == [["b@x.example"]]
    assert [(n.shipment_id, n.state) for n in notices(url)] == [
        (first, "skipped"),
        (second, "sent"),
    ]
