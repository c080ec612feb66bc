"""Maildir and SMTP transports against real storage and a real SMTP server on loopback."""

from __future__ import annotations

import asyncio
import gc
import mailbox
import re
import smtplib
import threading
import time
import weakref
from email.message import EmailMessage
from pathlib import Path

import pytest

from notices.message import build_message, message_id_for
from notices.render import NoticeRenderer
from notices.transports import MaildirTransport, SmtpTransport, Transport, _Worker
from tests.notices.conftest import Certificate, authenticate, make_context
from tests.support.net import free_port
from tests.support.smtp import StartSmtp
from tracker.errors import PermanentSendError, TransientSendError


def _message(renderer: NoticeRenderer, key: str = "shipment-1:shipped") -> EmailMessage:
    notice = renderer.render(make_context())
    return build_message(
        notice,
        sender="Gadget Corner <orders@gadgets.example>",
        recipient="Ana Souza <ana@example.com>",
        reply_to="help@gadgets.example",
        message_id=message_id_for(key, "gadgets.example"),
    )


def test_both_transports_satisfy_the_protocol(tmp_path: Path) -> None:
    assert isinstance(MaildirTransport(tmp_path), Transport)
    assert isinstance(SmtpTransport("127.0.0.1", 25), Transport)


async def test_maildir_writes_a_parseable_message_into_new(
    tmp_path: Path, renderer: NoticeRenderer
) -> None:
    transport = MaildirTransport(tmp_path / "mail")
    await transport.send(_message(renderer))
    await transport.close()

    assert sorted(p.name for p in (tmp_path / "mail").iterdir()) == ["cur", "new", "tmp"]
    assert list((tmp_path / "mail" / "tmp").iterdir()) == []
    box = mailbox.Maildir(tmp_path / "mail", create=False)
    [stored] = list(box)
    assert stored["Message-ID"] == message_id_for("shipment-1:shipped", "gadgets.example")
    assert stored["To"] == "Ana Souza <ana@example.com>"
    text = next(p for p in stored.walk() if p.get_content_type() == "text/plain")
    payload = text.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert b"RR123456785CN" in payload


async def test_maildir_fills_a_folder_that_exists_but_is_empty(
    tmp_path: Path, renderer: NoticeRenderer
) -> None:
    (tmp_path / "mail").mkdir()
    transport = MaildirTransport(tmp_path / "mail")
    await transport.send(_message(renderer))

    assert sorted(p.name for p in (tmp_path / "mail").iterdir()) == ["cur", "new", "tmp"]
    [stored] = list(mailbox.Maildir(tmp_path / "mail", create=False))
    assert stored["Message-ID"] == message_id_for("shipment-1:shipped", "gadgets.example")


async def test_maildir_on_an_unwritable_path_is_transient(
    tmp_path: Path, renderer: NoticeRenderer
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(TransientSendError, match="maildir"):
        await MaildirTransport(blocker / "mail").send(_message(renderer))


async def test_smtp_plain_reuses_one_connection(
    start_smtp: StartSmtp, renderer: NoticeRenderer
) -> None:
    server = start_smtp()
    transport = SmtpTransport(server.host, server.port)
    for i in range(3):
        await transport.send(_message(renderer, f"shipment-{i}:shipped"))
    await transport.close()

    assert transport.connections_opened == 1
    assert len(server.messages) == 3
    first = server.messages[0]
    assert (first.mail_from, first.rcpt_tos) == ("orders@gadgets.example", ["ana@example.com"])
    ids = [m.message_id for m in server.messages]
    assert ids == [message_id_for(f"shipment-{i}:shipped", "gadgets.example") for i in range(3)]


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
async def test_smtp_starttls_with_auth(
    start_smtp: StartSmtp,
    renderer: NoticeRenderer,
    certificate: Certificate,
    mechanism: str,
) -> None:
    server = start_smtp(
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
        auth_exclude_mechanism=[m for m in ("LOGIN", "PLAIN") if m != mechanism],
    )
    transport = SmtpTransport(
        server.host,
        server.port,
        security="starttls",
        username="shop",
        password="s3cret",
        ssl_context=certificate.client_context(),
    )
    await transport.send(_message(renderer))
    await transport.close()
    assert len(server.messages) == 1


async def test_smtp_implicit_tls(
    start_smtp: StartSmtp, renderer: NoticeRenderer, certificate: Certificate
) -> None:
    server = start_smtp(ssl_context=certificate.server_context())
    transport = SmtpTransport(
        server.host, server.port, security="tls", ssl_context=certificate.client_context()
    )
    await transport.send(_message(renderer))
    await transport.close()
    assert len(server.messages) == 1


async def test_smtp_wrong_password_is_transient_so_notices_wait_for_ops(
    start_smtp: StartSmtp, renderer: NoticeRenderer, certificate: Certificate
) -> None:
    server = start_smtp(
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
        auth_exclude_mechanism=["LOGIN"],
    )
    transport = SmtpTransport(
        server.host,
        server.port,
        security="starttls",
        username="shop",
        password="wrong",
        timeout=5,
        ssl_context=certificate.client_context(),
    )
    with pytest.raises(TransientSendError, match="authentication rejected: 535"):
        await transport.send(_message(renderer))
    assert server.messages == []


async def test_smtp_451_is_transient(start_smtp: StartSmtp, renderer: NoticeRenderer) -> None:
    server = start_smtp()
    server.recorder.data_reply = "451 4.3.0 Mailbox busy, try again later"
    transport = SmtpTransport(server.host, server.port)
    with pytest.raises(TransientSendError, match=re.escape("451 4.3.0 Mailbox busy")):
        await transport.send(_message(renderer))
    await transport.close()


async def test_smtp_550_is_permanent_and_carries_the_reply(
    start_smtp: StartSmtp, renderer: NoticeRenderer
) -> None:
    server = start_smtp()
    server.recorder.rcpt_reply = "550 5.1.1 No such user here"
    transport = SmtpTransport(server.host, server.port)
    with pytest.raises(PermanentSendError, match=re.escape("550 5.1.1 No such user here")):
        await transport.send(_message(renderer))
    # the connection is still good for the next notice
    server.recorder.rcpt_reply = None
    await transport.send(_message(renderer, "shipment-2:shipped"))
    await transport.close()
    assert len(server.messages) == 1


async def test_smtp_server_down_is_transient(renderer: NoticeRenderer) -> None:
    transport = SmtpTransport("127.0.0.1", free_port(), timeout=2)
    with pytest.raises(TransientSendError):
        await transport.send(_message(renderer))


async def test_smtp_reconnects_after_the_server_dropped_the_connection(
    start_smtp: StartSmtp, renderer: NoticeRenderer
) -> None:
    first = start_smtp()
    transport = SmtpTransport(first.host, first.port)
    await transport.send(_message(renderer, "a"))
    first.stop()
    second = start_smtp(port=first.port)
    await transport.send(_message(renderer, "b"))
    await transport.close()

    assert transport.connections_opened == 2
    assert [m.message_id for m in second.messages] == [message_id_for("b", "gadgets.example")]


async def test_maildir_writes_a_message_id_once(tmp_path: Path) -> None:
    transport = MaildirTransport(tmp_path / "box")
    first = EmailMessage()
    first["Message-ID"] = "<same.notice@tracker.invalid>"
    first["Subject"] = "first"
    first.set_content("hello")
    again = EmailMessage()
    again["Message-ID"] = "<same.notice@tracker.invalid>"
    again["Subject"] = "resent after a crash"
    again.set_content("hello")
    other = EmailMessage()
    other["Message-ID"] = "<other.notice@tracker.invalid>"
    other["Subject"] = "another notice"
    other.set_content("hi")
    for message in (first, again, other):
        await transport.send(message)
    box = mailbox.Maildir(tmp_path / "box", create=False)
    assert sorted(str(m["Subject"]) for m in box) == ["another notice", "first"]
    assert not list((tmp_path / "box" / "tmp").iterdir())


async def test_smtp_sends_what_send_message_would_send(
    start_smtp: StartSmtp, renderer: NoticeRenderer
) -> None:
    """The transport flattens the message itself (in the caller's thread); the server must get
    the same envelope and bytes as from smtplib's send_message, which still sends a message
    with Bcc or Resent headers itself (and drops the Bcc header)."""
    server = start_smtp()
    plain = _message(renderer)
    bcc = _message(renderer, "shipment-2:shipped")
    bcc["Bcc"] = "audit@gadgets.example"
    transport = SmtpTransport(server.host, server.port)
    for message in (plain, bcc):
        await transport.send(message)
    await transport.close()
    with smtplib.SMTP(server.host, server.port) as conn:
        for message in (plain, bcc):
            conn.send_message(message)

    ours, theirs = server.messages[:2], server.messages[2:]
    assert [(m.mail_from, m.rcpt_tos, m.raw) for m in ours] == [
        (m.mail_from, m.rcpt_tos, m.raw) for m in theirs
    ]
    assert ours[1].rcpt_tos == ["ana@example.com", "audit@gadgets.example"]
    assert b"audit@gadgets.example" not in ours[1].raw


async def test_the_worker_runs_calls_in_order_in_one_thread_and_ends_when_idle() -> None:
    worker = _Worker("test worker", idle=0.2)
    order: list[int] = []

    def record(i: int) -> threading.Thread:
        order.append(i)
        return threading.current_thread()

    threads = await asyncio.gather(*(worker.run(record, i) for i in range(5)))
    assert order == [0, 1, 2, 3, 4]
    assert len(set(threads)) == 1
    assert threads[0] is not threading.current_thread()
    threads[0].join(timeout=5)  # idle for 0.2 s: the thread ends
    assert not threads[0].is_alive()
    again = await worker.run(threading.current_thread)  # and a call starts a new one
    assert again is not threads[0]
    assert again.is_alive()


async def test_the_worker_raises_a_calls_error_in_the_caller_and_survives_a_cancelled_one() -> None:
    worker = _Worker("test worker")

    def refuse() -> None:
        raise smtplib.SMTPServerDisconnected("gone")

    with pytest.raises(smtplib.SMTPServerDisconnected, match="gone"):
        await worker.run(refuse)
    slow = asyncio.ensure_future(worker.run(time.sleep, 0.2))
    await asyncio.sleep(0.05)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    assert await worker.run(sum, [1, 2]) == 3  # after the cancelled call has run its course


async def test_an_idle_worker_keeps_nothing_of_its_last_call_alive() -> None:
    worker = _Worker("test worker")

    class Message:
        """Stands for the last email sent: it must not outlive its send."""

    message = Message()
    gone = weakref.ref(message)
    thread = await worker.run(lambda _m: threading.current_thread(), message)
    del message
    await asyncio.sleep(0.05)  # the thread is back waiting for its next call
    gc.collect()
    assert thread.is_alive()
    assert gone() is None
