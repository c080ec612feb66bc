"""Every journey of the journey table, through the real daemon, in every buyer language.

The sandbox carrier serves each journey over loopback HTTP, the daemon runs in simulated time
with a loopback SMTP server, and each email is checked against tests/journeys/journeys.toml: the
sequence of kinds and situations, the day it went out, and every claim it must and must never
make, proven by the wording of the buyer's own language.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from carriers.sandbox.journeys import load_journeys, sandbox_number
from carriers.sandbox.service import SandboxService
from notices.countries import choose_language
from notices.strings import Catalog
from tests.journeys import spec
from tests.support.smtp import SmtpSink
from tracker.clock import SimulatedClock
from tracker.config import (
    CarrierConfig,
    MailConfig,
    QuietHoursConfig,
    SmtpConfig,
    StoreConfig,
    TrackerConfig,
)
from tracker.runtime.app import build_app
from tracker.runtime.daemon import Daemon
from tracker.runtime.demo import DEMO_START
from tracker.store.models import Notice, Shipment
from tracker.store.shipments import NewShipment, add_shipments

pytestmark = pytest.mark.integration

LANGUAGES = Catalog().languages
DAYS = 60


@dataclass(frozen=True)
class Sent:
    """One email as the buyer received it, with what the store knows of it."""

    journey: str
    language: str
    #: the locale the notice was written in (a variant such as es-419 by destination)
    locale: str
    kind: str
    situation: str | None
    day: float
    text: str


def _shipments() -> dict[str, tuple[str, str]]:
    """tracking number -> (journey, language), one shipment per journey and language."""
    journeys = load_journeys()
    assert set(journeys) == set(spec.load().journeys), "every sandbox journey needs a spec entry"
    numbers = {}
    serial = 0
    for name in sorted(journeys):
        for lang in LANGUAGES:
            serial += 1
            numbers[sandbox_number(journeys[name], serial)] = (name, lang)
    return numbers


async def _run(tmp_path: Path, smtp: SmtpSink) -> list[Sent]:
    clock = SimulatedClock(DEMO_START)
    numbers = _shipments()
    journeys = load_journeys()
    async with SandboxService(clock=clock.now) as service:
        config = TrackerConfig(
            store=StoreConfig(url=f"sqlite:///{tmp_path / 'journeys.sqlite3'}"),
            mail=MailConfig(transport="smtp", smtp=SmtpConfig(host="127.0.0.1", port=smtp.port)),
            carriers={
                "sandbox": CarrierConfig(base_url=service.base_url, requests_per_second=10_000)
            },
            # Days are checked to the hour; quiet hours would shift them by the buyer's night.
            quiet_hours=QuietHoursConfig(enabled=False),
        )
        app = build_app(config, clock)
        items = []
        for number, (name, lang) in numbers.items():
            journey = journeys[name]
            service.register(number, name, registered_at=DEMO_START)
            items.append(
                NewShipment(
                    tracking_number=number,
                    carrier="sandbox",
                    buyer_email=f"{name}.{lang}@buyers.example",
                    buyer_name="Alex Kim",
                    buyer_language=lang,
                    destination_country=journey.destination,
                    origin_country=journey.origin,
                    order_reference=f"ORD-{number[-4:]}",
                    shipped_at=DEMO_START,
                )
            )
        add_shipments(app.store, items, clock.now())
        try:
            daemon = Daemon(app)
            end = DEMO_START + timedelta(days=DAYS)
            while clock.now() < end:
                await daemon.step()
                clock.advance(timedelta(hours=2))
            await daemon.step()
            with app.store() as session:
                rows = session.execute(
                    select(Shipment.tracking_number, Notice)
                    .join(Notice, Notice.shipment_id == Shipment.id)
                    .where(Notice.state == "sent", ~Notice.kind.startswith("seller_"))
                    .order_by(Notice.sent_at, Notice.id)
                ).all()
        finally:
            await app.close()
    texts = {}
    for received in smtp.messages:
        body = received.message.get_body(preferencelist=("plain",))
        assert body is not None
        texts[str(received.message["Message-ID"])] = body.get_content()
    sent = []
    for number, notice in rows:
        name, lang = numbers[number]
        assert notice.sent_at is not None
        day = (notice.sent_at - DEMO_START) / timedelta(days=1)
        situation = (notice.payload or {}).get("situation")
        text = texts[str(notice.message_id)]
        locale = choose_language(lang, journeys[name].destination, "en")
        sent.append(Sent(name, lang, locale, notice.kind, situation, day, text))
    return sent


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> list[Sent]:
    smtp = SmtpSink()
    smtp.start()
    try:
        return asyncio.run(_run(tmp_path_factory.mktemp("journeys"), smtp))
    finally:
        smtp.stop()


@pytest.mark.slow
@pytest.mark.parametrize("journey", sorted(spec.load().journeys))
def test_journey_sends_exactly_its_notices_in_every_language(
    sent: list[Sent], journey: str
) -> None:
    expected = spec.load().journeys[journey]
    for lang in LANGUAGES:
        got = [s for s in sent if s.journey == journey and s.language == lang]
        assert [(s.kind, s.situation) for s in got] == [(e.kind, e.situation) for e in expected], (
            f"{journey} in {lang}: {[(s.kind, s.situation, round(s.day, 1)) for s in got]}"
        )
        for email, item in zip(got, expected, strict=True):
            low, high = item.days
            assert low <= email.day <= high, f"{journey}/{lang}: {item.kind} on day {email.day:.1f}"


@pytest.mark.slow
@pytest.mark.parametrize("journey", sorted(spec.load().journeys))
def test_journey_notices_make_their_claims_and_never_the_false_ones(
    sent: list[Sent], journey: str
) -> None:
    expected = spec.load().journeys[journey]
    checked = 0
    for lang in LANGUAGES:
        got = [s for s in sent if s.journey == journey and s.language == lang]
        kinds = [(s.kind, s.situation) for s in got]
        assert kinds == [(e.kind, e.situation) for e in expected], f"{journey}/{lang}: {kinds}"
        for email, item in zip(got, expected, strict=True):
            for claim in sorted(item.must):
                assert spec.makes(email.text, email.locale, claim), (
                    f"{journey}/{lang} {item.kind}: must say {claim!r}\n{email.text}"
                )
                checked += 1
            for claim in sorted(item.never):
                assert not spec.makes(email.text, email.locale, claim), (
                    f"{journey}/{lang} {item.kind}: must never say {claim!r}\n{email.text}"
                )
                checked += 1
    assert checked > 0
