"""Selecting due work walks the partial due indexes and touches only due rows (EXPLAIN on both)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, insert, text
from sqlalchemy.orm import Session, sessionmaker

from tests.store.conftest import NOW
from tracker.store.models import Shipment
from tracker.store.shipments import due_query

ROWS = 5_000
DUE = 40


def _fill(store: sessionmaker[Session]) -> None:
    """ROWS shipments: DUE overdue, a few final (no next poll), the rest due over the next days."""
    rows: list[dict[str, Any]] = []
    for i in range(ROWS):
        if i < DUE:
            next_poll = NOW - timedelta(minutes=i + 1)
        elif i % 10 == 0:
            next_poll = None
        else:
            next_poll = NOW + timedelta(minutes=i)
        rows.append(
            {
                "tracking_number": f"SBIX{i:08d}",
                "carrier": "sandbox",
                "buyer_email": "b@example.com",
                "buyer_name": "B",
                "destination_country": "DE",
                "order_reference": f"O{i}",
                "shipped_at": NOW,
                "created_at": NOW,
                "status": "in_transit",
                "next_poll_at": next_poll,
                "next_timer_at": next_poll,
                "unchanged_polls": 0,
                "poll_failures": 0,
                "opted_out": False,
            }
        )
    with store.begin() as session:
        session.execute(insert(Shipment), rows)


def _compiled(connection: Connection, column: Any, limit: int) -> str:
    query = due_query(column, NOW, limit)
    return str(query.compile(connection, compile_kwargs={"literal_binds": True}))


def test_sqlite_claim_searches_the_partial_due_index(tmp_path: Any) -> None:
    from tracker.store.db import open_store

    store = open_store(f"sqlite:///{tmp_path / 'ix.sqlite3'}")
    try:
        _fill(store)
        with store.begin() as session:
            connection = session.connection()
            connection.exec_driver_sql("ANALYZE")
            for column, index in (
                (Shipment.next_poll_at, "ix_shipments_due"),
                (Shipment.next_timer_at, "ix_shipments_timers"),
            ):
                sql = _compiled(connection, column, 25)
                plan = " | ".join(
                    r[3] for r in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
                )
                assert f"SEARCH shipments USING INDEX {index} (" in plan, plan
                assert "TEMP B-TREE" not in plan, plan  # the index order is the ORDER BY
    finally:
        store.kw["bind"].dispose()


def test_postgresql_claim_scans_the_partial_index_and_only_due_rows(
    postgres_url: str,
) -> None:
    from tracker.store.db import open_store

    store = open_store(postgres_url)
    try:
        _fill(store)
        with store.begin() as session:
            connection = session.connection()
            connection.exec_driver_sql("ANALYZE shipments")
            for column, index in (
                (Shipment.next_poll_at, "ix_shipments_due"),
                (Shipment.next_timer_at, "ix_shipments_timers"),
            ):
                sql = _compiled(connection, column, 25) + " FOR UPDATE SKIP LOCKED"
                explain = f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}"
                [[plan]] = connection.execute(text(explain.replace(":", r"\:"))).all()
                scan = _find(plan[0]["Plan"], "Index Name")
                assert scan["Index Name"] == index
                assert scan["Node Type"] == "Index Scan"
                # Only due rows were read: the 25 it returned, nothing filtered out.
                assert scan["Actual Rows"] == 25
                assert scan.get("Rows Removed by Filter", 0) == 0
                assert scan["Shared Hit Blocks"] + scan.get("Shared Read Blocks", 0) < 50
    finally:
        store.kw["bind"].dispose()


def _find(node: dict[str, Any], key: str) -> dict[str, Any]:
    if key in node:
        return node
    for child in node.get("Plans", []):
        found = _find(child, key)
        if found:
            return found
    return {}
