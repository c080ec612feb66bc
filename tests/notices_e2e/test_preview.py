"""`tracker preview KIND --lang LL`: a notice rendered to files to look at, for the built-in
sample parcel or for a stored shipment, with the seller's overrides applied."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from notices.languages import supported_languages
from notices.strings import Catalog
from tests.notices_e2e.conftest import T0, shipment, stored
from tracker.cli import main
from tracker.model import Milestone
from tracker.store.db import open_store
from tracker.store.models import TrackingEvent

CATALOG = Catalog()


def _subject(language: str, kind: str, order: str) -> str:
    return CATALOG.raw(language, f"{kind}.subject").format(order=order)


def _preview(tmp_path: Path, *args: str) -> tuple[int, str]:
    config = tmp_path / "tracker.toml"
    if not config.exists():
        config.write_text('[store]\nurl = "sqlite:///tracker.sqlite3"\n')
    result = CliRunner().invoke(main, ["preview", *args, "--config", str(config)])
    return result.exit_code, result.output


@pytest.mark.parametrize("kind", [m.value for m in Milestone])
@pytest.mark.parametrize("language", supported_languages())
def test_sample_of_every_kind_and_language(tmp_path: Path, kind: str, language: str) -> None:
    out = tmp_path / "out" / f"{kind}.html"
    code, output = _preview(tmp_path, kind, "--lang", language, "--out", str(out))
    assert code == 0, output
    text_file = out.with_suffix(".txt")
    assert output.split() == [str(out), str(text_file)]
    html, text = out.read_text("utf-8"), text_file.read_text("utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    assert f'lang="{language}"' in html
    assert text.startswith(f"Subject: {_subject(language, kind, 'ORD-1001')}\n")
    for part in (html, text):
        assert "RR123456785CN" in part
        assert "{" not in part.replace("{ ", "")  # no unrendered placeholder


def test_eml_holds_the_whole_email(tmp_path: Path) -> None:
    out = tmp_path / "refund.eml"
    code, output = _preview(tmp_path, "refund_offer", "--lang", "pt", "--out", str(out))
    assert code == 0, output
    message = message_from_bytes(out.read_bytes(), policy=policy.default)
    assert message["X-Tracker-Notice"] == "refund_offer"
    assert message["Subject"] == _subject("pt", "refund_offer", "ORD-1001")
    assert message.get_content_type() == "multipart/alternative"


def test_stored_shipment_quotes_its_latest_event_in_its_buyers_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default output file goes to the working directory
    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    (shipment_id,) = stored(
        url, shipment("RR473124829GB", carrier="sandbox", order_reference="X-7")
    )
    with open_store(url).begin() as session:
        for days, text in ((1, "Item accepted"), (9, "Held by customs: documents required")):
            session.add(
                TrackingEvent(
                    shipment_id=shipment_id,
                    fingerprint=f"f{days}",
                    occurred_at=T0 - timedelta(days=40 - days),
                    code=None,
                    text=text,
                    location="Curitiba",
                    country="BR",
                    carrier="sandbox",
                    status="exception" if days == 9 else "in_transit",
                    detail="customs_hold" if days == 9 else "accepted",
                    rule=None,
                    recorded_at=T0,
                )
            )
    out = tmp_path / "customs.html"
    code, output = _preview(
        tmp_path, "customs_action", "--tracking", "rr 473124829 gb", "--out", str(out)
    )
    assert code == 0, output
    text = out.with_suffix(".txt").read_text("utf-8")
    assert text.startswith(f"Subject: {_subject('pt', 'customs_action', 'X-7')}\n")
    assert "Held by customs: documents required" in text
    assert "Item accepted" not in text
    assert "RR473124829GB" in out.read_text("utf-8")

    code, output = _preview(tmp_path, "delayed", "--tracking", "RR473124829GB", "--lang", "ru")
    assert code == 0, output
    store_line, *written = output.splitlines()  # the store it read is said on stderr first
    assert (
        store_line == f"store: {tmp_path / 'tracker.sqlite3'} (config {tmp_path / 'tracker.toml'})"
    )
    assert written == ["preview-delayed-ru.html", "preview-delayed-ru.txt"]
    assert "Здравствуйте" in (tmp_path / "preview-delayed-ru.txt").read_text("utf-8")


def test_unknown_number_is_an_error(tmp_path: Path) -> None:
    open_store(f"sqlite:///{tmp_path / 'tracker.sqlite3'}").kw["bind"].dispose()  # read, not made
    code, output = _preview(tmp_path, "shipped", "--tracking", "RR000000000XX")
    assert code == 2
    assert "not tracked" in output


def test_seller_overrides_show_in_the_preview(tmp_path: Path) -> None:
    strings = tmp_path / "notices.toml"
    strings.write_text('[en.delivered]\nsubject = "Your parcel {order} is home"\n')
    (tmp_path / "tracker.toml").write_text(
        '[store]\nurl = "sqlite:///tracker.sqlite3"\n[notices]\nstrings_file = "notices.toml"\n'
    )
    out = tmp_path / "d.html"
    code, output = _preview(tmp_path, "delivered", "--out", str(out))
    assert code == 0, output
    assert (
        out.with_suffix(".txt")
        .read_text("utf-8")
        .startswith("Subject: Your parcel ORD-1001 is home\n")
    )
