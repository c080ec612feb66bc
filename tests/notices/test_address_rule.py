"""One email-address rule (issue 13, item 9): ``tracker add`` / ``import`` / ``edit`` accept
exactly the addresses the config check, the message builder and the SMTP transport accept, so no
stored address makes a notice fail forever; and a long buyer name never makes a header line
longer than RFC 5322's 998 octets, checked on the bytes a real SMTP server received.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path

import pytest

from notices.message import MAX_DISPLAY_NAME, build_message, format_address, message_id_for
from notices.render import RenderedNotice
from notices.transports import SmtpTransport, envelope_problem
from tests.reliability.test_bad_input import GOOD, add_options, invoke
from tests.support.smtp import SmtpSink
from tracker.addresses import address_problem
from tracker.config import SellerConfig, TrackerConfig
from tracker.errors import InputError, NoticeError, PermanentSendError
from tracker.orders import parse_order
from tracker.runtime.config_values import address_problems

NOTICE = RenderedNotice("Your order is on its way", "Hello\n", "<p>Hello</p>")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LOCAL_64 = "l" * 64

#: (address, accepted): the edges of every part of the rule
ADDRESSES = [
    ("ana@example.com", True),
    ("ana.souza+order-1@mail.example.co.uk", True),
    ("o'brien@example.ie", True),
    (f"{LOCAL_64}@example.com", True),
    (f"{LOCAL_64}l@example.com", False),  # the 70-character local parts add used to accept
    ("l" * 70 + "@example.com", False),
    ("ana@" + "d" * 64 + ".com", False),  # a label over 63 octets
    ("a@" + ".".join(["d" * 63] * 3 + ["e" * 60]), True),  # 252-octet domain, 254 in all
    ("ab@" + ".".join(["d" * 63] * 3 + ["e" * 60]), False),  # 255 octets in all
    ("ana..souza@example.com", False),
    (".ana@example.com", False),
    ("ana.@example.com", False),
    ("ana@localhost", False),
    ("ana@-example.com", False),
    ("ana@example-.com", False),
    ("ana@exa_mple.com", False),
    ("ana@10.0.0.1", False),
    ("ana@[10.0.0.1]", False),
    ('"ana souza"@example.com', False),
    ("anã@example.com", False),
    ("ana@exämple.com", False),
    ("ana", False),
    ("@example.com", False),
]


def _accepted_by_orders(address: str) -> bool:
    row = {**GOOD, "buyer_email": address}
    try:
        parse_order(row, now=NOW, carriers={"correios"})
    except InputError:
        return False
    return True


def _accepted_by_config(address: str) -> bool:
    config = TrackerConfig(seller=SellerConfig(sender=f"Shop <{address}>", reply_to=address))
    return address_problems(config) == []


def _accepted_by_builder(address: str) -> bool:
    try:
        build_message(
            NOTICE,
            sender="Shop <orders@shop.example>",
            recipient=format_address("Ana", address),
            reply_to=None,
            message_id=message_id_for("k", "shop.example"),
        )
    except NoticeError:
        return False
    return True


def _hand_built(address: str) -> EmailMessage:
    """A message not made by build_message (a plugin's, say), as the transport may get one."""
    message = EmailMessage()
    message["From"] = "orders@shop.example"
    message["To"] = f"Ana <{address}>"
    message.set_content("hello")
    return message


def _accepted_by_transport(address: str) -> bool:
    try:
        envelope_problem(_hand_built(address))
    except PermanentSendError:
        return False
    return True


@pytest.mark.parametrize(("address", "accepted"), ADDRESSES, ids=lambda v: str(v)[:40])
def test_every_door_applies_the_same_rule(address: str, accepted: bool) -> None:
    assert (address_problem(address) is None) is accepted
    assert _accepted_by_orders(address) is accepted
    assert _accepted_by_config(address) is accepted
    assert _accepted_by_builder(address) is accepted
    assert _accepted_by_transport(address) is accepted


async def test_the_smtp_transport_refuses_before_the_relay_sees_it(smtp_server: SmtpSink) -> None:
    transport = SmtpTransport(smtp_server.host, smtp_server.port)
    try:
        with pytest.raises(PermanentSendError, match="longer than 64 characters"):
            await transport.send(_hand_built("l" * 70 + "@example.com"))
        await transport.send(_hand_built("ana@example.com"))
    finally:
        await transport.close()
    assert [m.rcpt_tos for m in smtp_server.messages] == [["ana@example.com"]]
    assert sum(smtp_server.recorder.rcpt_attempts.values()) == 1


def test_a_refused_address_says_which_part_is_wrong() -> None:
    row = {**GOOD, "buyer_email": "l" * 70 + "@example.com"}
    with pytest.raises(InputError, match=r"buyer_email: .* longer than 64 characters"):
        parse_order(row, now=NOW, carriers={"correios"})
    assert address_problem("ana@localhost") == (
        "the domain 'localhost' has no dot (write the full name, e.g. example.com)"
    )


def test_edit_refuses_an_address_the_sender_would_refuse(tmp_path: Path) -> None:
    config = tmp_path / "tracker.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n[carriers.correios]\n')
    number = GOOD["tracking_number"]
    added = invoke("add", number, *add_options(GOOD), "--config", str(config))
    assert added.exit_code == 0, added.output
    edited = invoke("edit", number, "--email", "l" * 70 + "@example.com", "--config", str(config))
    assert edited.exit_code == 2, edited.output
    assert "buyer_email" in edited.output
    assert "64" in edited.output


def _raw_header(raw: bytes, name: str) -> str:
    """A header's value as sent, unfolded."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ")
    (value,) = (
        line[len(name) + 2 :] for line in unfolded.split("\r\n") if line.startswith(f"{name}: ")
    )
    return value


NAMES = {
    "ascii-200-no-spaces": "A" * 200,
    "emoji-200": "\U0001f4e6" * 200,  # 4 octets each: one encoded word was 1,081 octets
    "cjk-200": "李" * 200,
    "quotes-200": '"\\' * 100,
    "accented-words": "Ana " * 25 + "Ã" * 100,
    "over-the-limit": "Ö" * 500,  # longer than any order allows; cut to MAX_DISPLAY_NAME
}


@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
async def test_no_line_a_relay_receives_is_over_998_octets(
    name: str, smtp_server: SmtpSink
) -> None:
    address = f"{LOCAL_64}@" + ".".join(["d" * 63] * 2 + ["e" * 60])  # 253 octets: the longest
    message = build_message(
        NOTICE,
        sender=f"{'Ü' * 300} <orders@shop.example>",
        recipient=format_address(name, address),
        reply_to=None,
        message_id=message_id_for("k", "shop.example"),
    )
    transport = SmtpTransport(smtp_server.host, smtp_server.port)
    try:
        await transport.send(message)
    finally:
        await transport.close()
    (received,) = smtp_server.messages
    longest = max(len(line) for line in received.raw.split(b"\r\n"))
    assert longest <= 998, f"a {longest}-octet line"
    assert received.rcpt_tos == [address]
    (to,) = received.message["To"].addresses
    assert to.addr_spec == address
    kept = name[:MAX_DISPLAY_NAME]
    if kept.isascii():  # a quoted string
        assert to.display_name == kept
    else:  # RFC 2047 words; the space between two is not part of the name (email's parser
        # keeps it, mail clients drop it), so the name is read back the way clients read it
        encoded = _raw_header(received.raw, "To").rpartition("<")[0]
        assert str(make_header(decode_header(encoded))).strip() == kept
