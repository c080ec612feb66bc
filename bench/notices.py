"""Notice throughput: render + build + send through ``SmtpTransport`` vs plain smtplib.

Both sides talk to the same aiosmtpd server on 127.0.0.1 in the same run. The baseline sends the
same messages, already rendered and built, with ``smtplib.SMTP.send_message`` over one connection;
the ratio says how much of the bare SMTP rate the full notice path keeps (target: at least 0.5).

    .venv/bin/python bench/notices.py --count 500
"""

from __future__ import annotations

import argparse
import asyncio
import smtplib
import socket
import sys
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and "notices" would mean this file.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
from dataclasses import replace  # noqa: E402
from datetime import UTC, date, datetime  # noqa: E402
from email.message import EmailMessage  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import Envelope, Session  # noqa: E402

from notices.context import EventSummary, NoticeContext, StoreIdentity  # noqa: E402
from notices.message import build_message, format_address, message_id_for  # noqa: E402
from notices.render import NoticeRenderer  # noqa: E402
from notices.transports import SmtpTransport  # noqa: E402
from tracker.model import Detail, Milestone, Status  # noqa: E402

LANGUAGES = ("en", "es", "pt", "ru", "fr", "de", "it", "pl")


class Counter:
    """Accepts everything and counts it."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        self.count += 1
        return "250 OK"


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


def baseline(port: int, messages: list[EmailMessage]) -> float:
    """Seconds to send pre-built messages with plain smtplib over one connection."""
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as conn:
        for message in messages:
            conn.send_message(message)
    return time.perf_counter() - start


async def full_path(port: int, renderer: NoticeRenderer, batch: list[NoticeContext]) -> float:
    """Seconds to render, build and send each notice through SmtpTransport."""
    transport = SmtpTransport("127.0.0.1", port)
    start = time.perf_counter()
    for i, ctx in enumerate(batch):
        await transport.send(build(renderer, ctx, i))
    elapsed = time.perf_counter() - start
    await transport.close()
    return elapsed


def blocking_path(port: int, renderer: NoticeRenderer, batch: list[NoticeContext]) -> float:
    """Seconds for the same work with smtplib called directly (what to_thread costs us)."""
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as conn:
        for i, ctx in enumerate(batch):
            conn.send_message(build(renderer, ctx, i))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400, help="notices per side (default 400)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; best is kept")
    args = parser.parse_args()

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        renderer = NoticeRenderer()
        batch = contexts(args.count)
        prebuilt = [build(renderer, ctx, i) for i, ctx in enumerate(batch)]
        render_start = time.perf_counter()
        for i, ctx in enumerate(batch):
            build(renderer, ctx, i)
        render_only = time.perf_counter() - render_start
        plain, ours, blocking = [], [], []
        for _ in range(args.rounds):
            plain.append(baseline(port, prebuilt))
            ours.append(asyncio.run(full_path(port, renderer, batch)))
            blocking.append(blocking_path(port, renderer, batch))
    finally:
        controller.stop()

    n = args.count
    plain_rate, our_rate = n / min(plain), n / min(ours)
    print(f"notices per side: {n}, rounds: {args.rounds} (best round kept), server: aiosmtpd")
    print(f"render + build only:                    {n / render_only:8.0f} notices/s")
    print(f"plain smtplib, pre-rendered, 1 conn:    {plain_rate:8.0f} messages/s")
    print(f"render + build + SmtpTransport.send:    {our_rate:8.0f} notices/s")
    print(
        f"same, smtplib blocking the loop:        {n / min(blocking):8.0f} notices/s  (reference)"
    )
    print(f"ratio (ours / plain):                   {our_rate / plain_rate:8.2f}  (target >= 0.50)")
    print(f"messages the server accepted:           {counter.count}")


if __name__ == "__main__":
    main()
