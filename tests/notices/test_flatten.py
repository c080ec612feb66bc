"""``notices.transports.flatten`` writes the bytes smtplib's ``send_message`` would write.

The transport flattens with shortcuts (header folding, line breaks) that must never change a
byte; these tests hold it to the stdlib's ``BytesGenerator`` on every golden notice and on
generated headers and bodies.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from email import policy
from email.errors import HeaderParseError
from email.generator import BytesGenerator
from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notices.languages import supported_languages
from notices.message import build_message, format_address, message_id_for
from notices.render import NoticeRenderer, RenderedNotice
from notices.strings import sample_buyer
from notices.transports import _CRLF_COMPAT32, flatten
from notices.unsubscribe import Unsubscribe
from tests.notices.golden import CASES, context

CRLF_COMPAT32 = policy.compat32.clone(linesep="\r\n")


def _stdlib(message: EmailMessage) -> bytes:
    with io.BytesIO() as buffer:
        BytesGenerator(buffer).flatten(message, linesep="\r\n")
        return buffer.getvalue()


@pytest.mark.parametrize("lang", supported_languages())
def test_every_golden_notice_flattens_as_the_stdlib_does(
    renderer: NoticeRenderer, lang: str
) -> None:
    buyer = sample_buyer(lang)
    for number, case in enumerate(CASES):
        message = build_message(
            renderer.render(context(case, lang)),
            sender="Loja do Zé Ltda. <pedidos@loja-do-ze.example>",
            recipient=format_address(buyer["name"], "buyer@example.com"),
            reply_to=None,
            message_id=message_id_for(f"{lang}:{number}", "loja-do-ze.example"),
            date=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
            language=lang,
            unsubscribe=Unsubscribe("leave@loja-do-ze.example", "https://loja.example/u/abc"),
        )
        message["X-Tracker-Notice"] = case.kind.value
        assert flatten(message) == _stdlib(message), f"{lang}/{case.name}"


def test_a_message_with_another_policy_flattens_as_the_stdlib_does() -> None:
    message = EmailMessage()  # policy.default: the stdlib's own folding throughout
    message["Subject"] = "A subject long enough to be folded by the header policy " * 2
    message["To"] = "Zoë Ångström <zoe@example.com>"
    message.set_content("Line one\r\nLine two\rLine three\nFrom here on\n")
    assert flatten(message) == _stdlib(message)


HEADER_NAMES = st.sampled_from(["Subject", "To", "X-Tracker-Notice", "List-Unsubscribe", "Dt"])
HEADER_VALUES = st.text(
    alphabet=st.sampled_from([*"ab :;,.<>@=?", "\t", "\r", "\n", "\x0b", "é", "\x00"]),
    max_size=120,
) | st.text(alphabet=st.sampled_from("aZ0 ;,"), min_size=60, max_size=90)


@given(name=HEADER_NAMES, value=HEADER_VALUES)
def test_header_folding_matches_the_stdlib(name: str, value: str) -> None:
    try:
        expected: bytes | type[Exception] = CRLF_COMPAT32.fold_binary(name, value)
    except HeaderParseError:
        expected = HeaderParseError
    try:
        ours: bytes | type[Exception] = _CRLF_COMPAT32.fold_binary(name, value)
    except HeaderParseError:
        ours = HeaderParseError
    assert ours == expected


BODY_PIECES = st.sampled_from([*"ab <>", "\r", "\n", "\r\n", "From ", "é"])


@given(text=st.lists(BODY_PIECES, max_size=80).map("".join))
def test_bodies_flatten_as_the_stdlib_does(text: str) -> None:
    notice = RenderedNotice(subject="Your parcel", text=text, html=f"<p>{text}</p>")
    message = build_message(
        notice,
        sender="Gadget Corner <orders@gadgets.example>",
        recipient="Ana Souza <ana@example.com>",
        reply_to=None,
        message_id=message_id_for("body", "gadgets.example"),
        date=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
    )
    assert flatten(message) == _stdlib(message)
