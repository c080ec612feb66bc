"""Client CPU per shipment of the poll pipeline, against the floor of the same work.

The sandbox carrier runs in its own process on 127.0.0.1, so the CPU counted here
(``time.process_time`` of this process, all threads) is the client's alone, not the server's.
Every shipment is registered with the sandbox ``--age-days`` ago (about 8 events each) and the
daemon's clock is the sandbox's (wall clock), so event times are consistent with it. Logging is
at info, as in production (to /dev/null, rendered as JSON).

Stages, interleaved round by round (each round starts at another stage, garbage collected in
between), best round kept per stage:

* ``floor``: the least any client can do for one poll cycle of the same shipments: a claim of
  each batch as one plain-SQL ``UPDATE ... RETURNING`` (sqlite3), raw aiohttp GETs of the same
  ``/v1/track`` URLs (40 numbers each, 4 in flight), ``json.loads`` of each body, and one
  ``executemany`` rescheduling the batch with the values the daemon's re-poll wrote, read back
  from its store after it (the most recent ``repoll`` round): each shipment's own next poll
  time (the policy's delay, spread +-10%), backoff count and reply digest, the columns the
  daemon's quiet reschedule writes;
* ``floor_first``: the floor of a first poll: the ``floor`` cycle over a fresh store, but each
  batch's write is what the daemon's first poll wrote for those shipments, read back from its
  store after it (the most recent ``first`` round; every round writes the same rows): plain
  ``sqlite3`` ``executemany`` of its event, notice and audit rows into the same tables and
  indexes, and of its shipment updates (every column it changed), with the daemon's connection
  settings (foreign keys on, ``synchronous=NORMAL``);
* ``first``: ``Daemon.poll_job`` over a fresh store: every event new, classified, stored,
  decided, notices and audit rows queued;
* ``repoll``: the same store made due again with nothing new at the carrier (claim, fetch,
  parse, compare, reschedule): the steady state of a real daemon.

Targets (issue 16): re-poll <= 1.5x floor, first poll <= 3x its floor, CPU per shipment. The
issue's floor for a first poll is "the plain-SQL claim and executemany of the same rows", and a
first poll's rows include the events, notices and audit rows it stores, so its ratio is taken
against ``floor_first``; first / ``floor`` (which stores none of them) is printed too.

    .venv/bin/python bench/pipeline.py --shipments 4000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

import aiohttp  # noqa: E402

from bench.scale import fill, rows, sandbox_carrier  # noqa: E402
from carriers.sandbox import SandboxAdapter  # noqa: E402
from tracker.clock import SimulatedClock  # noqa: E402
from tracker.config import CarrierConfig, DaemonConfig, StoreConfig, TrackerConfig  # noqa: E402
from tracker.eventlog import configure_logging  # noqa: E402
from tracker.model import RawEvent  # noqa: E402
from tracker.runtime.app import build_app, settle_heap  # noqa: E402
from tracker.runtime.daemon import Daemon  # noqa: E402

PER_REQUEST = SandboxAdapter.max_numbers_per_request
CONCURRENCY = SandboxAdapter.max_concurrency
BATCH = 200
LEASE = timedelta(hours=1)


def cpu() -> float:
    return time.process_time()


async def register(base: str, numbers: list[str], at: datetime) -> None:
    """Register every number with the sandbox as shipped at ``at``."""
    async with aiohttp.ClientSession() as session:
        for start in range(0, len(numbers), 2000):
            body = [
                {"tracking_number": n, "registered_at": at.isoformat()}
                for n in numbers[start : start + 2000]
            ]
            async with session.post(f"{base}/v1/shipments", json=body) as reply:
                assert reply.status == 201, await reply.text()


def make_store(path: Path, count: int, now: datetime, shipped: datetime) -> str:
    """A store of ``count`` shipments, all due at ``now``, shipped at ``shipped``."""
    if path.exists():
        path.unlink()
    url = f"sqlite:///{path}"
    fill(url, count, due=count, base=now, shipped=shipped)
    return url


def due_again(path: Path, now: datetime) -> None:
    """Make every shipment due at ``now`` (a re-poll with nothing new at the carrier)."""
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE shipments SET next_poll_at = ?, lease_owner = NULL, lease_until = NULL",
            ((now - timedelta(minutes=1)).replace(tzinfo=None).isoformat(sep=" "),),
        )


async def floor_loop(
    base: str, db: sqlite3.Connection, now: datetime, write: Callable[[list[Any]], None]
) -> tuple[float, int, int]:
    """The least a client can do per batch: a plain-SQL claim, raw GETs of the same URLs,
    ``json.loads`` of each body, then ``write(claimed)`` in one transaction; CPU, shipments,
    requests."""
    stamp = now.replace(tzinfo=None).isoformat(sep=" ")
    until = (now + LEASE).replace(tzinfo=None).isoformat(sep=" ")
    gate = asyncio.Semaphore(CONCURRENCY)
    shipments = requests = 0
    started = cpu()
    async with aiohttp.ClientSession() as session:

        async def get(batch: list[tuple[int, str]]) -> None:
            async with gate:
                params = {"numbers": ",".join(n for _, n in batch)}
                async with session.get(f"{base}/v1/track", params=params) as reply:
                    body = await reply.read()
            results = json.loads(body)["results"]
            assert len(results) == len(batch)

        while True:
            db.execute("BEGIN IMMEDIATE")
            claimed = db.execute(
                "UPDATE shipments SET lease_owner = 'floor', lease_until = ? WHERE id IN ("
                " SELECT id FROM shipments WHERE next_poll_at IS NOT NULL AND next_poll_at <= ?"
                " AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_poll_at LIMIT ?)"
                " RETURNING id, tracking_number",
                (until, stamp, stamp, BATCH),
            ).fetchall()
            db.execute("COMMIT")
            if not claimed:
                break
            chunks = [claimed[i : i + PER_REQUEST] for i in range(0, len(claimed), PER_REQUEST)]
            await asyncio.gather(*(get(chunk) for chunk in chunks))
            db.execute("BEGIN IMMEDIATE")
            write(claimed)
            db.execute("COMMIT")
            shipments += len(claimed)
            requests += len(chunks)
    return cpu() - started, shipments, requests


#: the columns the daemon's quiet reschedule writes (tracker.store.shipments.reschedule_quiet)
QUIET_COLUMNS = (
    "last_polled_at",
    "poll_failures",
    "unchanged_polls",
    "next_poll_at",
    "reply_digest",
)
QUIET_SQL = (
    "UPDATE shipments SET last_polled_at = ?, poll_failures = ?, unchanged_polls = ?,"
    " next_poll_at = ?, reply_digest = ?, lease_owner = NULL, lease_until = NULL"
    " WHERE id = ? AND lease_owner = 'floor'"
)


def repoll_rows(path: Path) -> dict[int, tuple[Any, ...]]:
    """What a re-poll wrote for each shipment, as stored, in ``QUIET_SQL``'s parameter order:
    the floor writes the daemon's own values (one next poll time per shipment, spread as the
    policy spreads them), not one due time for all."""
    with closing(sqlite3.connect(path)) as db:
        cursor = db.execute(f"SELECT id, {', '.join(QUIET_COLUMNS)} FROM shipments")
        return {row[0]: (*row[1:], row[0]) for row in cursor}


async def floor_cycle(
    base: str, path: Path, now: datetime, written: dict[int, tuple[Any, ...]]
) -> tuple[float, int, int]:
    """The floor: plain-SQL claim, raw GET, json.loads, one executemany per batch of the rows
    the daemon's re-poll wrote (``written``)."""
    db = sqlite3.connect(path, isolation_level=None)

    def reschedule(claimed: list[Any]) -> None:
        cursor = db.executemany(QUIET_SQL, [written[sid] for sid, _ in claimed])
        assert cursor.rowcount == len(claimed), (cursor.rowcount, len(claimed))

    try:
        return await floor_loop(base, db, now, reschedule)
    finally:
        db.close()


#: the tables a first poll inserts into, and the shipment columns always written back
FIRST_TABLES = ("tracking_events", "notices", "audit_log")
LEASE_COLUMNS = ("lease_owner", "lease_until")


@dataclass
class FirstRows:
    """What one first poll wrote, as stored, keyed by shipment id, with the statements that
    write it again: ``floor_first`` writes exactly these rows."""

    inserts: dict[str, tuple[str, dict[int, list[tuple[Any, ...]]]]]
    update_sql: str
    updates: dict[int, tuple[Any, ...]]
    counts: dict[str, int]


def shipment_rows(path: Path) -> tuple[list[str], dict[int, tuple[Any, ...]]]:
    """Every stored shipment column, by id."""
    with closing(sqlite3.connect(path)) as db:
        cursor = db.execute("SELECT * FROM shipments")
        names = [d[0] for d in cursor.description]
        return names, {row[0]: row for row in cursor}


def first_poll_rows(path: Path, fresh: dict[int, tuple[Any, ...]]) -> FirstRows:
    """The rows the first poll over the store at ``path`` wrote (the store was ``fresh``
    before it: shipments only), read back as stored."""
    inserts: dict[str, tuple[str, dict[int, list[tuple[Any, ...]]]]] = {}
    counts: dict[str, int] = {}
    with closing(sqlite3.connect(path)) as db:
        for table in FIRST_TABLES:
            cursor = db.execute(f"SELECT * FROM {table} ORDER BY id")
            names = [d[0] for d in cursor.description if d[0] != "id"]
            by_shipment: dict[int, list[tuple[Any, ...]]] = {}
            for row in cursor:
                values = row[1:]  # id first: the store numbers the rows itself
                by_shipment.setdefault(values[names.index("shipment_id")], []).append(values)
            marks = ", ".join("?" * len(names))
            sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"
            inserts[table] = (sql, by_shipment)
            counts[table] = sum(len(rows) for rows in by_shipment.values())
    names, polled = shipment_rows(path)
    changed = [
        name
        for index, name in enumerate(names)
        if name in LEASE_COLUMNS or any(polled[i][index] != fresh[i][index] for i in fresh)
    ]
    positions = [names.index(name) for name in changed]
    assignments = ", ".join(f"{name} = ?" for name in changed)
    update_sql = f"UPDATE shipments SET {assignments} WHERE id = ? AND lease_owner = 'floor'"
    updates = {i: (*(row[p] for p in positions), i) for i, row in polled.items()}
    counts["shipment columns written"] = len(changed)
    return FirstRows(inserts, update_sql, updates, counts)


async def floor_first_cycle(
    base: str, path: Path, now: datetime, written: FirstRows
) -> tuple[float, int]:
    """The floor of a first poll: the ``floor`` cycle, writing what the first poll wrote."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=NORMAL")  # the daemon's settings (tracker.store.db)
    db.execute("PRAGMA foreign_keys=ON")

    def store(claimed: list[Any]) -> None:
        for sql, by_shipment in written.inserts.values():
            rows = [row for sid, _ in claimed for row in by_shipment.get(sid, ())]
            if rows:
                db.executemany(sql, rows)
        db.executemany(written.update_sql, [written.updates[sid] for sid, _ in claimed])

    try:
        spent, shipments, _ = await floor_loop(base, db, now, store)
    finally:
        db.close()
    return spent, shipments


#: settle the heap after start-up as ``tracker run`` does (``--unsettled-heap`` turns it off)
SETTLE_HEAP = True


async def daemon_cycle(base: str, url: str, now: datetime, expect_new: bool) -> dict[str, Any]:
    """One ``Daemon.poll_job`` over the store at ``url``; CPU and counts."""
    config = TrackerConfig(
        store=StoreConfig(url=url),
        daemon=DaemonConfig(batch_size=BATCH, lease=LEASE),
        carriers={
            "sandbox": CarrierConfig(
                base_url=base, requests_per_second=100_000, numbers_per_request=PER_REQUEST
            )
        },
    )
    app = build_app(config, SimulatedClock(now))
    # The rule index is built once per process on first use: start-up, not per-shipment cost.
    app.normalizer.classify(RawEvent(now, "warm-up"))
    if SETTLE_HEAP:
        settle_heap()
    try:
        daemon = Daemon(app)
        started = cpu()
        stats = await daemon.poll_job()
        spent = cpu() - started
    finally:
        await app.close()
    assert stats.failed == 0, stats
    assert (stats.new_events > 0) == expect_new, stats
    return {"cpu": spent, "shipments": stats.polled, "events": stats.new_events,
            "notices": stats.notices}  # fmt: skip


async def run(count: int, rounds: int, age_days: float) -> dict[str, Any]:
    """Every stage, interleaved in one run."""
    configure_logging("json", "info", stream=open(os.devnull, "w"))  # noqa: SIM115, ASYNC230
    numbers = [row[0] for row in rows(count, due=count)]
    report: dict[str, Any] = {"shipments": count, "numbers_per_request": PER_REQUEST,
                              "settled_heap": SETTLE_HEAP,
                              "age_days": age_days, "load_before": os.getloadavg()}  # fmt: skip
    per: dict[str, list[float]] = {"floor": [], "floor_first": [], "first": [], "repoll": []}
    written: list[FirstRows] = []
    repolled: list[dict[int, tuple[Any, ...]]] = []
    with sandbox_carrier() as base, tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        now = datetime.now(UTC).replace(microsecond=0)
        shipped = now - timedelta(days=age_days)
        await register(base, numbers, shipped)
        floor_db = folder / "floor.sqlite3"
        make_store(floor_db, count, now, shipped)
        daemon_db = folder / "daemon.sqlite3"
        floor_first_db = folder / "floor_first.sqlite3"

        async def floor() -> float:
            if not repolled:
                await repoll()
            due_again(floor_db, now)
            spent, done, _ = await floor_cycle(base, floor_db, now, repolled[-1])
            assert done == count, done
            return spent / done

        async def first() -> float:
            url = make_store(daemon_db, count, now, shipped)
            _, fresh = shipment_rows(daemon_db)
            result = await daemon_cycle(base, url, now, expect_new=True)
            assert result["shipments"] == count, result
            report["events_per_shipment"] = round(result["events"] / count, 2)
            report["notices_first_poll"] = result["notices"]
            rows = first_poll_rows(daemon_db, fresh)
            if written:  # the same sandbox replies at the same clock: the same rows each round
                assert rows.counts == written[-1].counts, (rows.counts, written[-1].counts)
            written.append(rows)
            report["first_poll_rows"] = rows.counts
            return float(result["cpu"]) / count

        async def floor_first() -> float:
            if not written:
                await first()
            make_store(floor_first_db, count, now, shipped)
            spent, done = await floor_first_cycle(base, floor_first_db, now, written[-1])
            assert done == count, done
            return spent / done

        async def repoll() -> float:
            if not daemon_db.exists():
                await first()
            due_again(daemon_db, now)
            result = await daemon_cycle(base, f"sqlite:///{daemon_db}", now, expect_new=False)
            assert result["shipments"] == count, result
            repolled.append(repoll_rows(daemon_db))
            # the floor writes these: one next poll time per shipment, as the daemon spreads them
            report["floor_distinct_next_poll_times"] = len({r[3] for r in repolled[-1].values()})
            return float(result["cpu"]) / count

        stages: dict[str, Callable[[], Awaitable[float]]] = {
            "floor": floor,
            "floor_first": floor_first,
            "first": first,
            "repoll": repoll,
        }
        order = list(stages)
        await floor()  # warm-up: connections, imports, the sandbox's JIT-free first replies
        for number in range(rounds):
            shift = number % len(order)
            for key in order[shift:] + order[:shift]:
                gc.collect()
                per[key].append(await stages[key]())
    requests = -(-count // PER_REQUEST)
    for key, values in per.items():
        best = min(values)
        report[f"{key}_us_per_shipment"] = round(best * 1e6, 1)
        report[f"{key}_us_per_request"] = round(best * count / requests * 1e6, 1)
        report[f"{key}_rounds_us"] = [round(v * 1e6, 1) for v in values]
    report["ratio_repoll_to_floor"] = round(min(per["repoll"]) / min(per["floor"]), 2)
    report["ratio_first_to_floor_first"] = round(min(per["first"]) / min(per["floor_first"]), 2)
    report["ratio_first_to_floor"] = round(min(per["first"]) / min(per["floor"]), 2)
    report["load_after"] = os.getloadavg()
    return report


def main(argv: list[str] | None = None) -> None:
    """Parse flags, measure, print the JSON report and a short table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--shipments", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--age-days", type=float, default=8.5, help="shipped this long ago")
    parser.add_argument(
        "--unsettled-heap",
        action="store_true",
        help="skip settle_heap() after start-up (gc.freeze, as tracker run does)",
    )
    args = parser.parse_args(argv)
    global SETTLE_HEAP
    SETTLE_HEAP = not args.unsettled_heap
    report = asyncio.run(run(args.shipments, args.rounds, args.age_days))
    print(json.dumps(report))
    floor = report["floor_us_per_shipment"]
    for key, target in (("floor", None), ("floor_first", None), ("first", None), ("repoll", 1.5)):
        value = report[f"{key}_us_per_shipment"]
        goal = f"(target <= {target})" if target else ""
        print(f"{key:11} {value:8.1f} us/shipment {report[f'{key}_us_per_request']:9.1f} us/request"
              f"  {value / floor:5.2f}x floor {goal}")  # fmt: skip
    ratio = report["ratio_first_to_floor_first"]
    print(f"first poll / floor_first {ratio:5.2f}x (target <= 3); floor_first writes the rows"
          f" the first poll wrote: {report['first_poll_rows']}")  # fmt: skip
    print(f"load average before {report['load_before']}, after {report['load_after']}")


if __name__ == "__main__":
    main()
