"""The one SMTP sink for tests: a real aiosmtpd server on 127.0.0.1 that records what it accepts.

It counts messages per Message-ID (exactly-once checks), can refuse every RCPT, chosen addresses or
every DATA (permanent and transient failures), and can be stopped and started again on the same
port (an outage). It runs on a thread of the test process; daemons in other processes reach it by
its port like any relay.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Protocol

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from tests.support.net import free_port

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    """One accepted message, as parsed and as it came over the wire."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    #: time.monotonic() when the server accepted it
    accepted_at: float

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class MailRecorder:
    """The aiosmtpd handler: keeps what it accepts; the reply fields simulate failures."""

    received: list[Received] = field(default_factory=list)
    #: answer every RCPT with this (e.g. "550 5.1.1 No such user here")
    rcpt_reply: str | None = None
    #: answer RCPT for these addresses with their reply
    refuse_rcpt: dict[str, str] = field(default_factory=dict)
    #: answer every DATA with this (e.g. "451 4.3.0 Mailbox busy")
    data_reply: str | None = None
    rcpt_attempts: Counter[str] = field(default_factory=Counter)
    data_attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.lock:
            self.rcpt_attempts[address] += 1
        refusal = self.rcpt_reply or self.refuse_rcpt.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.data_attempts += 1
        if self.data_reply:
            return self.data_reply
        raw = envelope.original_content or b""
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        received = Received(
            str(envelope.mail_from), list(envelope.rcpt_tos), message, raw, time.monotonic()
        )
        with self.lock:
            self.received.append(received)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[Received]:
        """A copy of what was accepted so far, oldest first."""
        with self.lock:
            return list(self.received)

    @property
    def by_message_id(self) -> Counter[str]:
        """How many times each Message-ID was accepted."""
        return Counter(received.message_id for received in self.messages)

    @property
    def duplicates(self) -> int:
        """Messages accepted more than once (same Message-ID), beyond the first copy."""
        return sum(n - 1 for n in self.by_message_id.values())


class SmtpSink:
    """A recording SMTP server on a fixed loopback port; ``stop`` then ``start`` is an outage.

    Keyword options go to aiosmtpd's Controller (``tls_context``, ``require_starttls``,
    ``authenticator``, ``auth_required``, ``ssl_context``...).
    """

    def __init__(
        self, *, port: int | None = None, recorder: MailRecorder | None = None, **options: Any
    ) -> None:
        self.host = HOST
        self.port = port or free_port()
        self.recorder = recorder or MailRecorder()
        self._options = options
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[Received]:
        return self.recorder.messages

    def start(self) -> None:
        assert self._controller is None, "already running"
        controller = Controller(self.recorder, hostname=self.host, port=self.port, **self._options)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening (connections are cut); a no-op when already stopped."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class StartSmtp(Protocol):
    """The ``start_smtp`` fixture: starts a sink that stops at teardown."""

    def __call__(self, **options: Any) -> SmtpSink: ...
