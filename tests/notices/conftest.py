"""Fixtures for notice tests: sample contexts, a shared renderer, SMTP AUTH, a TLS certificate."""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
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
