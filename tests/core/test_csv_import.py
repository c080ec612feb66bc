"""`tracker import` on malformed and large files (issue 13, item 10): every problem names its
real line, a malformed file stores nothing, and a long file is streamed in batches."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.test_orders_cli import HEADER, count, run


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "tracker.toml"
    path.write_text('[store]\nurl = "sqlite:///store.sqlite3"\n')
    return path


ROW = "SBNM{n:08d},sandbox,buyer{n}@example.com,Buyer {n},pt,BR,ORD-{n},2026-11-20\n"


def rows(first: int, last: int) -> str:
    return "".join(ROW.format(n=n) for n in range(first, last + 1))


def write(tmp_path: Path, content: str | bytes) -> Path:
    csv_file = tmp_path / "orders.csv"
    if isinstance(content, bytes):
        csv_file.write_bytes(content)
    else:
        csv_file.write_text(content, encoding="utf-8")
    return csv_file


MALFORMED: dict[str, tuple[str | bytes, str]] = {
    "a field over the csv module's limit": (
        HEADER + rows(1, 2) + ROW.format(n=3).replace("Buyer 3", "B" * 140_000) + rows(4, 5),
        "orders.csv: line 4: a field is longer than 131,072 characters",
    ),
    "a column named twice": (
        HEADER.strip() + ",buyer_email\n" + rows(1, 2),
        "CSV header: column 'buyer_email' appears twice (columns 3 and 9)",
    ),
    "an unterminated quote near the end": (
        HEADER
        + rows(1, 3)
        + 'SBNM00000004,sandbox,d@example.com,"Di,pt,BR,O-4,2026-11-20\n'
        + rows(5, 6),
        "orders.csv: line 5: a quote opened on this line is never closed (the file ends inside it)",
    ),
    "an unterminated quote early in a long file": (
        HEADER
        + rows(1, 3)
        + 'SBNM00000004,sandbox,d@example.com,"Di,pt,BR,O-4,2026-11-20\n'
        + rows(5, 3000),
        "orders.csv: line 5: a field runs on past 131,072 characters: a quote opened on this"
        " line is never closed",
    ),
    "text after a closing quote": (
        HEADER + rows(1, 1) + 'SBNM00000002,sandbox,b@example.com,"Bo"b,pt,BR,O-2,2026-11-20\n',
        "orders.csv: line 3: text follows a closing quote; inside a quoted field write a quote"
        ' as two ("")',
    ),
    "bytes that are not UTF-8 on line 3": (
        (HEADER + rows(1, 1)).encode()
        + "SBNM00000002,sandbox,b@x.com,Jos\xe9,pt,BR,O,2026-11-20\n".encode("latin-1"),
        "orders.csv: line 3: not UTF-8 text (invalid continuation byte at byte 33 of the line)",
    ),
    "an empty file": ("", "orders.csv: CSV header: missing column(s) tracking_number, buyer_email"),
}


@pytest.mark.parametrize(("content", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_file_is_refused_whole_with_its_real_line(
    config: Path, tmp_path: Path, content: str | bytes, message: str
) -> None:
    code, out, err = run(config, "import", str(write(tmp_path, content)))
    assert code == 2, (out, err)
    assert message in err
    assert "Traceback" not in err
    assert count(config) == 0


def test_lines_stay_right_after_a_quoted_field_with_line_breaks(
    config: Path, tmp_path: Path
) -> None:
    content = (
        HEADER
        + rows(1, 1)
        + 'SBNM00000002,sandbox,b@example.com,"Bo\nBoss",pt,BR,O-2,2026-11-20\n'  # lines 3-4
        + "SBNM00000003,sandbox,not-an-email,Cy,pt,BR,O-3,2026-11-20\n"  # line 5
    )
    code, out, err = run(config, "import", str(write(tmp_path, content)))
    assert code == 1
    assert "buyer_name: 'Bo\\nBoss' contains line breaks" in err
    store, *reported = err.strip().splitlines()
    assert store.startswith("store: ")
    assert [line.split(":")[1] for line in reported] == ["3", "5"]
    assert "imported 1 shipment(s), rejected 2 row(s)" in out


def test_a_long_file_is_stored_in_batches_and_bad_lines_keep_their_numbers(
    config: Path, tmp_path: Path
) -> None:
    content = HEADER + rows(1, 2400) + ROW.format(n=1).replace("SBNM00000001", "SBNM00009999")
    content += "SBNM00002401,sandbox,not-an-email,X,pt,BR,O,2026-11-20\n" + rows(1, 1)
    code, out, err = run(config, "import", str(write(tmp_path, content)))
    assert code == 1
    assert "imported 2401 shipment(s), rejected 2 row(s)" in out
    store, *lines = err.strip().splitlines()
    assert store.startswith("store: ")
    assert lines == [
        f"{tmp_path / 'orders.csv'}:2403: buyer_email: 'not-an-email' is not a valid email address "
        "(write it like name@example.com)",
        f"{tmp_path / 'orders.csv'}:2404: tracking_number: 'SBNM00000001' repeats line 2",
    ]
    assert count(config) == 2401
