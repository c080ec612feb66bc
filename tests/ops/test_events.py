"""`tracker events`: the audit log filtered the ways ops ask "what happened to parcel X?"."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from tests.support.orders import order
from tracker.cli import main
from tracker.store.db import open_store
from tracker.store.models import AuditEntry
from tracker.store.shipments import add_shipments

NOW = datetime.now(UTC).replace(microsecond=0)
SHIPPED = NOW - timedelta(days=9)


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, list[int]]:
    """Two shipments on two carriers with a short history each, some of it old."""
    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    factory: sessionmaker[Session] = open_store(url)
    ids = add_shipments(
        factory,
        [
            order("LB123456789CN", "correios", shipped_at=SHIPPED),
            order("9400100000000000000009", "usps", shipped_at=SHIPPED),
        ],
        NOW,
    )
    rows = [
        (ids[0], NOW - timedelta(days=5), "shipment.status_changed", {"status": "in_transit"}),
        (ids[0], NOW - timedelta(hours=3), "notice.sent", {"kind": "in_transit"}),
        (ids[0], NOW - timedelta(hours=2), "notice.failed", {"error": "550 jane.doe@example.com"}),
        (ids[1], NOW - timedelta(hours=1), "notice.retry_scheduled", {"error": "451 later"}),
    ]
    with factory.begin() as session:
        for shipment_id, at, kind, data in rows:
            session.add(AuditEntry(shipment_id=shipment_id, at=at, kind=kind, data=data))
    return url, ids


def events(url: str, *args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(main, ["events", "--store", url, "--json", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def kinds(records: list[dict[str, Any]]) -> list[str]:
    return [r["kind"] for r in records]


def test_by_tracking_number_oldest_first_with_carrier_and_number(
    store: tuple[str, list[int]],
) -> None:
    records = events(store[0], "--tracking", "lb 123 456 789 cn")
    assert kinds(records) == [
        "shipment.status_changed",
        "notice.sent",
        "notice.failed",
        "shipment.added",
    ]
    assert {r["tracking_number"] for r in records} == {"LB123456789CN"}
    # notice rows carry no carrier of their own; it comes from the shipment
    assert {r["carrier"] for r in records} == {"correios"}


def test_by_shipment_id(store: tuple[str, list[int]]) -> None:
    url, ids = store
    assert kinds(events(url, "--shipment", str(ids[1]))) == [
        "notice.retry_scheduled",
        "shipment.added",
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--kind", "notice"], ["notice.sent", "notice.failed", "notice.retry_scheduled"]),
        (["--kind", "notice.failed", "--kind", "notice.sent"], ["notice.sent", "notice.failed"]),
        (["--carrier", "usps"], ["notice.retry_scheduled", "shipment.added"]),
        (["--carrier", "usps", "--kind", "shipment"], ["shipment.added"]),
        (
            ["--since", "2d"],
            [
                "notice.sent",
                "notice.failed",
                "notice.retry_scheduled",
                "shipment.added",
                "shipment.added",
            ],
        ),
        (["--since", "90m", "--kind", "notice"], ["notice.retry_scheduled"]),
        (["--limit", "1", "--kind", "notice"], ["notice.retry_scheduled"]),
    ],
)
def test_filters_combine(
    store: tuple[str, list[int]], args: list[str], expected: list[str]
) -> None:
    assert kinds(events(store[0], *args)) == expected


def test_buyer_emails_are_redacted(store: tuple[str, list[int]]) -> None:
    (failed,) = events(store[0], "--kind", "notice.failed")
    assert failed["data"] == {"error": "550 j***@example.com"}


def test_since_accepts_an_iso_date(store: tuple[str, list[int]]) -> None:
    since = (NOW - timedelta(days=6)).date().isoformat()
    assert len(events(store[0], "--since", since)) == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shipment", "1", "--tracking", "X"], "give --shipment or --tracking, not both"),
        (["--since", "yesterday"], "--since 'yesterday'"),
    ],
)
def test_bad_arguments_are_named(
    store: tuple[str, list[int]], args: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, ["events", "--store", store[0], *args])
    assert result.exit_code == 2
    assert message in result.output


def test_table_output(store: tuple[str, list[int]]) -> None:
    result = CliRunner().invoke(
        main, ["events", "--store", store[0], "--tracking", "LB123456789CN"]
    )
    assert result.exit_code == 0
    assert "notice.failed" in result.stdout
    assert "notice.sent" in result.stdout
    assert "jane.doe" not in result.stdout
