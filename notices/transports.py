"""Transports deliver finished emails: a local Maildir (the embedded default) or an SMTP relay.

Both satisfy ``Transport``. Errors come back as ``TransientSendError`` (try again later: 4xx
replies, refused or dropped connections, timeouts) or ``PermanentSendError`` (5xx replies: the
notice is marked failed, and the error message carries the server's reply).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.generator
import email.utils
import hashlib
import io
import mailbox
import os
import queue
import re
import smtplib
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email._policybase import Compat32
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable

from tracker.addresses import address_problem
from tracker.errors import NoticeError, PermanentSendError, TransientSendError

Security = Literal["none", "starttls", "tls"]
_T = TypeVar("_T")


@runtime_checkable
class Transport(Protocol):
    """Something that delivers one email at a time; the daemon awaits ``send`` per notice."""

    name: str

    async def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` or raise TransientSendError / PermanentSendError."""
        ...

    async def close(self) -> None:
        """Release connections; ``send`` may still be called afterwards and reconnects."""
        ...


class MaildirTransport:
    """Writes each email into a Maildir (``tmp`` then ``new``), readable by any mail client.

    The file name is derived from the Message-ID, so a notice re-sent after a crash (same
    Message-ID) is recognised and not written a second time.
    """

    name = "maildir"
    max_concurrency: ClassVar[int] = 8

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _deliver(self, message: EmailMessage) -> str:
        # mailbox.Maildir(create=True) makes the folders only when the path does not exist yet:
        # a configured folder that exists but is empty (made by ops, by systemd's
        # StateDirectory, a fresh temp dir) would fail every send.
        for folder in ("tmp", "new", "cur"):
            (self.path / folder).mkdir(parents=True, exist_ok=True)
        message_id = message.get("Message-ID")
        if not message_id:
            return mailbox.Maildir(self.path, create=False).add(message)
        key = "msg-" + hashlib.blake2b(str(message_id).encode(), digest_size=16).hexdigest()
        for folder in ("new", "cur"):
            if any((self.path / folder).glob(f"{key}*")):
                return key
        temporary = self.path / "tmp" / f"{key}.{os.getpid()}"
        temporary.write_bytes(message.as_bytes())
        # rename is atomic: a reader sees the whole message in new/ or nothing.
        os.replace(temporary, self.path / "new" / key)
        return key

    async def send(self, message: EmailMessage) -> None:
        """Store the message; a full or read-only disk is transient (ops can fix it)."""
        try:
            await asyncio.to_thread(self._deliver, message)
        except OSError as exc:
            raise TransientSendError(f"maildir {self.path}: {exc}") from exc

    async def close(self) -> None:
        """Nothing stays open between sends."""


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return f"{code} {' '.join(text.split())}"


def _classify(code: int, reply: bytes | str, what: str) -> NoticeError:
    """A 5xx reply is permanent; anything else (4xx, odd codes) is worth another try."""
    text = f"SMTP {what} refused: {_reply_text(code, reply)}"
    return PermanentSendError(text) if 500 <= code < 600 else TransientSendError(text)


class SmtpTransport:
    """Sends over one reused SMTP connection (plain, STARTTLS or implicit TLS, optional AUTH).

    smtplib runs in the transport's own worker thread (``_Worker``); sends are serialized on the
    one connection, which is reopened when the server has dropped it. Authentication failures
    are transient on purpose: a wrong password is an ops problem, and the notices must survive
    until it is fixed.
    """

    name = "smtp"
    max_concurrency: ClassVar[int] = 1

    def __init__(
        self,
        host: str,
        port: int = 25,
        security: Security = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if security not in ("none", "starttls", "tls"):
            raise ValueError(f"security must be none, starttls or tls, not {security!r}")
        self.host, self.port, self.security = host, port, security
        self.username, self.password, self.timeout = username, password, timeout
        self._context = ssl_context
        self._local_hostname = local_hostname
        self._conn: smtplib.SMTP | None = None
        self._lock = threading.Lock()
        self._worker = _Worker(f"smtp {host}:{port}")
        self.connections_opened = 0

    def _ssl(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = ssl.create_default_context()
        return self._context

    def _open(self) -> smtplib.SMTP:
        conn: smtplib.SMTP
        if self.security == "tls":
            conn = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self._local_hostname,
                timeout=self.timeout,
                context=self._ssl(),
            )
        else:
            conn = smtplib.SMTP(
                self.host, self.port, local_hostname=self._local_hostname, timeout=self.timeout
            )
        try:
            conn.ehlo()
            if self.security == "starttls":
                conn.starttls(context=self._ssl())
                conn.ehlo()
            if self.username is not None:
                conn.login(self.username, self.password or "")
        except BaseException:
            _quietly_close(conn)
            raise
        self.connections_opened += 1
        return conn

    def _send_sync(self, message: EmailMessage, envelope: _Envelope | None) -> None:
        with self._lock:
            reused = self._conn is not None
            try:
                self._send_once(message, envelope)
            except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
                self._drop()
                if not reused:
                    raise TransientSendError(f"SMTP {self.host}:{self.port}: {exc}") from exc
                # the idle connection had been dropped: one fresh try
                self._send_once(message, envelope)

    def _send_once(self, message: EmailMessage, envelope: _Envelope | None) -> None:
        if self._conn is None:
            self._conn = self._open()
        if envelope is None:
            self._conn.send_message(message)
        else:
            self._conn.sendmail(envelope.sender, list(envelope.recipients), envelope.data)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            _quietly_close(conn)

    async def send(self, message: EmailMessage) -> None:
        """Deliver one message; see the class docstring for how failures are reported. An
        address the shared rule (``tracker.addresses``) refuses is a PermanentSendError before
        any connection: a relay would refuse it on every attempt."""
        envelope_problem(message)
        try:
            # Flattened here, where the message was just built: the worker thread only talks
            # SMTP (flattening it there cost more than the hop itself, bench/notices.py).
            envelope = _envelope(message)
            await self._worker.run(self._send_sync, message, envelope)
        except NoticeError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            self._drop()
            text = _reply_text(exc.smtp_code, exc.smtp_error)
            raise TransientSendError(f"SMTP authentication rejected: {text}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _classify(code, reply, "recipient") from exc
        except smtplib.SMTPSenderRefused as exc:
            raise _classify(exc.smtp_code, exc.smtp_error, "sender") from exc
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise _classify(exc.smtp_code, exc.smtp_error, "message") from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise TransientSendError(f"SMTP {self.host}:{self.port}: {exc!r}") from exc

    async def close(self) -> None:
        """Say QUIT and close the connection, if one is open."""
        await self._worker.run(self._close_sync)

    def _close_sync(self) -> None:
        with self._lock:
            self._drop()


#: the caller's loop, the future it awaits, the call and its arguments
_Job = tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], Callable[..., Any], tuple[Any, ...]]


class _Worker:
    """One thread that runs a transport's blocking calls in order, one at a time.

    Cheaper per call than ``asyncio.to_thread`` (no executor, no concurrent future, no context
    copy; bench/notices.py), and it keeps the connection in one thread. The thread starts with
    the first call and ends after ``idle`` seconds without one, so an unused transport holds no
    thread; it is a daemon thread, so a transport never closed cannot hold up the exit.
    """

    def __init__(self, name: str, idle: float = 30.0) -> None:
        self._name, self._idle = name, idle
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._guard = threading.Lock()  # a job is never queued just as the thread decides to end
        self._thread: threading.Thread | None = None

    async def run(self, call: Callable[..., _T], *args: Any) -> _T:
        """``call(*args)`` in the worker thread; its result, or its exception raised here."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        with self._guard:
            self._jobs.put((loop, future, call, args))
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
                self._thread.start()
        return await future

    def _serve(self) -> None:
        while True:
            try:
                loop, future, call, args = self._jobs.get(timeout=self._idle)
            except queue.Empty:
                with self._guard:
                    if self._jobs.empty():
                        self._thread = None
                        return
                continue
            try:
                result, error = call(*args), None
            except BaseException as exc:  # raised again in the caller's task
                result, error = None, exc
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
                loop.call_soon_threadsafe(_settle, future, result, error)
            # an idle thread keeps nothing alive: not the last message, its transport, the loop
            del loop, future, call, args, result, error


def _settle(future: asyncio.Future[Any], result: object, error: BaseException | None) -> None:
    if future.cancelled():  # the caller gave up waiting (shutdown); the call ran regardless
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def envelope_problem(message: EmailMessage) -> None:
    """PermanentSendError naming the header when From or a To/Cc address breaks the rule."""
    for header in ("From", "To", "Cc"):
        values = [" ".join(str(v).split()) for v in message.get_all(header, [])]
        if header == "From" and len(values) != 1:
            raise PermanentSendError(f"SMTP: the message needs exactly one From, not {values!r}")
        for address in _addresses(tuple(values)):
            problem = address_problem(address)
            if problem is not None:
                raise PermanentSendError(f"SMTP {header}: {address!r} cannot be sent to: {problem}")


@dataclass(frozen=True, slots=True)
class _Envelope:
    """What ``smtplib.SMTP.send_message`` would send: envelope sender, recipients, the bytes."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes


def _envelope(message: EmailMessage) -> _Envelope | None:
    """``message`` as ``send_message`` sends it (sender from Sender or From, recipients from To
    and Cc, flattened with CRLF), or None for what it treats specially (Resent-* or Bcc headers,
    non-ASCII addresses), which is then left to ``send_message`` itself."""
    if any(name in message for name in ("Resent-Date", "Resent-Bcc", "Bcc")):
        return None
    sender_header = message["Sender"] if "Sender" in message else message["From"]
    fields = tuple(str(v) for v in (message["To"], message["Cc"]) if v is not None)
    if sender_header is None or not fields:
        return None
    sender = _addresses((str(sender_header),))[0]
    recipients = _addresses(fields)
    if not (sender + "".join(recipients)).isascii():
        return None
    return _Envelope(sender, recipients, flatten(message))


def flatten(message: EmailMessage) -> bytes:
    """``message`` as smtplib's ``send_message`` flattens it (``BytesGenerator``, CRLF), byte
    for byte. Messages of the shape ``build_message`` makes are written directly: the stdlib's
    generator cost half of sending a notice (bench/notices.py). ``tests/notices/test_flatten.py``
    compares the two."""
    if message.policy is policy.compat32:
        written = _compat32_bytes(message)
        if written is not None:
            return written
    with io.BytesIO() as buffer:
        email.generator.BytesGenerator(buffer).flatten(message, linesep="\r\n")
        return buffer.getvalue()


#: multiparts the stdlib generator writes with its generic handler (not ``signed``)
_PLAIN_MULTIPARTS = frozenset({"alternative", "mixed", "related"})
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # the stdlib generator's NLCRE
_FROM_LINE = re.compile(r"^From ", re.MULTILINE)  # compat32 mangles these to ">From "


def _compat32_bytes(msg: EmailMessage) -> bytes | None:
    """What ``BytesGenerator`` writes for ``msg`` (compat32, CRLF), when ``msg`` is a text part
    with a 7-bit payload, or a mixed/alternative/related multipart of such parts with its
    boundary set and no preamble or epilogue; None for anything else."""
    if type(msg) is not EmailMessage:  # subclasses may write their own headers
        return None
    payload: object = msg._payload  # type: ignore[attr-defined]
    maintype = msg.get_content_maintype()
    if maintype == "multipart" and msg.get_content_subtype() in _PLAIN_MULTIPARTS:
        boundary = msg.get_boundary()
        if not (boundary and isinstance(payload, list) and payload):
            return None
        if msg.preamble is not None or msg.epilogue is not None:
            return None
        parts = [_compat32_bytes(part) for part in payload]
        if any(part is None for part in parts):
            return None
        delimiter = f"\r\n--{boundary}\r\n".encode("ascii")
        body = b"".join(
            (
                f"--{boundary}\r\n".encode("ascii"),
                delimiter.join(parts),  # type: ignore[arg-type]
                f"\r\n--{boundary}--\r\n".encode("ascii"),
            )
        )
    elif maintype == "text" and isinstance(payload, str) and payload.isascii():
        if "From " in payload:
            payload = _FROM_LINE.sub(">From ", payload)
        if "\r" in payload:
            payload = _LINE_BREAK.sub("\r\n", payload)
        else:  # only \n breaks: str.replace gives the same as the pattern, at a tenth of the cost
            payload = payload.replace("\n", "\r\n")
        body = payload.encode("ascii")
    else:
        return None
    fold = _CRLF_COMPAT32.fold_binary
    return b"".join([*(fold(name, value) for name, value in msg.raw_items()), b"\r\n", body])


class _Compat32(Compat32):
    """``compat32`` with a shortcut for the common header: printable ASCII (no line breaks, no
    tabs) short enough for one line. The stdlib folds every header through
    ``email.header.Header``, whose answer for such a value is the value itself; that was half of
    flattening a notice (bench/notices.py)."""

    def _fold(self, name: str, value: object, sanitize: bool) -> str:
        if (
            isinstance(value, str)
            and self.max_line_length
            and len(name) + 2 + len(value) <= self.max_line_length
            and value.isascii()
            and value.isprintable()
        ):
            return f"{name}: {value}{self.linesep}"
        folded: str = super()._fold(name, value, sanitize)  # type: ignore[misc]
        return folded


_CRLF_COMPAT32 = _Compat32().clone(linesep="\r\n")


@lru_cache(maxsize=4096)  # the seller's own address heads every message
def _addresses(fields: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(address for _, address in email.utils.getaddresses(list(fields)))


def _quietly_close(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()
