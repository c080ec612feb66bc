"""The web server's pure parts: signed links, language choice, the story's claims, page wording
in every language, the limits' bookkeeping."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from notices.languages import base_languages, supported_languages
from notices.webwords import WEB_DIR, page_words
from tracker.config import BrandConfig, contrast_with_white
from tracker.errors import ConfigError
from tracker.web import links
from tracker.web.answers import Answer, Offer
from tracker.web.guard import FD_RESERVE, QuietAcceptErrors, SummaryLog, connection_cap
from tracker.web.language import accepted_languages, page_locale
from tracker.web.lookup import RateLimit, client_key
from tracker.web.story import EventRecord, ParcelRecord, Presentation, Story, Window, tell

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
KEYS = links.LinkKeys((b"first-key-0123456789",))
TTL = timedelta(days=30)


def test_a_signed_link_opens_for_its_purpose_only() -> None:
    token = links.sign(KEYS, "page", 42, NOW)
    assert links.verify(KEYS, token, "page", NOW, TTL).ref == 42
    with pytest.raises(links.LinkError):
        links.verify(KEYS, token, "unsubscribe", NOW, TTL)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace("p42", "p43", 1),
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t.split(".")[0],
        lambda t: t + "ü",
        lambda t: "",
        lambda t: t * 4,
    ],
    ids=["other-id", "signature", "cut", "non-ascii", "empty", "huge"],
)
def test_a_tampered_link_is_refused(mangle: object) -> None:
    token = links.sign(KEYS, "page", 42, NOW)
    with pytest.raises(links.LinkError):
        links.verify(KEYS, mangle(token), "page", NOW, TTL)  # type: ignore[operator]


def test_links_expire_and_survive_key_rotation() -> None:
    token = links.sign(KEYS, "page", 7, NOW)
    with pytest.raises(links.LinkExpired):
        links.verify(KEYS, token, "page", NOW + TTL + timedelta(days=2), TTL)
    rotated = links.LinkKeys.parse("second-key-0123456789,first-key-0123456789", "TEST")
    assert links.verify(rotated, token, "page", NOW, TTL).ref == 7
    assert links.sign(rotated, "page", 7, NOW) != token  # new links use the new key
    dropped = links.LinkKeys.parse("second-key-0123456789", "TEST")
    with pytest.raises(links.LinkError):
        links.verify(dropped, token, "page", NOW, TTL)


@pytest.mark.parametrize("value", [None, "", " , ", "short"])
def test_missing_or_short_keys_are_a_config_error(value: str | None) -> None:
    with pytest.raises(ConfigError, match=r"web\.link_keys_env"):
        links.LinkKeys.parse(value, "web.link_keys_env (X)")


@pytest.mark.parametrize(
    ("query", "order", "accept", "country", "tag"),
    [
        ("ru", "pt-BR", "de", "BR", "ru"),
        (None, "pt-BR", "de", "PT", "pt-BR"),
        (None, "pt", None, "PT", "pt-PT"),
        (None, "es", None, "MX", "es-MX"),
        (None, None, "fr-CA,fr;q=0.9,en;q=0.5", "US", "fr-CA"),
        (None, None, "xx, it;q=0.2, zz", "US", "it"),
        (None, None, "en;q=0", "PL", "pl-PL"),
        ("<script>", None, None, "ES", "es-ES"),
        (None, None, None, "JP", "en"),
    ],
)
def test_language_precedence_and_variants(
    query: str | None, order: str | None, accept: str | None, country: str, tag: str
) -> None:
    assert page_locale(query, order, accept, country, "en").tag == tag


def test_accept_language_is_ranked_by_quality() -> None:
    assert accepted_languages("de;q=0.5, pl, fr;q=0.8") == ["pl", "fr", "de"]
    assert accepted_languages("a" * 600) == []


def test_every_language_has_every_page_string() -> None:
    english = page_words("en").strings
    for tag in base_languages():
        assert (WEB_DIR / f"{tag}.toml").is_file(), tag
        assert set(page_words(tag).strings) == set(english), tag
    for tag in supported_languages():
        assert page_words(tag).lang == tag
    assert page_words("xx").lang == "en"
    assert page_words("pt-PT").say("pickup.heading") == "Onde levantar"
    assert page_words("pt-BR").say("pickup.heading") == "Onde retirar"
    assert page_words("de").say("page.title", order="A{1}", store="{store}") == (
        "Ihre Bestellung A{1} bei {store}"
    )


def parcel(**changes: object) -> ParcelRecord:
    base = ParcelRecord(
        shipment_id=1,
        tracking_number="RR1CN",
        carrier_name="Sandbox Post",
        carrier_url="https://sandbox.example/RR1CN",
        order_reference="A-1",
        buyer_email="ana@example.com",
        buyer_language="pt-BR",
        destination_country="BR",
        origin_country="CN",
        status="in_transit",
        detail=None,
        delivered_at=None,
        window=Window(NOW + timedelta(days=2), NOW + timedelta(days=6)),
        events=(EventRecord(NOW, "Saiu do centro", "CURITIBA", "BR", "in_transit", None),),
        offer=Offer(9, "refund_offer", ("resend", "refund"), NOW),
        answer=None,
    )
    return base.__class__(**{**{f: getattr(base, f) for f in base.__slots__}, **changes})


def story(record: ParcelRecord, lang: str = "en", **shown: object) -> object:
    locale = page_locale(lang, None, None, record.destination_country, "en")
    presentation = Presentation("Aurora", **shown)  # type: ignore[arg-type]
    return tell(
        record, page_words(locale.lang), locale, ZoneInfo("America/Sao_Paulo"), presentation
    )


def test_a_delivered_parcel_promises_no_window_and_offers_nothing() -> None:
    told = story(parcel(status="delivered", delivered_at=NOW, offer=None))
    assert told.window.startswith("Delivered on")  # type: ignore[attr-defined]
    assert told.choices == ()  # type: ignore[attr-defined]


def test_an_answered_offer_is_not_asked_again() -> None:
    told = story(parcel(answer=Answer(9, "resend", NOW)))
    assert told.offer is None  # type: ignore[attr-defined]
    assert told.choices == ()  # type: ignore[attr-defined]


def test_a_pickup_names_the_place_and_no_invented_deadline() -> None:
    told = story(parcel(status="available_for_pickup"), "de")
    assert told.pickup == "Abholort: CURITIBA."  # type: ignore[attr-defined]
    assert told.pickup_until is None  # type: ignore[attr-defined]


def test_a_pickup_repeats_the_deadline_the_pickup_email_gave() -> None:
    until = datetime(2026, 12, 11, 15, 0, tzinfo=UTC)
    waiting = parcel(status="available_for_pickup", pickup_until=until)
    german, russian = story(waiting, "de"), story(waiting, "ru")
    collected = story(parcel(status="delivered", pickup_until=until))
    assert isinstance(german, Story)
    assert isinstance(russian, Story)
    assert isinstance(collected, Story)
    assert german.pickup_until == "Bitte holen Sie es bis zum 11. Dezember 2026 ab."
    assert russian.pickup_until == "Забрать посылку можно до 11 декабря 2026 включительно."
    assert collected.pickup_until is None  # once collected, no deadline is shown


def test_hidden_origin_and_carrier() -> None:
    told = story(parcel(), hide_origin=True, hide_carrier=True)
    assert "China" not in told.route_line  # type: ignore[attr-defined]
    assert "Sandbox" not in told.number_line  # type: ignore[attr-defined]
    assert all("sandbox.example" not in link.url for link in told.links)  # type: ignore[attr-defined]


def test_the_connection_cap_leaves_room_for_the_rest_of_the_daemon() -> None:
    assert connection_cap(1000, 160, open_now=10) == 160 - FD_RESERVE
    assert connection_cap(1000, 160, open_now=50) == 160 - 50 - FD_RESERVE // 2
    assert connection_cap(50, 100_000, open_now=10) == 50
    assert connection_cap(1000, 20, open_now=10) == 8


def test_summary_log_holds_back_repeats() -> None:
    now = [0.0]
    summary = SummaryLog(interval=10, clock=lambda: now[0])
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        for _ in range(1000):
            summary.note("web.connection_cut", reason="shed")
        now[0] = 11
        summary.note("web.connection_cut", reason="shed")
    assert [e["also_since_last"] for e in logs] == [0, 999]


def test_accept_errors_are_logged_once_a_minute() -> None:
    now = [0.0]
    quiet = QuietAcceptErrors(interval=60, clock=lambda: now[0])

    def failed_accept() -> logging.LogRecord:
        error = OSError(24, "Too many open files")
        return logging.LogRecord(
            "asyncio",
            logging.ERROR,
            "",
            0,
            "socket.accept() out of system resource",
            None,
            (OSError, error, None),
        )

    records = [failed_accept() for _ in range(5)]
    assert [quiet.filter(r) for r in records] == [True, False, False, False, False]
    assert records[0].exc_info is None  # no traceback
    other = logging.LogRecord("asyncio", logging.ERROR, "", 0, "something else", None, None)
    assert quiet.filter(other)
    now[0] = 61
    later = failed_accept()
    assert quiet.filter(later)
    assert "4 more since the last report" in later.getMessage()


def test_lookup_rate_limit_per_client_network() -> None:
    now = [0.0]
    limit = RateLimit(2, 60, clock=lambda: now[0])
    assert [limit.allow("a"), limit.allow("a"), limit.allow("a"), limit.allow("b")] == [
        True,
        True,
        False,
        True,
    ]
    now[0] = 61
    assert limit.allow("a")
    trusted = ["127.0.0.1"]
    assert client_key("127.0.0.1", {"X-Forwarded-For": "1.1.1.1, 203.0.113.9"}, trusted) == (
        "203.0.113.0/24"
    )
    assert client_key("198.51.100.7", {"X-Forwarded-For": "1.1.1.1"}, trusted) == "198.51.100.0/24"
    assert client_key("2001:db8::1", {}, trusted) == "2001:db8::/48"


def test_brand_colours_must_be_readable() -> None:
    assert contrast_with_white("#1d4ed8") > 4.5
    with pytest.raises(ValueError, match="contrast"):
        BrandConfig(accent="#ffcc00")
    with pytest.raises(ValueError, match="logo_url"):
        BrandConfig(logo_url="http://shop.example/logo.png")


#: the page names the carrier whose date it gives, in every page language
PAGE_CARRIERS_DATE = {
    "en": "Correios expects to deliver it by",
    "de": "Correios rechnet mit der Zustellung bis zum",
    "fr": "selon Correios.",
    "es": "Según Correios, llegará a más tardar el",
    "it": "secondo Correios.",
    "pl": "Correios przewiduje doręczenie najpóźniej",
    "pt": "segundo a transportadora Correios.",
    "pt-PT": "segundo a transportadora Correios.",
    "ru": "по данным перевозчика Correios.",
}


@pytest.mark.parametrize("lang", sorted(PAGE_CARRIERS_DATE))
def test_the_page_tells_a_carriers_date_as_theirs(lang: str) -> None:
    window = Window(None, NOW + timedelta(days=6), carrier_estimate=True)
    told = story(parcel(window=window, carrier_name="Correios"), lang)
    ours = story(parcel(window=window._replace(carrier_estimate=False), carrier_name="Correios"))
    assert PAGE_CARRIERS_DATE[lang] in told.window  # type: ignore[attr-defined]
    assert "Correios" not in ours.window  # type: ignore[attr-defined]
