"""Fixtures for notice tests: sample contexts, a shared renderer and real loopback SMTP servers."""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from notices.context import EventSummary, NoticeContext, StoreIdentity
from notices.render import NoticeRenderer
from tracker.model import Detail, Milestone, Status

STORE = StoreIdentity(
    name="Gadget Corner",
    signature="Mia, Gadget Corner",
    reply_to="help@gadgets.example",
    support_url="https://gadgets.example/help",
)

CURITIBA = EventSummary(
    occurred_at=datetime(2026, 3, 4, 9, 30, tzinfo=timezone(timedelta(hours=-3))),
    text="Objeto recebido na unidade de exportação",
    place="Curitiba",
    country="BR",
    status=Status.IN_TRANSIT,
    detail=Detail.ARRIVED_DESTINATION_COUNTRY,
)


def make_context(kind: Milestone = Milestone.SHIPPED, **changes: Any) -> NoticeContext:
    """A realistic China -> Brazil parcel; keyword arguments replace any field."""
    ctx = NoticeContext(
        kind=kind,
        language="en",
        buyer_name="Ana Souza",
        buyer_email="ana@example.com",
        tracking_number="RR123456785CN",
        carrier_name="China Post",
        tracking_url="https://track.gadgets.example/RR123456785CN",
        destination_country="BR",
        origin_country="CN",
        order_reference="GC-1001",
        shipped_at=datetime(2026, 2, 10, 8, 0, tzinfo=UTC),
        latest_event=CURITIBA,
        expected_from=date(2026, 3, 10),
        expected_by=date(2026, 3, 20),
        choices=("keep_waiting", "resend", "refund"),
        reason="stalled" if kind is Milestone.DELAYED else None,
        store=STORE,
    )
    return replace(ctx, **changes)


@pytest.fixture(scope="session")
def renderer() -> NoticeRenderer:
    """The packaged templates and strings, no seller overrides."""
    return NoticeRenderer()


def free_port() -> int:
    """An unused TCP port on 127.0.0.1 (aiosmtpd's controller needs a concrete port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what it receives and can be told to refuse."""

    received: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str | None = None

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        content = envelope.original_content or b""
        self.received.append(message_from_bytes(content))
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 Message accepted"


USERS = {"shop": "s3cret"}


def authenticate(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    """Accept the one known user for AUTH LOGIN and PLAIN."""
    ok = (
        isinstance(auth_data, LoginPassword)
        and USERS.get(auth_data.login.decode()) == auth_data.password.decode()
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    """A running loopback SMTP server and what it received."""

    host: str
    port: int
    recorder: Recorder
    controller: Controller


StartServer = Callable[..., SmtpServer]


@pytest.fixture
def smtp_server() -> Iterator[StartServer]:
    """Start aiosmtpd servers on 127.0.0.1 (options go to the Controller); all stop at teardown."""
    started: list[Controller] = []

    def start(port: int | None = None, **options: Any) -> SmtpServer:
        recorder = options.pop("recorder", None) or Recorder()
        controller = Controller(recorder, hostname="127.0.0.1", port=port or free_port(), **options)
        controller.start()
        started.append(controller)
        return SmtpServer("127.0.0.1", controller.port, recorder, controller)

    yield start
    for controller in started:
        with contextlib.suppress(AssertionError):  # already stopped by the test
            controller.stop()


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1 and the contexts that serve and trust it."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """Generated with the openssl CLI (the venv has no ``cryptography`` package)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return Certificate(cert, key)
