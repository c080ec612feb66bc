"""Email building: deterministic Message-ID, multipart structure, no header injection."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notices.message import build_message, format_address, message_id_for
from notices.render import RenderedNotice
from tracker.errors import NoticeError

NOTICE = RenderedNotice(subject="Your order is on its way", text="Hello\n", html="<p>Hello</p>")


def _build(**changes: object) -> bytes:
    args: dict[str, object] = {
        "sender": "Gadget Corner <orders@gadgets.example>",
        "recipient": "Ana Souza <ana@example.com>",
        "reply_to": "help@gadgets.example",
        "message_id": message_id_for("42:shipped", "gadgets.example"),
        "date": datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
    }
    args.update(changes)
    notice = args.pop("notice", NOTICE)
    assert isinstance(notice, RenderedNotice)
    return build_message(notice, **args).as_bytes()  # type: ignore[arg-type]


def test_message_id_is_deterministic_per_notice_key() -> None:
    first = message_id_for("shipment-42:refund_offer", "shop.example")
    assert first == message_id_for("shipment-42:refund_offer", "shop.example")
    assert first != message_id_for("shipment-42:delayed", "shop.example")
    assert first.startswith("<")
    assert first.endswith("@shop.example>")


@pytest.mark.parametrize("domain", ["", "bad domain", "evil.example>\r\nBcc: x@y", "-x.example"])
def test_message_id_rejects_bad_domains(domain: str) -> None:
    with pytest.raises(NoticeError):
        message_id_for("k", domain)


def test_the_message_is_multipart_alternative_with_text_first() -> None:
    parsed = message_from_bytes(_build(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in parsed.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert parsed["Message-ID"] == message_id_for("42:shipped", "gadgets.example")
    assert parsed["Reply-To"] == "help@gadgets.example"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Date"] == "Sun, 01 Mar 2026 12:00:00 +0000"


def test_non_ascii_subject_and_names_are_encoded() -> None:
    notice = RenderedNotice("Заказ уже в пути", "Привет\n", "<p>Привет</p>")
    raw = _build(notice=notice, recipient=format_address("Анна Петрова", "anna@example.ru"))
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "Заказ уже в пути"
    assert parsed["To"].addresses[0].display_name == "Анна Петрова"
    assert raw.isascii()


@pytest.mark.parametrize(
    "recipient",
    ["ana@example.com\r\nBcc: victim@example.com", "Ana\n <ana@example.com>", "a@b.c, d@e.f"],
)
def test_addresses_with_line_breaks_or_several_recipients_are_rejected(recipient: str) -> None:
    with pytest.raises(NoticeError):
        _build(recipient=recipient)


def test_format_address_strips_line_breaks_from_the_name() -> None:
    value = format_address("Ana\r\nBcc: victim@example.com", "ana@example.com")
    assert "\n" not in value
    assert "\r" not in value
    parsed = message_from_bytes(_build(recipient=value), policy=policy.default)
    assert parsed["Bcc"] is None
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ana@example.com"]


@given(st.text())
def test_no_subject_can_add_a_header(subject: str) -> None:
    raw = _build(notice=RenderedNotice(subject, "x\n", "<p>x</p>"))
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None
    assert sorted(parsed.keys()) == sorted(
        ["Subject", "From", "To", "Reply-To", "Date", "Message-ID", "Auto-Submitted",
         "MIME-Version", "Content-Type"]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        ("Hello\n", "7bit"),
        ("Olá, obrigado pela sua compra.\n", "quoted-printable"),
        ("Здравствуйте! Спасибо за заказ.\n", "base64"),
        ("x" * 5000 + "\n", "quoted-printable"),  # one very long carrier line
    ],
)
def test_bodies_are_seven_bit_with_short_lines(body: str, encoding: str) -> None:
    raw = _build(notice=RenderedNotice("s", body, f"<p>{body}</p>"))
    assert raw.isascii()
    assert max(len(line) for line in raw.splitlines()) <= 998
    parsed = message_from_bytes(raw, policy=policy.default)
    text = next(p for p in parsed.walk() if p.get_content_type() == "text/plain")
    assert text["Content-Transfer-Encoding"] == encoding
    assert text.get_content() == body


@given(
    text=(
        # mostly ASCII (quoted-printable is shorter) or mostly not (base64 is)
        st.text(st.sampled_from("Your order GC-17 is on its way, é ã ç ü — € 日"), max_size=300)
        | st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=300)
    ).filter(lambda t: not t.isascii()),
    header_name=st.sampled_from(["Subject", "X-Tracker-Long-Header-Name", None]),
    maxlinelen=st.sampled_from([None, 40, 76, 200]),
)
def test_subjects_are_split_into_encoded_words_exactly_as_the_stdlib_splits_them(
    text: str, header_name: str | None, maxlinelen: int | None
) -> None:
    from email.header import Header

    from notices.message import _UTF8

    ours = Header(text, _UTF8, header_name=header_name, maxlinelen=maxlinelen).encode()
    stdlib = Header(text, "utf-8", header_name=header_name, maxlinelen=maxlinelen).encode()
    assert ours == stdlib
