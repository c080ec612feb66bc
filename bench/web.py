"""Buyer page throughput: a parcel page view vs the same server answering a static page.

One daemon web server (``tracker.web.site``: guard, middlewares, security headers, access log)
serves both in the same run: ``/t/<token>`` reads the parcel from SQLite, tells its story and
renders it; ``/bench/static`` returns that page's bytes, rendered once. A load process (its own
interpreter, so it does not share the server's event loop) keeps N keep-alive connections busy
and counts answers; rounds alternate page and static, and the medians give the ratio.

    .venv/bin/python bench/web.py --rounds 7 --seconds 2 --connections 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path; keep package names unshadowed.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
from aiohttp import web  # noqa: E402

from notices.payload import EventSummary, NoticePayload  # noqa: E402
from tracker.clock import SimulatedClock  # noqa: E402
from tracker.config import CarrierConfig, MailConfig, StoreConfig, TrackerConfig, WebConfig  # noqa: E402
from tracker.eventlog import configure_logging  # noqa: E402
from tracker.model import Detail, Status  # noqa: E402
from tracker.runtime.app import build_app  # noqa: E402
from tracker.store.models import Notice, Shipment, TrackingEvent  # noqa: E402
from tracker.store.shipments import NewShipment, add_shipments  # noqa: E402
from tracker.web.links import LinkKeys, sign  # noqa: E402
from tracker.web.site import assemble  # noqa: E402

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
KEY = "bench-link-key-0123456789abcdef"

LOAD = r"""
import asyncio, sys, time
async def worker(port, path, stop, counts):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Language: pt-BR\r\n\r\n".encode()
    while time.monotonic() < stop:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length"))
        await reader.readexactly(length)
        counts[0] += 1 if head.startswith(b"HTTP/1.1 200") else 0
    writer.close()
async def main(port, path, seconds, connections):
    counts = [0]
    stop = time.monotonic() + seconds
    await asyncio.gather(*(worker(port, path, stop, counts) for _ in range(connections)))
    print(counts[0] / seconds)
asyncio.run(main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])))
"""


async def seed(config: TrackerConfig) -> int:
    """One parcel to Brazil with twelve scans and an open delay offer; its id."""
    app = build_app(config, SimulatedClock(NOW))
    (shipment_id,) = add_shipments(
        app.store,
        [
            NewShipment(
                tracking_number="SB000000001CN",
                carrier="sandbox",
                buyer_email="ana@example.com",
                buyer_name="Ana Souza",
                buyer_language="pt-BR",
                destination_country="BR",
                origin_country="CN",
                order_reference="AUR-1001",
                shipped_at=NOW - timedelta(days=30),
            )
        ],
        NOW - timedelta(days=30),
    )
    with app.store.begin() as session:
        for day in range(12):
            at = NOW - timedelta(days=30 - 2 * day)
            session.add(
                TrackingEvent(
                    shipment_id=shipment_id,
                    fingerprint=f"f{day}",
                    occurred_at=at,
                    code=None,
                    text=f"Objeto em trânsito - por favor aguarde ({day})",
                    location="CURITIBA",
                    country="BR",
                    carrier="sandbox",
                    status="in_transit",
                    detail=None,
                    rule=None,
                    recorded_at=at,
                )
            )
        session.get(Shipment, shipment_id).status = "in_transit"  # type: ignore[union-attr]
        payload = NoticePayload(
            reason="stalled",
            event=EventSummary(
                NOW,
                "Objeto em trânsito",
                "CURITIBA",
                "BR",
                Status.IN_TRANSIT,
                Detail.ARRIVED_DELIVERY_OFFICE,
            ),
            expected_from=NOW + timedelta(days=3),
            expected_by=NOW + timedelta(days=9),
            choices=("keep_waiting", "resend", "refund"),
        )
        session.add(
            Notice(
                shipment_id=shipment_id,
                kind="delayed",
                idempotency_key="1:delayed",
                state="sent",
                payload=payload.to_json(),
                created_at=NOW,
                not_before=NOW,
                attempts=1,
                sent_at=NOW,
            )
        )
    await app.close()
    return shipment_id


def load(port: int, path: str, seconds: float, connections: int) -> float:
    """Requests per second the load process got for ``path``."""
    out = subprocess.run(
        [sys.executable, "-c", LOAD, str(port), path, str(seconds), str(connections)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip())


async def measure(args: argparse.Namespace, directory: Path) -> dict[str, object]:
    config = TrackerConfig(
        store=StoreConfig(url=f"sqlite:///{directory / 'bench.sqlite3'}"),
        mail=MailConfig(maildir=directory / "mail"),
        carriers={"sandbox": CarrierConfig(base_url="http://127.0.0.1:9")},
        web=WebConfig(port=0, link_keys_env="BENCH_WEB_KEYS", max_connections=1000),
    )
    os.environ["BENCH_WEB_KEYS"] = KEY
    configure_logging("json", "warning")  # the access log would measure the terminal
    shipment_id = await seed(config)
    app = build_app(config, SimulatedClock(NOW))
    built = assemble(app)
    assert built is not None
    server, _routes = built
    page_path = f"/t/{sign(LinkKeys((KEY.encode(),)), 'page', shipment_id, NOW)}"
    cached: dict[str, bytes] = {}

    async def static(request: web.Request) -> web.Response:
        return web.Response(body=cached["page"], content_type="text/html")

    server.app.router.add_get("/bench/static", static)
    await server.start()
    port = int(server.url.rsplit(":", 1)[1])
    loop = asyncio.get_running_loop()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {page_path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        reply = await reader.read()
        cached["page"] = reply.split(b"\r\n\r\n", 1)[1]
        writer.close()
        page: list[float] = []
        fixed: list[float] = []
        for _ in range(args.rounds):
            for path, into in ((page_path, page), ("/bench/static", fixed)):
                into.append(
                    await loop.run_in_executor(
                        None, load, port, path, args.seconds, args.connections
                    )
                )
    finally:
        await server.stop()
        await app.close()
    return {
        "page_rps": round(statistics.median(page)),
        "static_rps": round(statistics.median(fixed)),
        "ratio": round(statistics.median(page) / statistics.median(fixed), 3),
        "page_rounds": [round(x) for x in page],
        "static_rounds": [round(x) for x in fixed],
        "page_bytes": len(cached["page"]),
        "connections": args.connections,
        "seconds_per_round": args.seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        result = asyncio.run(measure(args, Path(scratch)))
    print(json.dumps(result))
    print(
        f"parcel page {result['page_rps']} req/s vs static page {result['static_rps']} req/s "
        f"on the same server: ratio {result['ratio']} ({time.monotonic() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
