"""Notices that stay true to the parcel's situation, in every language: a returned, returning,
lost or never-received parcel; a failed attempt; a parcel waiting for pickup; an old scan."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from notices.context import EventSummary
from notices.render import NoticeRenderer
from notices.strings import Catalog
from tests.notices.conftest import make_context
from tracker.model import Detail, Milestone, Status

LANGUAGES = Catalog().languages
RETURNED_EVENT = EventSummary(
    occurred_at=datetime(2026, 3, 30, 10, 0, tzinfo=UTC),
    text="Item returned to sender",
    place="Shenzhen",
    country="CN",
    status=Status.RETURNED,
    detail=None,
)
PICKUP_EVENT = EventSummary(
    occurred_at=datetime(2026, 3, 12, 10, 0, tzinfo=UTC),
    text="Item available for pickup",
    place="AC Centro Curitiba",
    country="BR",
    status=Status.AVAILABLE_FOR_PICKUP,
    detail=Detail.ARRIVED_DELIVERY_OFFICE,
)


def strings(lang: str) -> dict[str, str]:
    return dict(Catalog().language(lang))


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("situation", ["returned", "returning", "lost", "not_handed_over"])
def test_a_refund_offer_where_waiting_is_no_answer_never_offers_it(
    renderer: NoticeRenderer, lang: str, situation: str
) -> None:
    ctx = make_context(
        Milestone.REFUND_OFFER,
        language=lang,
        situation=situation,
        choices=("resend", "refund"),
        expected_from=None,
        expected_by=None,
        latest_event=RETURNED_EVENT if situation == "returned" else None,
    )
    text = renderer.render(ctx).text
    table = strings(lang)
    intro = table[f"situation.refund_{situation}_intro"].split("{order}")[0]
    assert intro.split(".")[0] in text
    # Neither "keep waiting" nor the default intro's "we sent it on ..." appears.
    for key in ("choices.keep_waiting", "choices.keep_waiting_no_date"):
        assert table[key].split("{")[0].strip() not in text, (lang, key)
    sent_on = table["refund_offer.intro"].split(". ", 1)[1].split("{")[0].strip()
    assert sent_on not in text, lang
    assert table["choices.resend"] in text
    assert table["choices.refund"] in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_pickup_notice_says_where_and_until_when(renderer: NoticeRenderer, lang: str) -> None:
    ctx = make_context(
        Milestone.ARRIVED_LOCALLY,
        language=lang,
        latest_event=PICKUP_EVENT,
        situation="pickup",
        pickup_until=date(2026, 3, 19),
        expected_from=None,
        expected_by=None,
    )
    rendered = renderer.render(ctx)
    assert "AC Centro Curitiba" in rendered.text
    assert "2026" in strings(lang)["situation.pickup_until"].format(until="2026")
    assert any(part in rendered.text for part in ("19", "19."))
    bring = strings(lang)["situation.pickup_bring"]
    assert bring in rendered.text
    assert rendered.subject == strings(lang)["situation.pickup_subject"].format(order="GC-1001")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_second_reminder_names_the_deadline_in_its_subject_or_body(
    renderer: NoticeRenderer, lang: str
) -> None:
    ctx = make_context(
        Milestone.ARRIVED_LOCALLY,
        language=lang,
        latest_event=PICKUP_EVENT,
        situation="pickup_reminder",
        pickup_until=date(2026, 3, 19),
    )
    rendered = renderer.render(ctx)
    first = strings(lang)["situation.pickup_intro_place"].split("{")[0]
    assert first not in rendered.text or lang == "en"  # a reminder has its own opening
    assert "19" in rendered.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_failed_attempt_is_not_called_a_delay(renderer: NoticeRenderer, lang: str) -> None:
    event = replace(
        PICKUP_EVENT, status=Status.DELIVERY_FAILED, detail=Detail.RECIPIENT_UNAVAILABLE
    )
    ctx = make_context(
        Milestone.ARRIVED_LOCALLY, language=lang, latest_event=event, situation="delivery_failed"
    )
    rendered = renderer.render(ctx)
    assert rendered.subject == strings(lang)["situation.attempt_subject"].format(order="GC-1001")
    assert strings(lang)["situation.attempt_next"] in rendered.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_old_scan_is_told_as_past_not_explained_as_current(
    renderer: NoticeRenderer, lang: str
) -> None:
    customs = EventSummary(
        occurred_at=datetime(2026, 2, 20, 9, 0, tzinfo=UTC),
        text="Presented to import customs",
        place="Curitiba",
        country="BR",
        status=Status.IN_TRANSIT,
        detail=Detail.CUSTOMS_PROCESSING,
    )
    fresh = make_context(
        Milestone.IN_TRANSIT, language=lang, latest_event=customs,
        as_of=datetime(2026, 2, 20, 12, 0, tzinfo=UTC),
    )  # fmt: skip
    old = replace(
        fresh,
        kind=Milestone.REFUND_OFFER,
        choices=("keep_waiting", "refund"),
        as_of=datetime(2026, 3, 31, 12, 0, tzinfo=UTC),
    )
    past = strings(lang)["situation.meaning_old"].split("{")[0].strip()
    assert past not in renderer.render(fresh).text
    assert past in renderer.render(old).text
