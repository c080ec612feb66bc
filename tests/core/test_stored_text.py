"""Stored text is text (issue 13, item 6): not terminal markup, not control characters.

Control characters from carriers (ESC sequences, NUL, bidirectional overrides) are removed where
events enter, so they reach neither terminals nor emails, and NUL never reaches PostgreSQL,
which refuses it in text. What ``tracker show`` and ``tracker events`` print is escaped for
rich, so an order reference ``[/bold]`` or ``[link=...]`` is shown as written.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from carriers.base import CarrierReply, CarrierSettings
from carriers.sandbox.adapter import SandboxAdapter
from tests.reliability.harness import START, write_config
from tests.support.loopback import LoopbackHTTPServer, Reply
from tracker.cli import main
from tracker.clock import SimulatedClock
from tracker.config import load_config
from tracker.errors import InputError
from tracker.model import RawEvent
from tracker.orders import parse_order
from tracker.runtime.app import build_app
from tracker.runtime.daemon import Daemon
from tracker.store.db import open_store
from tracker.store.models import AuditEntry, TrackingEvent
from tracker.store.shipments import NewShipment, add_shipments

#: the colour and weight sequences rich itself writes (SGR), which are not the stored text's
STYLES = re.compile(r"\x1b\[[0-9;]*m")
WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
#: clear the screen, set the window title, a terminal hyperlink: what a carrier's text sent
HOSTILE = "Arrived\x00 at\x1b[2J sorting\x1b]0;pwned\x07 centre\x1b]8;;https://evil.example\x1b\\"

CLEANED = [
    ("Arrived\x00 at sorting centre", "Arrived at sorting centre"),
    ("\x1b[31mHeld by customs\x1b[0m", "[31mHeld by customs[0m"),
    ("line one\nline two\tthen\r\n", "line one line two then  "),
    ("C1 \x85next line and \x9bCSI", "C1 next line and CSI"),
    ("Entregue \u202eetneilc\u202c ao destinatário", "Entregue etneilc ao destinatário"),
    ("Вручение адресату", "Вручение адресату"),
]


@pytest.mark.parametrize(("raw", "kept"), CLEANED)
def test_raw_events_keep_no_control_characters(raw: str, kept: str) -> None:
    event = RawEvent(WHEN, raw, code="EM\x00C", location=raw, country="B\x1bR")
    assert (event.text, event.location) == (kept, kept)
    assert (event.code, event.country) == ("EMC", "BR")


def test_clean_text_is_kept_as_the_same_object() -> None:
    text = "Delivered to the recipient"
    assert RawEvent(WHEN, text).text is text


def test_a_carrier_reply_is_cleaned_where_it_is_parsed() -> None:
    body = {
        "results": [
            {
                "tracking_number": "SBNX00000001",
                "found": True,
                "events": [
                    {"time": WHEN.isoformat(), "description": HOSTILE, "location": "Curitiba\x00"}
                ],
            }
        ]
    }
    reply = CarrierReply(
        numbers=("SBNX00000001",),
        status_code=200,
        body=json.dumps(body).encode(),
        content_type="application/json",
        url="http://sandbox.invalid/v1/track",
    )
    (result,) = SandboxAdapter(CarrierSettings()).parse(reply)
    (event,) = result.events
    assert event.text == "Arrived at[2J sorting]0;pwned centre]8;;https://evil.example\\"
    assert event.location == "Curitiba"


async def test_a_nul_from_a_carrier_is_stored_on_every_database(
    tmp_path: Path, store_url: str, loopback_http: LoopbackHTTPServer
) -> None:
    number = "SBNX00000001"
    event = {"time": START.isoformat(), "description": HOSTILE, "code": "EMC\x00"}
    body = {"results": [{"tracking_number": number, "found": True, "events": [event]}]}
    loopback_http.route("GET", "/v1/track", lambda r: Reply(200, json.dumps(body)))
    config = write_config(
        tmp_path / "tracker.toml",
        db=store_url,
        carriers={"sandbox": loopback_http.base_url},
        smtp_port=None,
        maildir=tmp_path / "mail",
    )
    app = build_app(load_config(config), SimulatedClock(START))
    try:
        add_shipments(app.store, [order(number)], START)
        await Daemon(app).step()
    finally:
        await app.close()
    factory = open_store(store_url)
    with factory() as session:
        (stored,) = session.scalars(select(TrackingEvent)).all()
        assert "\x00" not in stored.text
        assert "\x1b" not in stored.text
        assert stored.code == "EMC"
        failures = session.scalars(select(AuditEntry).where(AuditEntry.kind.like("%fail%")))
        assert list(failures) == []
    factory.kw["bind"].dispose()


def order(number: str, reference: str = "ORD-1") -> NewShipment:
    return NewShipment(
        tracking_number=number,
        carrier="sandbox",
        buyer_email="ana@buyers.example",
        buyer_name="Ana [bold]Souza",
        buyer_language="pt",
        destination_country="BR",
        origin_country="CN",
        order_reference=reference,
        shipped_at=START,
    )


@pytest.mark.parametrize(
    "reference", ["[/bold]", "[link=https://evil.example]click[/link]", "[red]x", "\\[b]"]
)
def test_show_prints_stored_markup_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: str
) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    factory = open_store(url)
    (shipment_id,) = add_shipments(factory, [order("SBNX00000002", reference)], START)
    with factory.begin() as session:  # as stored by a version that did not clean carrier text
        session.add(
            TrackingEvent(
                shipment_id=shipment_id,
                occurred_at=START,
                text=HOSTILE.replace("\x00", ""),
                fingerprint="f" * 32,
                status="in_transit",
                carrier="sandbox",
                recorded_at=START,
            )
        )
        session.add(
            AuditEntry(
                shipment_id=shipment_id,
                at=START,
                kind="notice.failed",
                carrier="sandbox",
                data={"error": f"{reference} {HOSTILE}"},
            )
        )
    monkeypatch.setenv("FORCE_COLOR", "1")  # a real terminal: markup would become escapes
    monkeypatch.setenv("COLUMNS", "400")
    result = CliRunner().invoke(main, ["show", "--store", url, "SBNX00000002"])
    assert result.exit_code == 0, result.output
    assert reference in STYLES.sub("", result.output)  # rich's own colouring taken out
    for sequence in ("\x1b[2J", "\x1b]0;", "\x1b]8;"):
        assert sequence not in result.output

    events = CliRunner().invoke(main, ["events", "--store", url])
    assert events.exit_code == 0, events.output
    assert reference in STYLES.sub("", events.output)
    for sequence in ("\x1b[2J", "\x1b]0;", "\x1b]8;"):
        assert sequence not in events.output


@pytest.mark.parametrize("bad", ["ORD\x1b[2J", "ORD\x00", "ORD\u202e1", "ORD\x85X"])
def test_orders_with_control_characters_are_refused(bad: str) -> None:
    row = {
        "tracking_number": "SBNX00000003",
        "carrier": "sandbox",
        "buyer_email": "ana@buyers.example",
        "buyer_name": "Ana",
        "destination_country": "BR",
        "order_reference": bad,
        "shipped_date": "2026-03-01",
    }
    with pytest.raises(InputError, match=r"order_reference: .* control characters"):
        parse_order(row, now=START, carriers=["sandbox"])
