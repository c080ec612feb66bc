"""Maildir and SMTP transports against real storage and a real SMTP server on loopback."""

from __future__ import annotations

import mailbox
import re
from email.message import EmailMessage
from pathlib import Path

import pytest

from notices.message import build_message, message_id_for
from notices.render import NoticeRenderer
from notices.transports import MaildirTransport, SmtpTransport, Transport
from tests.notices.conftest import Certificate, StartServer, authenticate, free_port, make_context
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


async def test_maildir_on_an_unwritable_path_is_transient(
    tmp_path: Path, renderer: NoticeRenderer
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(TransientSendError, match="maildir"):
        await MaildirTransport(blocker / "mail").send(_message(renderer))


async def test_smtp_plain_reuses_one_connection(
    smtp_server: StartServer, renderer: NoticeRenderer
) -> None:
    server = smtp_server()
    transport = SmtpTransport(server.host, server.port)
    for i in range(3):
        await transport.send(_message(renderer, f"shipment-{i}:shipped"))
    await transport.close()

    assert transport.connections_opened == 1
    assert len(server.recorder.received) == 3
    assert server.recorder.envelopes[0] == ("orders@gadgets.example", ["ana@example.com"])
    ids = [m["Message-ID"] for m in server.recorder.received]
    assert ids == [message_id_for(f"shipment-{i}:shipped", "gadgets.example") for i in range(3)]


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
async def test_smtp_starttls_with_auth(
    smtp_server: StartServer,
    renderer: NoticeRenderer,
    certificate: Certificate,
    mechanism: str,
) -> None:
    server = smtp_server(
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
    assert len(server.recorder.received) == 1


async def test_smtp_implicit_tls(
    smtp_server: StartServer, renderer: NoticeRenderer, certificate: Certificate
) -> None:
    server = smtp_server(ssl_context=certificate.server_context())
    transport = SmtpTransport(
        server.host, server.port, security="tls", ssl_context=certificate.client_context()
    )
    await transport.send(_message(renderer))
    await transport.close()
    assert len(server.recorder.received) == 1


async def test_smtp_wrong_password_is_transient_so_notices_wait_for_ops(
    smtp_server: StartServer, renderer: NoticeRenderer, certificate: Certificate
) -> None:
    server = smtp_server(
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
    assert server.recorder.received == []


async def test_smtp_451_is_transient(smtp_server: StartServer, renderer: NoticeRenderer) -> None:
    server = smtp_server()
    server.recorder.data_reply = "451 4.3.0 Mailbox busy, try again later"
    transport = SmtpTransport(server.host, server.port)
    with pytest.raises(TransientSendError, match=re.escape("451 4.3.0 Mailbox busy")):
        await transport.send(_message(renderer))
    await transport.close()


async def test_smtp_550_is_permanent_and_carries_the_reply(
    smtp_server: StartServer, renderer: NoticeRenderer
) -> None:
    server = smtp_server()
    server.recorder.rcpt_reply = "550 5.1.1 No such user here"
    transport = SmtpTransport(server.host, server.port)
    with pytest.raises(PermanentSendError, match=re.escape("550 5.1.1 No such user here")):
        await transport.send(_message(renderer))
    # the connection is still good for the next notice
    server.recorder.rcpt_reply = None
    await transport.send(_message(renderer, "shipment-2:shipped"))
    await transport.close()
    assert len(server.recorder.received) == 1


async def test_smtp_server_down_is_transient(renderer: NoticeRenderer) -> None:
    transport = SmtpTransport("127.0.0.1", free_port(), timeout=2)
    with pytest.raises(TransientSendError):
        await transport.send(_message(renderer))


async def test_smtp_reconnects_after_the_server_dropped_the_connection(
    smtp_server: StartServer, renderer: NoticeRenderer
) -> None:
    first = smtp_server()
    transport = SmtpTransport(first.host, first.port)
    await transport.send(_message(renderer, "a"))
    first.controller.stop()
    second = smtp_server(port=first.port)
    await transport.send(_message(renderer, "b"))
    await transport.close()

    assert transport.connections_opened == 2
    assert [m["Message-ID"] for m in second.recorder.received] == [
        message_id_for("b", "gadgets.example")
    ]


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
