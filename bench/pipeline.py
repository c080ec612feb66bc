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
  ``executemany`` rescheduling the batch;
* ``first``: ``Daemon.poll_job`` over a fresh store: every event new, classified, stored,
  decided, notices and audit rows queued;
* ``repoll``: the same store made due again with nothing new at the carrier (claim, fetch,
  parse, compare, reschedule): the steady state of a real daemon.

Targets (issue 16): re-poll <= 1.5x floor, first poll <= 3x floor, CPU per shipment.

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
from tracker.runtime.app import build_app  # noqa: E402
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


async def floor_cycle(base: str, path: Path, now: datetime) -> tuple[float, int, int]:
    """The floor: plain-SQL claim, raw GET, json.loads, one executemany per batch."""
    db = sqlite3.connect(path, isolation_level=None)
    stamp = now.replace(tzinfo=None).isoformat(sep=" ")
    later = (now + timedelta(hours=6)).replace(tzinfo=None).isoformat(sep=" ")
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
            db.executemany(
                "UPDATE shipments SET last_polled_at = ?, unchanged_polls = unchanged_polls + 1,"
                " next_poll_at = ?, lease_owner = NULL, lease_until = NULL"
                " WHERE id = ? AND lease_owner = 'floor'",
                [(stamp, later, sid) for sid, _ in claimed],
            )
            db.execute("COMMIT")
            shipments += len(claimed)
            requests += len(chunks)
    spent = cpu() - started
    db.close()
    return spent, shipments, requests


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
                              "age_days": age_days, "load_before": os.getloadavg()}  # fmt: skip
    per: dict[str, list[float]] = {"floor": [], "first": [], "repoll": []}
    with sandbox_carrier() as base, tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        now = datetime.now(UTC).replace(microsecond=0)
        shipped = now - timedelta(days=age_days)
        await register(base, numbers, shipped)
        floor_db = folder / "floor.sqlite3"
        make_store(floor_db, count, now, shipped)
        daemon_db = folder / "daemon.sqlite3"

        async def floor() -> float:
            due_again(floor_db, now)
            spent, done, _ = await floor_cycle(base, floor_db, now)
            assert done == count, done
            return spent / done

        async def first() -> float:
            url = make_store(daemon_db, count, now, shipped)
            result = await daemon_cycle(base, url, now, expect_new=True)
            assert result["shipments"] == count, result
            report["events_per_shipment"] = round(result["events"] / count, 2)
            report["notices_first_poll"] = result["notices"]
            return float(result["cpu"]) / count

        async def repoll() -> float:
            if not daemon_db.exists():
                await first()
            due_again(daemon_db, now)
            result = await daemon_cycle(base, f"sqlite:///{daemon_db}", now, expect_new=False)
            assert result["shipments"] == count, result
            return float(result["cpu"]) / count

        stages: dict[str, Callable[[], Awaitable[float]]] = {
            "floor": floor,
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
    report["ratio_first_to_floor"] = round(min(per["first"]) / min(per["floor"]), 2)
    report["load_after"] = os.getloadavg()
    return report


def main(argv: list[str] | None = None) -> None:
    """Parse flags, measure, print the JSON report and a short table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--shipments", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--age-days", type=float, default=8.5, help="shipped this long ago")
    args = parser.parse_args(argv)
    report = asyncio.run(run(args.shipments, args.rounds, args.age_days))
    print(json.dumps(report))
    floor = report["floor_us_per_shipment"]
    for key, target in (("floor", None), ("first", 3.0), ("repoll", 1.5)):
        value = report[f"{key}_us_per_shipment"]
        goal = f"(target <= {target})" if target else ""
        print(f"{key:7} {value:8.1f} us/shipment {report[f'{key}_us_per_request']:9.1f} us/request"
              f"  {value / floor:5.2f}x floor {goal}")  # fmt: skip
    print(f"load average before {report['load_before']}, after {report['load_after']}")


if __name__ == "__main__":
    main()
