"""Every notice subject in every language arrives exactly as written: RFC 2047 encoding and
header folding must not add a leading space or split a character."""

from __future__ import annotations

import tomllib
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from notices.countries import SUPPORTED_LANGUAGES
from notices.message import build_message
from notices.render import RenderedNotice
from tracker.model import Milestone

LOCALES = Path(__file__).resolve().parents[2] / "notices" / "locales"


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_subjects_round_trip(language: str) -> None:
    strings = tomllib.loads((LOCALES / f"{language}.toml").read_text("utf-8"))
    for kind in Milestone:
        subject = str(strings[kind.value]["subject"]).format(
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
