"""Every notice subject in every language arrives exactly as written: RFC 2047 encoding and
header folding must not add a leading space or split a character."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from notices.languages import supported_languages
from notices.message import build_message
from notices.render import RenderedNotice
from notices.strings import Catalog
from tracker.model import Milestone

CATALOG = Catalog()


@pytest.mark.parametrize("language", supported_languages())
def test_subjects_round_trip(language: str) -> None:
    for kind in Milestone:
        subject = CATALOG.raw(language, f"{kind.value}.subject").format(
            order="ORD-1001", store="Gadget Corner"
        )
        message = build_message(
            RenderedNotice(subject, "text", "<p>html</p>"),
            sender="Shop <shop@example.com>",
            recipient="buyer@example.com",
            reply_to=None,
            message_id="<1.notice@tracker.invalid>",
        )
        parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
        assert str(parsed["Subject"]) == subject, (language, kind)
