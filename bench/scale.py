"""Scale: a million active shipments in one store, on SQLite and on PostgreSQL.

For each database it fills a store with N active shipments (bulk insert: executemany on SQLite,
COPY on PostgreSQL; the insert rate is reported), then measures

* the time to claim one batch of due shipments (median of several claims) at N and at a small
  store (10,000 by default), and their ratio: the claim must cost what is due, not what is stored
  (targets: under 20 ms at 1M, ratio under 2);
* the daemon's peak RSS over one full cycle in a fresh process (target: 200 MB): every due
  shipment claimed, fetched from the sandbox carrier over loopback HTTP, classified and stored
  (notices queued); then, a day later on the daemon's clock (the buyers' quiet hours behind),
  the timer job over the shipments whose timers have come and the dispatch job rendering and
  sending every due notice to a Maildir; then a metrics scrape.

The store is filled at the wall clock (``NOW``), and the cycle's numbers are registered with the
sandbox ``--age-days`` before it, so the events the carrier reports lie in the daemon's past.

    .venv/bin/python bench/scale.py                       # 1,000,000 vs 10,000, both databases
    .venv/bin/python bench/scale.py --n 20000 --small 4000 --due 3200 --cycle 500 --db sqlite

PostgreSQL: a throw-away server is started in a temp dir (initdb) unless --pg-url names a server
whose superuser may create databases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

import psycopg  # noqa: E402
from sqlalchemy import select, update  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from carriers.sandbox.journeys import load_journeys  # noqa: E402
from tracker.store.db import open_store  # noqa: E402
from tracker.store.models import Shipment  # noqa: E402
from tracker.store.shipments import claim_due_for_poll  # noqa: E402

#: the bench's clock and the sandbox carrier's (its wall clock) agree, so the events the cycle
#: fetches lie in the daemon's past and the notices they queue come due
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
#: how far the daemon's clock moves between the cycle's polls and its timers and dispatch
CYCLE_LATER = timedelta(days=1)
COLUMNS = (
    "tracking_number", "carrier", "buyer_email", "buyer_name", "buyer_language",
    "destination_country", "origin_country", "order_reference", "shipped_at", "created_at",
    "status", "next_poll_at", "unchanged_polls", "poll_failures", "next_timer_at", "opted_out",
)  # fmt: skip


def rows(
    n: int, due: int, seed: int = 1, base: datetime = NOW, shipped: datetime | None = None
) -> Iterator[tuple[Any, ...]]:
    """N shipments; ``due`` of them overdue at ``base``, the rest due over the next day, shipped
    at ``shipped`` (3 days before ``base`` by default), timers due 2 to 30 days on (none within
    the cycle's ``CYCLE_LATER``); stored as naive UTC."""
    rng = random.Random(seed)
    tags = [(j.tag, j.origin, j.destination) for j in load_journeys().values()]
    shipped = (shipped or base - timedelta(days=3)).replace(tzinfo=None)
    base = base.replace(tzinfo=None)
    for i in range(n):
        tag, origin, destination = tags[i % len(tags)]
        if i < due:
            next_poll = base - timedelta(seconds=rng.uniform(1, 3600))
        else:
            next_poll = base + timedelta(seconds=rng.uniform(60, 86_400))
        yield (
            f"SB{tag}{i:08d}", "sandbox", f"buyer{i}@example.com", "Alex Buyer", "en",
            destination, origin, f"ORD-{i}", shipped, base, "in_transit", next_poll, 0, 0,
            base + timedelta(seconds=rng.uniform(2 * 86_400, 30 * 86_400)), False,
        )  # fmt: skip


def fill(
    url: str, n: int, due: int, base: datetime = NOW, shipped: datetime | None = None
) -> float:
    """Create the schema and bulk-load N shipments; returns rows per second."""
    factory = open_store(url)
    engine = factory.kw["bind"]
    started = time.perf_counter()
    if url.startswith("sqlite"):
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            marks = ",".join("?" * len(COLUMNS))
            sql = f"INSERT INTO shipments ({','.join(COLUMNS)}) VALUES ({marks})"
            batch: list[tuple[Any, ...]] = []
            for row in rows(n, due, base=base, shipped=shipped):
                batch.append(row)
                if len(batch) == 50_000:
                    cursor.executemany(sql, batch)
                    batch.clear()
            cursor.executemany(sql, batch)
            raw.commit()
            cursor.execute("ANALYZE")
        finally:
            raw.close()
    else:
        with psycopg.connect(url) as connection:
            with connection.cursor().copy(
                f"COPY shipments ({','.join(COLUMNS)}) FROM STDIN"
            ) as copy:
                for row in rows(n, due, base=base, shipped=shipped):
                    copy.write_row(row)
            connection.commit()
            connection.autocommit = True
            connection.execute("VACUUM ANALYZE shipments")
    rate = n / (time.perf_counter() - started)
    engine.dispose()
    return rate


def _push_ahead(factory: sessionmaker[Session], ids: list[int]) -> None:
    """What the poll does after a claim (untimed): next poll 6 h on, lease released."""
    with factory.begin() as session:
        session.execute(
            update(Shipment)
            .where(Shipment.id.in_(ids))
            .values(next_poll_at=NOW + timedelta(hours=6), lease_owner=None, lease_until=None)
        )


def time_claims(urls: dict[int, str], batch: int, repeats: int) -> dict[str, list[float]]:
    """Milliseconds per claim of ``batch`` due shipments in each store, interleaved claim by
    claim (so load on the shared machine hits both sizes alike): ``warm`` on a pooled
    connection, ``cold`` on a fresh engine and connection each time (empty SQLite page cache,
    new PostgreSQL backend with cold catalog caches; the OS page cache stays warm)."""
    factories = {n: open_store(url) for n, url in urls.items()}
    timings: dict[str, list[float]] = {f"{kind}@{n}": [] for n in urls for kind in ("warm", "cold")}
    try:
        for factory in factories.values():  # warm the pools and caches once
            _push_ahead(factory, [c.id for c in claim_due_for_poll(
                factory, NOW, "bench", timedelta(minutes=10), batch)])  # fmt: skip
        for _ in range(repeats):
            for n, url in urls.items():
                for kind in ("warm", "cold"):
                    factory = factories[n] if kind == "warm" else open_store(url)
                    started = time.perf_counter()
                    claimed = claim_due_for_poll(
                        factory, NOW, "bench", timedelta(minutes=10), batch
                    )
                    timings[f"{kind}@{n}"].append((time.perf_counter() - started) * 1000)
                    assert len(claimed) == batch, f"only {len(claimed)} due; raise --due"
                    _push_ahead(factory, [c.id for c in claimed])
                    if kind == "cold":
                        factory.kw["bind"].dispose()
    finally:
        for factory in factories.values():
            factory.kw["bind"].dispose()
    return timings


def time_scrapes(urls: dict[int, str], repeats: int) -> dict[str, Any]:
    """Milliseconds per metrics collection (the whole /metrics body) per store, interleaved:
    the first (which counts the store) and the median of the next ``repeats`` (served from the
    latest counts, as every scrape after the first)."""
    from prometheus_client import CollectorRegistry, generate_latest

    from tracker.runtime.metrics import StoreCollector

    registries = {}
    factories = {n: open_store(url) for n, url in urls.items()}
    report: dict[str, Any] = {}
    for n, factory in factories.items():
        registry = CollectorRegistry(auto_describe=True)
        registry.register(StoreCollector(factory, lambda: NOW, dict))
        started = time.perf_counter()
        generate_latest(registry)
        report[f"first_scrape_ms@{n}"] = round((time.perf_counter() - started) * 1000, 2)
        registries[n] = registry
    timings: dict[int, list[float]] = {n: [] for n in urls}
    for _ in range(repeats):
        for n, registry in registries.items():
            started = time.perf_counter()
            generate_latest(registry)
            timings[n].append((time.perf_counter() - started) * 1000)
    for n, values in timings.items():
        report[f"scrape_ms@{n}"] = round(statistics.median(values), 3)
    for factory in factories.values():
        factory.kw["bind"].dispose()
    return report


def make_due(url: str, count: int, timers: int, age_days: float) -> list[str]:
    """Make the first ``count`` shipments due for the cycle's polls (shipped ``age_days`` ago,
    no timer of their own) and give the next ``timers`` a timer that comes due within
    ``CYCLE_LATER``; returns the tracking numbers to poll."""
    factory = open_store(url)
    shipped = NOW - timedelta(days=age_days)
    with factory.begin() as session:
        session.execute(
            update(Shipment)
            .where(Shipment.id <= count)
            .values(
                next_poll_at=NOW - timedelta(minutes=1),
                lease_owner=None,
                lease_until=None,
                next_timer_at=None,
                shipped_at=shipped,
            )
        )
        session.execute(  # what the claims left due waits: the cycle polls ``count``
            update(Shipment)
            .where(Shipment.id > count, Shipment.next_poll_at <= NOW)
            .values(next_poll_at=NOW + timedelta(hours=6))
        )
        session.execute(
            update(Shipment)
            .where(Shipment.id > count, Shipment.id <= count + timers)
            .values(next_timer_at=NOW + CYCLE_LATER / 2)
        )
        numbers = list(
            session.scalars(
                select(Shipment.tracking_number).where(Shipment.id <= count).order_by(Shipment.id)
            )
        )
    factory.kw["bind"].dispose()
    return numbers


def register(base: str, numbers: list[str], at: datetime) -> None:
    """Register ``numbers`` with the sandbox carrier as shipped at ``at`` (its journeys then
    report the events of ``NOW - at``)."""
    for start in range(0, len(numbers), 2000):
        body = json.dumps(
            [{"tracking_number": n, "registered_at": at.isoformat()}
             for n in numbers[start : start + 2000]]
        ).encode()  # fmt: skip
        request = urllib.request.Request(
            f"{base}/v1/shipments", body, {"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=60) as reply:
            assert reply.status == 201, reply.read()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def sandbox_carrier() -> Iterator[str]:
    """The sandbox carrier in its own process (so its memory is not the daemon's)."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "carriers.sandbox", "--port", str(port), "--auto-register"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def poll_cycle_rss(url: str, carrier: str, batch: int) -> dict[str, Any]:
    """Run one full cycle in a fresh process; returns its counts and peak RSS."""
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "_poll",
            "--url",
            url,
            "--carrier",
            carrier,
            "--batch",
            str(batch),
            "--now",
            NOW.isoformat(),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"the cycle process failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def _poll_once(url: str, carrier: str, batch: int, now: datetime) -> dict[str, Any]:
    """One full daemon cycle: poll every due shipment at ``now``; a day later the timers and
    the dispatch (rendered, sent to a Maildir), and a metrics scrape; peak RSS over all of it."""
    from prometheus_client import generate_latest

    from tracker.clock import SimulatedClock
    from tracker.config import (
        CarrierConfig,
        DaemonConfig,
        MailConfig,
        StoreConfig,
        TrackerConfig,
    )
    from tracker.eventlog import configure_logging
    from tracker.runtime.app import build_app
    from tracker.runtime.daemon import Daemon

    configure_logging("json", "info", stream=open(os.devnull, "w"))  # noqa: SIM115, ASYNC230
    with tempfile.TemporaryDirectory(prefix="tracker-scale-mail-") as mail:
        config = TrackerConfig(
            store=StoreConfig(url=url),
            daemon=DaemonConfig(batch_size=batch),
            mail=MailConfig(transport="maildir", maildir=Path(mail)),
            carriers={"sandbox": CarrierConfig(base_url=carrier, requests_per_second=100_000)},
        )
        clock = SimulatedClock(now)
        app = build_app(config, clock)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        try:
            daemon = Daemon(app)
            stats = await daemon.poll_job()
            clock.advance(CYCLE_LATER)
            timers = await daemon.timers_job()
            sent = await daemon.dispatch_job()
            scrape = len(generate_latest(app.metrics.registry))
        finally:
            await app.close()
        new = Path(mail) / "new"
        delivered = sum(1 for _ in new.iterdir()) if new.exists() else 0
    return {
        "polled": stats.polled,
        "failed": stats.failed,
        "new_events": stats.new_events,
        "notices_queued": stats.notices + timers.notices,
        "timers": timers.evaluated,
        "timer_notices": timers.notices,
        "dispatched": sent.sent,
        "dispatch_failed": sent.failed,
        "maildir_messages": delivered,
        "scrape_bytes": scrape,
        "seconds": time.perf_counter() - started,
        "rss_before_mb": before,
        "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


@contextmanager
def postgres(pg_url: str | None) -> Iterator[str]:
    """A server URL (without database): the one given, or a temporary server."""
    if pg_url:
        yield pg_url.rsplit("/", 1)[0]
        return
    from tests.support.postgres import PostgresServer, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL is not installed (no initdb); use --db sqlite or --pg-url")
    with PostgresServer(bin_dir) as server:
        yield server.url("").rstrip("/")


def _database(kind: str, server: str | None, folder: Path, n: int) -> str:
    if kind == "sqlite":
        path = folder / f"scale-{n}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    assert server is not None
    name = f"scale_{n}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


def measure(
    kind: str, server: str | None, args: argparse.Namespace, folder: Path
) -> dict[str, Any]:
    """All figures for one database kind."""
    report: dict[str, Any] = {"db": kind, "load_before": os.getloadavg()}
    urls = {}
    for n in (args.small, args.n):
        urls[n] = _database(kind, server, folder, n)
        report[f"insert_rows_per_s@{n}"] = round(fill(urls[n], n, args.due))
    timings = time_claims(urls, args.batch, args.repeats)
    for key, values in timings.items():
        report[f"claim_ms_{key}"] = round(statistics.median(values), 2)
    for kind_ in ("warm", "cold"):
        report[f"claim_ratio_{kind_}"] = round(
            statistics.median(timings[f"{kind_}@{args.n}"])
            / statistics.median(timings[f"{kind_}@{args.small}"]),
            2,
        )
    report.update(time_scrapes(urls, args.repeats))
    report["scrape_ratio"] = round(
        report[f"scrape_ms@{args.n}"] / report[f"scrape_ms@{args.small}"], 2
    )
    numbers = make_due(urls[args.n], args.cycle, args.cycle, args.age_days)
    with sandbox_carrier() as carrier:
        register(carrier, numbers, NOW - timedelta(days=args.age_days))
        cycle = poll_cycle_rss(urls[args.n], carrier, args.batch)
    report["poll_cycle"] = {k: round(v, 1) for k, v in cycle.items()}
    report["load_after"] = os.getloadavg()
    return report


def main(argv: list[str] | None = None) -> None:
    """Parse flags, run the measurements, print one JSON line per database and a summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="shipments in the large store")
    parser.add_argument("--small", type=int, default=10_000, help="shipments in the small store")
    parser.add_argument("--due", type=int, default=8_000, help="shipments overdue at the start")
    parser.add_argument("--batch", type=int, default=200, help="claim batch size (daemon default)")
    parser.add_argument("--repeats", type=int, default=15, help="timed claims per store")
    parser.add_argument("--cycle", type=int, default=2_000, help="due shipments in the poll cycle")
    parser.add_argument("--age-days", type=float, default=8.5, help="the cycle's parcels' age")
    parser.add_argument("--db", default="sqlite,postgresql", help="comma-separated kinds")
    parser.add_argument("--pg-url", default=None, help="an existing server, postgresql://u@h:p/db")
    parser.add_argument("--dir", type=Path, default=None, help="where SQLite files go (temp dir)")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.db.split(",") if k.strip()]
    if args.due < args.batch * (2 * args.repeats + 1) or 2 * args.cycle > args.n:
        parser.error("--due must cover 2 * repeats + 1 batches; 2 * --cycle must not exceed --n")
    with tempfile.TemporaryDirectory(prefix="tracker-scale-") as scratch:
        folder = args.dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        reports = []
        if "sqlite" in kinds:
            reports.append(measure("sqlite", None, args, folder))
            print(json.dumps(reports[-1]), flush=True)
        if "postgresql" in kinds:
            with postgres(args.pg_url) as server:
                reports.append(measure("postgresql", server, args, folder))
                print(json.dumps(reports[-1]), flush=True)
    for r in reports:
        cycle = r["poll_cycle"]
        print(
            f"{r['db']:>10}: claim at {args.n:,} / at {args.small:,}: warm "
            f"{r[f'claim_ms_warm@{args.n}']} / {r[f'claim_ms_warm@{args.small}']} ms "
            f"(ratio {r['claim_ratio_warm']}, target < 1.5), cold "
            f"{r[f'claim_ms_cold@{args.n}']} / {r[f'claim_ms_cold@{args.small}']} ms "
            f"(ratio {r['claim_ratio_cold']}); scrape {r[f'scrape_ms@{args.n}']} / "
            f"{r[f'scrape_ms@{args.small}']} ms (ratio {r['scrape_ratio']}, target < 2; first "
            f"scrape counts: {r[f'first_scrape_ms@{args.n}']} ms at {args.n:,}); cycle of "
            f"{cycle['polled']:.0f} polls ({cycle['notices_queued']:.0f} notices queued), "
            f"{cycle['timers']:.0f} timers, {cycle['dispatched']:.0f} notices rendered and sent "
            f"({cycle['maildir_messages']:.0f} in the Maildir), a scrape, in {cycle['seconds']} s, "
            f"peak RSS {cycle['rss_peak_mb']} MB (target < 200); load {r['load_before']} -> "
            f"{r['load_after']}"
        )


def _poll_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--carrier", required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--now", type=datetime.fromisoformat, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(_poll_once(args.url, args.carrier, args.batch, args.now))))


if __name__ == "__main__":
    if sys.argv[1:2] == ["_poll"]:
        _poll_main(sys.argv[2:])
    else:
        os.environ.setdefault("PYTHONHASHSEED", "0")
        main()
