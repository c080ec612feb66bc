"""`tracker add`, `tracker import`, `tracker show` and `tracker check-config` on a real store."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from tracker.cli import main
from tracker.store.db import open_store
from tracker.store.models import AuditEntry, Shipment

HEADER = (
    "tracking_number,carrier,buyer_email,buyer_name,buyer_language,"
    "destination_country,order_reference,shipped_date\n"
)
GOOD_S10 = "RR473124829GB"  # UPU S10 with a valid check digit (the UPU's own example)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "tracker.toml"
    path.write_text('[store]\nurl = "sqlite:///store.sqlite3"\n[carriers.russian_post]\n')
    return path


def run(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*args, "--config", str(config)])
    return result.exit_code, result.stdout, result.stderr


def count(config: Path) -> int:
    factory = open_store(f"sqlite:///{config.parent / 'store.sqlite3'}")
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(Shipment)) or 0)


def add_args(number: str = "SBNM00000001", **overrides: str) -> list[str]:
    values = {
        "--carrier": "sandbox",
        "--email": "ana@example.com",
        "--name": "Ana Souza",
        "--language": "pt",
        "--country": "BR",
        "--order": "ORD-1",
        "--shipped": "2026-11-20",
    }
    values.update(overrides)
    return ["add", number, *[part for pair in values.items() for part in pair]]


def test_add_then_show(config: Path) -> None:
    code, out, _ = run(config, *add_args())
    assert code == 0, out
    assert "SBNM00000001 via sandbox" in out
    code, out, _ = run(config, "show", "sbnm 00000001")
    assert code == 0
    assert "order ORD-1" in out
    assert "status pending" in out
    factory = open_store(f"sqlite:///{config.parent / 'store.sqlite3'}")
    with factory() as session:
        assert session.scalar(select(AuditEntry.kind)) == "shipment.added"


@pytest.mark.parametrize(
    ("overrides", "number", "message"),
    [
        ({"--email": "ana@@example"}, "SBNM00000001", "buyer_email: 'ana@@example' is not a valid"),
        ({"--name": "Ana\r\nBcc: x@evil.example"}, "SBNM00000001", "buyer_name: "),
        ({"--country": "XY"}, "SBNM00000001", "destination_country: 'XY' is not an ISO 3166"),
        ({"--language": "klingonese"}, "SBNM00000001", "buyer_language: 'klingonese'"),
        ({"--shipped": "2026-02-30"}, "SBNM00000001", "shipped_date: '2026-02-30' is not a date"),
        ({"--shipped": "2999-01-01"}, "SBNM00000001", "is in the future"),
        ({"--carrier": "pigeon"}, "SBNM00000001", "carrier: 'pigeon' is not configured"),
        ({"--carrier": "auto"}, "RR473124828GB", "check digit is wrong"),
        ({}, "AB<script>", "tracking_number: 'AB<script>' must be 6 to 40 letters"),
    ],
)
def test_add_rejects_bad_input_and_stores_nothing(
    config: Path, overrides: dict[str, str], number: str, message: str
) -> None:
    code, _, err = run(config, *add_args(number, **overrides))
    assert code == 2
    assert message in err
    assert count(config) == 0


def test_add_routes_a_detected_number(config: Path) -> None:
    code, out, err = run(
        config, *add_args("RA473124829RU", **{"--carrier": "auto", "--country": "RU"})
    )
    assert code == 0, err
    assert "RA473124829RU via russian_post" in out
    code, _, err = run(config, *add_args(GOOD_S10, **{"--carrier": "auto", "--country": "GB"}))
    assert code == 2
    assert "'RR473124829GB' looks like post_gb, which is not configured" in err
    assert "no [routing] aggregator is set" in err


def test_adding_the_same_number_twice_is_refused(config: Path) -> None:
    assert run(config, *add_args())[0] == 0
    code, _, err = run(config, *add_args())
    assert code == 2
    assert "already tracked: SBNM00000001 (sandbox)" in err
    assert count(config) == 1


def test_import_keeps_good_rows_and_reports_bad_ones_by_line(config: Path, tmp_path: Path) -> None:
    assert run(config, *add_args("SBNM00000009"))[0] == 0
    csv_file = tmp_path / "orders.csv"
    csv_file.write_text(
        HEADER
        + "SBNM00000001,sandbox,a@example.com,Ann,en,US,O-1,2026-11-01\n"  # line 2: good
        + "SBNM00000002,sandbox,not-an-email,Bob,en,US,O-2,2026-11-01\n"  # line 3
        + "SBNM00000003,sandbox,c@example.com,Cy,en,US,O-3,2026-13-01\n"  # line 4
        + "SBNM00000001,sandbox,d@example.com,Di,en,US,O-4,2026-11-01\n"  # line 5: repeat
        + "SBNM00000009,sandbox,e@example.com,Ed,en,US,O-5,2026-11-01\n"  # line 6: stored already
        + "SBSL00000004,sandbox,f@example.com,Fé,,RU,O-6,2026-11-01\n"  # line 7: good
        + "SBSL00000005,sandbox,g@example.com,Gi,en,RU,O-7\n",  # line 8: short row
        encoding="utf-8",
    )
    code, out, err = run(config, "import", str(csv_file))
    assert code == 1
    assert "imported 2 shipment(s), rejected 5 row(s)" in out
    store, *lines = err.strip().splitlines()
    assert store.startswith("store: ")
    assert [line.split(":")[1] for line in lines] == ["3", "4", "5", "6", "8"]
    assert "buyer_email: 'not-an-email'" in lines[0]
    assert "shipped_date: '2026-13-01'" in lines[1]
    assert "repeats line 2" in lines[2]
    assert "already tracked" in lines[3]
    assert "shipped_date: missing" in lines[4]
    assert count(config) == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("tracking_number,buyer_email\nX,y\n", "CSV header: missing column(s)"),
        (HEADER.strip() + ",coupon\n", "CSV header: unknown column(s) coupon"),
    ],
)
def test_import_rejects_a_bad_header_whole(
    config: Path, tmp_path: Path, content: str, message: str
) -> None:
    csv_file = tmp_path / "orders.csv"
    csv_file.write_text(content)
    code, _, err = run(config, "import", str(csv_file))
    assert code == 2
    assert message in err
    assert str(csv_file) in err


def test_import_rejects_non_utf8(config: Path, tmp_path: Path) -> None:
    csv_file = tmp_path / "orders.csv"
    csv_file.write_bytes(HEADER.encode() + "SBNM00000001,sandbox,a@x.com,Jos\xe9".encode("latin-1"))
    code, _, err = run(config, "import", str(csv_file))
    assert code == 2
    assert "not UTF-8" in err
    assert count(config) == 0


def test_show_unknown_number(config: Path) -> None:
    assert run(config, *add_args())[0] == 0
    code, _, err = run(config, "show", "SBNM00000077")
    assert code == 2
    assert "'SBNM00000077' is not tracked" in err


def test_check_config_points_at_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[mail]\ntransport = "pigeon"\n[seller]\nstore_nam = "x"\n')
    result = CliRunner().invoke(main, ["check-config", str(bad)])
    assert result.exit_code == 2
    assert "mail.transport:" in result.stderr
    assert "seller.store_nam: unknown key" in result.stderr
    good = tmp_path / "good.toml"
    good.write_text('[seller]\nstore_name = "Shop"\n')
    result = CliRunner().invoke(main, ["check-config", str(good)])
    assert result.exit_code == 0
    assert "OK" in result.stdout
