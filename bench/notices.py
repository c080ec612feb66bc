"""Notice cost: render + build + send through ``SmtpTransport`` vs plain smtplib, on client CPU.

Both sides talk to the same aiosmtpd server (``aiosmtpd.handlers.Sink``) running in its own
process on 127.0.0.1, so the server's work is not counted and does not cap the baseline. The
baseline sends the same messages, already rendered and built, with ``smtplib.SMTP.send_message``
over one connection. Figures are this process's CPU time per message (``time.process_time``, all
threads) and, for reference, wall-clock rates; rounds alternate, best kept. The ratio is plain
CPU per message / ours (target: at least 0.5). Two references: the same work with
``send_message`` blocking the loop, and ours without the worker thread (our flattening and
``sendmail`` called in place), so that ours minus it is the cost of the thread hop.

    .venv/bin/python bench/notices.py --count 400
"""

from __future__ import annotations

import argparse
import asyncio
import os
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and "notices" would mean this file.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
from dataclasses import replace  # noqa: E402
from datetime import UTC, date, datetime  # noqa: E402
from email.message import EmailMessage  # noqa: E402

from notices.context import EventSummary, NoticeContext, StoreIdentity  # noqa: E402
from notices.message import build_message, format_address, message_id_for  # noqa: E402
from notices.render import NoticeRenderer  # noqa: E402
from notices.transports import SmtpTransport, _envelope, envelope_problem  # noqa: E402
from tracker.model import Detail, Milestone, Status  # noqa: E402

LANGUAGES = ("en", "es", "pt", "ru", "fr", "de", "it", "pl")


def smtp_server(port: int) -> subprocess.Popen[bytes]:
    """aiosmtpd's Sink (accepts and drops every message) in its own process."""
    process = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
         "-l", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the SMTP server did not start")


def contexts(count: int) -> list[NoticeContext]:
    """A mix of kinds and languages, as a real dispatch batch would be."""
    base = NoticeContext(
        kind=Milestone.SHIPPED,
        language="en",
        buyer_name="Ana Souza",
        buyer_email="ana@example.com",
        tracking_number="RR123456785CN",
        carrier_name="China Post",
        tracking_url="https://track.example/RR123456785CN",
        destination_country="BR",
        origin_country="CN",
        order_reference="GC-1001",
        shipped_at=datetime(2026, 2, 10, tzinfo=UTC),
        latest_event=EventSummary(
            datetime(2026, 3, 4, 9, 30, tzinfo=UTC),
            "Objeto recebido na unidade de exportação",
            "Curitiba",
            "BR",
            Status.IN_TRANSIT,
            Detail.ARRIVED_DESTINATION_COUNTRY,
        ),
        expected_from=date(2026, 3, 10),
        expected_by=date(2026, 3, 20),
        choices=("keep_waiting", "resend", "refund"),
        reason="stalled",
        store=StoreIdentity("Gadget Corner", "Mia, Gadget Corner"),
    )
    kinds = list(Milestone)
    return [
        replace(
            base,
            kind=kinds[i % len(kinds)],
            language=LANGUAGES[i % len(LANGUAGES)],
            order_reference=f"GC-{i}",
        )
        for i in range(count)
    ]


def build(renderer: NoticeRenderer, ctx: NoticeContext, i: int) -> EmailMessage:
    """The daemon's per-notice work before the transport: render and build the email."""
    return build_message(
        renderer.render(ctx),
        sender="Gadget Corner <orders@gadgets.example>",
        recipient=format_address(ctx.buyer_name, ctx.buyer_email),
        reply_to=None,
        message_id=message_id_for(f"{i}:{ctx.kind}", "gadgets.example"),
    )


def baseline(port: int, messages: list[EmailMessage]) -> tuple[float, float]:
    """Wall and CPU seconds to send pre-built messages with plain smtplib over one connection."""
    start, cpu = time.perf_counter(), time.process_time()
    with smtplib.SMTP("127.0.0.1", port) as conn:
        for message in messages:
            conn.send_message(message)
    return time.perf_counter() - start, time.process_time() - cpu


async def full_path(
    port: int, renderer: NoticeRenderer, batch: list[NoticeContext]
) -> tuple[float, float]:
    """Wall and CPU seconds to render, build and send each notice through SmtpTransport."""
    transport = SmtpTransport("127.0.0.1", port)
    start, cpu = time.perf_counter(), time.process_time()
    for i, ctx in enumerate(batch):
        await transport.send(build(renderer, ctx, i))
    elapsed = time.perf_counter() - start, time.process_time() - cpu
    await transport.close()
    return elapsed


def blocking_path(
    port: int, renderer: NoticeRenderer, batch: list[NoticeContext]
) -> tuple[float, float]:
    """The same work with smtplib's send_message called directly, blocking the loop."""
    start, cpu = time.perf_counter(), time.process_time()
    with smtplib.SMTP("127.0.0.1", port) as conn:
        for i, ctx in enumerate(batch):
            conn.send_message(build(renderer, ctx, i))
    return time.perf_counter() - start, time.process_time() - cpu


def in_place_path(
    port: int, renderer: NoticeRenderer, batch: list[NoticeContext]
) -> tuple[float, float]:
    """Our work without the worker thread: SmtpTransport's own checks and flattening, then
    smtplib's sendmail called directly; ours minus this is what the thread hop costs."""
    start, cpu = time.perf_counter(), time.process_time()
    with smtplib.SMTP("127.0.0.1", port) as conn:
        for i, ctx in enumerate(batch):
            message = build(renderer, ctx, i)
            envelope_problem(message)
            envelope = _envelope(message)
            assert envelope is not None  # the bench's notices have no Bcc and ASCII addresses
            conn.sendmail(envelope.sender, list(envelope.recipients), envelope.data)
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400, help="notices per side (default 400)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; best is kept")
    args = parser.parse_args()

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    load_before = os.getloadavg()
    server = smtp_server(port)
    try:
        renderer = NoticeRenderer()
        batch = contexts(args.count)
        prebuilt = [build(renderer, ctx, i) for i, ctx in enumerate(batch)]
        render_cpu = time.process_time()
        for i, ctx in enumerate(batch):
            build(renderer, ctx, i)
        render_only = time.process_time() - render_cpu
        plain, ours, blocking, in_place = [], [], [], []
        for _ in range(args.rounds):
            plain.append(baseline(port, prebuilt))
            ours.append(asyncio.run(full_path(port, renderer, batch)))
            blocking.append(blocking_path(port, renderer, batch))
            in_place.append(in_place_path(port, renderer, batch))
    finally:
        server.terminate()
        server.wait(timeout=10)

    n = args.count

    def per(runs: list[tuple[float, float]]) -> tuple[float, float]:
        """Best round: (messages/s wall, CPU microseconds per message)."""
        return n / min(w for w, _ in runs), min(c for _, c in runs) / n * 1e6

    (plain_rate, plain_cpu), (our_rate, our_cpu) = per(plain), per(ours)
    block_rate, block_cpu = per(blocking)
    in_place_rate, in_place_cpu = per(in_place)
    print(f"notices per side: {n}, rounds: {args.rounds} (best kept), server: aiosmtpd Sink, "
          "own process")  # fmt: skip
    print(f"render + build only:                 {render_only / n * 1e6:8.0f} us CPU/notice")
    print(f"plain smtplib, pre-rendered, 1 conn: {plain_cpu:8.0f} us CPU/message "
          f"{plain_rate:7.0f}/s wall")  # fmt: skip
    print(f"render + build + SmtpTransport.send: {our_cpu:8.0f} us CPU/notice  "
          f"{our_rate:7.0f}/s wall")  # fmt: skip
    print(f"same, send_message blocking the loop:{block_cpu:8.0f} us CPU/notice  "
          f"{block_rate:7.0f}/s wall (reference)")  # fmt: skip
    print(f"ours without the worker thread:      {in_place_cpu:8.0f} us CPU/notice  "
          f"{in_place_rate:7.0f}/s wall (reference: the hop is ours minus this)")  # fmt: skip
    print(f"ratio on CPU (plain / ours):         {plain_cpu / our_cpu:8.2f}  (target >= 0.50)")
    print(f"ratio on wall rate (ours / plain):   {our_rate / plain_rate:8.2f}")
    print(f"load average before {load_before}, after {os.getloadavg()}")


if __name__ == "__main__":
    main()
