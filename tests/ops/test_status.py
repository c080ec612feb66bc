"""`tracker status`: what it reports and when it exits non-zero (monitoring runs it as a check)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.support.orders import order
from tests.support.outbox import pending_notice
from tracker.cli import main
from tracker.store.db import open_store
from tracker.store.heartbeats import Beat, write_heartbeat
from tracker.store.models import AuditEntry, Shipment
from tracker.store.shipments import add_shipments

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
EVERY = timedelta(seconds=30)


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    return url, open_store(url)


def beat(factory: sessionmaker[Session], at: datetime, state: str = "running", **data: Any) -> None:
    write_heartbeat(
        factory,
        Beat(
            owner="host:1:abc",
            host="host",
            pid=1,
            state=state,
            started_at=at - timedelta(hours=1),
            at=at,
            interval=EVERY,
            config_digest="0123456789ab",
            data={"reloads": 0, **data},
        ),
    )


def status(url: str, *extra: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(
        main, ["status", "--json", "--store", url, "--at", NOW.isoformat(), *extra]
    )
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def test_no_daemon_ever_is_unhealthy(store: tuple[str, sessionmaker[Session]]) -> None:
    code, report = status(store[0])
    assert code == 1
    assert report["scheduler"]["state"] == "never_started"
    assert "no daemon has ever written a heartbeat" in report["problems"][0]


def test_a_fresh_heartbeat_is_healthy_and_reports_queues_and_breakers(
    store: tuple[str, sessionmaker[Session]],
) -> None:
    url, factory = store
    add_shipments(factory, [order("9400100000000000000001", "usps")], NOW - timedelta(minutes=5))
    beat(factory, NOW - EVERY, breakers={"usps": {"state": "open", "failures": 5}})
    code, report = status(url)
    assert code == 0, report["problems"]
    assert report["healthy"] is True
    assert report["scheduler"]["state"] == "running"
    assert report["queues"]["poll_due"] == 1
    assert report["shipments"] == {"pending": 1}
    assert report["carriers"]["usps"] == {
        "active_shipments": 1,
        "last_successful_poll": None,
        "circuit": "open",
        "consecutive_failures": 5,
        "credentials_rejected": None,
    }


def test_missed_heartbeats_make_it_unhealthy(store: tuple[str, sessionmaker[Session]]) -> None:
    url, factory = store
    beat(factory, NOW - 3 * EVERY)
    assert status(url)[0] == 0
    beat(factory, NOW - 3 * EVERY - timedelta(seconds=1))
    code, report = status(url)
    assert code == 1
    assert report["scheduler"]["daemons"][0]["state"] == "stale"
    assert "no heartbeat for 91s" in report["problems"][0]
    assert status(url, "--missed-beats", "4")[0] == 0


def test_a_stopped_daemon_is_unhealthy(store: tuple[str, sessionmaker[Session]]) -> None:
    url, factory = store
    beat(factory, NOW - timedelta(seconds=5), state="stopped")
    code, report = status(url)
    assert code == 1
    assert report["scheduler"]["state"] == "stopped"


def test_failing_notices_above_the_threshold_are_unhealthy(
    store: tuple[str, sessionmaker[Session]],
) -> None:
    url, factory = store
    beat(factory, NOW)
    with factory.begin() as session:
        for hours in range(1, 4):
            session.add(AuditEntry(at=NOW - timedelta(hours=hours), kind="notice.failed", data={}))
        session.add(AuditEntry(at=NOW - timedelta(days=3), kind="notice.failed", data={}))
    code, report = status(url, "--max-failed-notices", "3")
    assert (code, report["notices"]["failed_recent"]) == (0, 3)
    code, report = status(url, "--max-failed-notices", "2")
    assert code == 1
    assert report["problems"] == ["3 notices failed in the last 1d (limit 2)"]
    assert status(url, "--max-failed-notices", "2", "--failed-window", "2h")[0] == 0


def test_a_carrier_without_a_successful_poll_for_long_is_unhealthy(
    store: tuple[str, sessionmaker[Session]],
) -> None:
    url, factory = store
    beat(factory, NOW)
    add_shipments(factory, [order("1Z999AA10123456784", "ups")], NOW - timedelta(hours=7))
    code, report = status(url)
    assert code == 1
    assert report["problems"] == [
        "carrier ups: no successful poll for over 6h (never; 1 shipments waiting)"
    ]
    with factory.begin() as session:
        session.execute(update(Shipment).values(last_polled_at=NOW - timedelta(hours=1)))
    assert status(url)[0] == 0
    assert status(url, "--carrier-stale-after", "30m")[0] == 1


def test_retrying_notices_show_in_the_queues(store: tuple[str, sessionmaker[Session]]) -> None:
    url, factory = store
    beat(factory, NOW)
    (shipment_id,) = add_shipments(factory, [order("9400100000000000000002", "usps")], NOW)
    with factory.begin() as session:
        for key, attempts in (("a", 0), ("b", 2)):
            due = NOW + timedelta(hours=attempts)
            session.add(
                pending_notice(shipment_id, NOW, key=key, not_before=due, attempts=attempts)
            )
    _code, report = status(url)
    assert report["queues"]["notices_pending"] == 2
    assert report["queues"]["notices_due"] == 1
    assert report["queues"]["notices_retrying"] == 1


def test_human_output_names_the_problem(store: tuple[str, sessionmaker[Session]]) -> None:
    result = CliRunner().invoke(main, ["status", "--store", store[0]])
    assert result.exit_code == 1
    assert "UNHEALTHY" in result.stdout
    assert "no daemon has ever written a heartbeat" in result.stdout
