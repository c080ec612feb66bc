"""Issue 5's end-to-end story: a parcel held by customs, then stalled, then offered a refund.

Real daemon, sandbox carrier over loopback HTTP, real SMTP server on loopback, simulated time.
Two buyers follow the same kind of journey, one in Brazil (language from the country: pt) and
one in Russia (language from the order: ru). Each gets exactly the expected notices, in their
language, never during their quiet hours, never two within the minimum gap (customs actions
excepted), and the seller is told about each refund offer.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from datetime import datetime, time, timedelta
from email.utils import parsedate_to_datetime
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from carriers.sandbox.journeys import load_journeys
from carriers.sandbox.service import SandboxService
from tests.notices_e2e.conftest import notices
from tests.support.orders import journey_order
from tests.support.smtp import Received, SmtpSink
from tracker.clock import SimulatedClock
from tracker.config import (
    CarrierConfig,
    MailConfig,
    RefundConfig,
    SmtpConfig,
    StoreConfig,
    TrackerConfig,
)
from tracker.runtime.app import build_app
from tracker.runtime.daemon import Daemon
from tracker.store.shipments import NewShipment, add_shipments

START = datetime.fromisoformat("2026-03-02T09:00:00+00:00")
LOCALES = Path(__file__).resolve().parents[2] / "notices" / "locales"
SELLER = "seller@shop.example"
MIN_GAP = timedelta(hours=20)  # the default thresholds.min_notice_gap
QUIET = (time(21, 0), time(8, 0))  # the default quiet hours, buyer-local

JOURNEYS = Path(__file__).with_name("customs_stall_refund.journeys.toml")

BUYERS = {
    # journey: (buyer language on the order, buyer's zone, language expected in the emails)
    "held_br": (None, "America/Sao_Paulo", "pt"),
    "held_ru": ("ru", "Europe/Moscow", "ru"),
}
EXPECTED = ["shipped", "in_transit", "customs_action", "delayed", "refund_offer"]


def _subject(language: str, kind: str, order: str) -> str:
    strings = tomllib.loads((LOCALES / f"{language}.toml").read_text("utf-8"))
    return str(strings[kind]["subject"]).format(order=order)


def _in_quiet_hours(moment: datetime) -> bool:
    start, end = QUIET
    local = moment.time()
    return local >= start or local < end


async def _run(tmp_path: Path, smtp: SmtpSink) -> tuple[dict[str, NewShipment], str]:
    journeys = load_journeys(JOURNEYS)
    clock = SimulatedClock(START)
    items = {
        name: journey_order(
            journey,
            serial,
            buyer_email=f"{name}@buyers.example",
            buyer_name="Ana Souza" if name == "held_br" else "Ирина Смирнова",
            buyer_language=BUYERS[name][0],
            shipped_at=START,
        )
        for serial, (name, journey) in enumerate(sorted(journeys.items()), start=1)
    }
    async with SandboxService(clock=clock.now, journeys=journeys) as service:
        for name, item in items.items():
            service.register(item.tracking_number, name, registered_at=START)
        config = TrackerConfig(
            store=StoreConfig(url=f"sqlite:///{tmp_path / 'tracker.sqlite3'}"),
            mail=MailConfig(transport="smtp", smtp=SmtpConfig(host="127.0.0.1", port=smtp.port)),
            carriers={"sandbox": CarrierConfig(base_url=service.base_url, requests_per_second=1e4)},
            refund=RefundConfig(notify_seller_email=SELLER),
        )
        app = build_app(config, clock)
        add_shipments(app.store, list(items.values()), clock.now())
        daemon = Daemon(app)
        try:
            while clock.now() < START + timedelta(days=47):
                await daemon.step()
                clock.advance(timedelta(hours=1))
        finally:
            await app.close()
    return items, config.store.url


def _sent_at(received: Received) -> datetime:
    return parsedate_to_datetime(str(received.message["Date"]))


@pytest.mark.slow
async def test_customs_hold_stall_and_refund_offer(tmp_path: Path, smtp_server: SmtpSink) -> None:
    items, url = await _run(tmp_path, smtp_server)
    messages = smtp_server.messages
    ids = Counter(str(r.message["Message-ID"]) for r in messages)
    assert set(ids.values()) == {1}, "a message was delivered twice"

    for name, item in items.items():
        _, zone, language = BUYERS[name]
        mine = [r for r in messages if r.rcpt_tos == [item.buyer_email]]
        assert [str(r.message["X-Tracker-Notice"]) for r in mine] == EXPECTED, name
        for received in mine:
            message = received.message
            kind = str(message["X-Tracker-Notice"])
            assert str(message["Subject"]) == _subject(language, kind, item.order_reference)
            html = message.get_body(preferencelist=("html",))
            assert html is not None
            assert f'lang="{language}"' in html.get_content()
            local = _sent_at(received).astimezone(ZoneInfo(zone))
            assert not _in_quiet_hours(local), f"{name} {kind} sent at {local:%H:%M} local"
        for before, after in pairwise(mine):
            if after.message["X-Tracker-Notice"] != "customs_action":
                gap = _sent_at(after) - _sent_at(before)
                assert gap >= MIN_GAP, f"{name}: {after.message['X-Tracker-Notice']} after {gap}"

    rows = notices(url)
    delayed = [n for n in rows if n.kind == "delayed"]
    assert [n.payload["reason"] for n in delayed] == ["stalled", "stalled"]
    # Quiet hours really held some notices back (the stall and the offer come due at night).
    assert any(n.not_before > n.created_at for n in rows if n.kind in ("delayed", "refund_offer"))

    seller = [r for r in messages if r.rcpt_tos == [SELLER]]
    assert sorted(str(r.message["X-Tracker-Notice"]) for r in seller) == [
        "seller_refund_offer",
        "seller_refund_offer",
    ]
    for item in items.values():
        (mail,) = [r for r in seller if item.tracking_number in str(r.message["Subject"])]
        (offer,) = [
            r
            for r in messages
            if r.rcpt_tos == [item.buyer_email] and r.message["X-Tracker-Notice"] == "refund_offer"
        ]
        assert _sent_at(mail) >= _sent_at(offer)
        assert f"Order: {item.order_reference}" in mail.message.get_content()
