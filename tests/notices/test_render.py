"""Rendering: structure, safety, choices, customs instructions, languages, links and overrides."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import structlog.testing

from notices.context import store_identity
from notices.countries import load_national_posts, national_post
from notices.render import NoticeRenderer, choose_language, national_post_url
from tests.notices.conftest import CURITIBA, make_context
from tracker.config import SellerConfig, SellerWording
from tracker.errors import ConfigError
from tracker.model import Detail, Milestone, Status

CONFIG = Path(__file__).resolve().parents[2] / "config"
DATA = Path(__file__).resolve().parents[2] / "notices" / "data"


def test_shipped_in_english_has_every_part_in_order(renderer: NoticeRenderer) -> None:
    notice = renderer.render(make_context(Milestone.SHIPPED))
    assert notice.subject == "Your order GC-1001 is on its way"
    text = notice.text
    order = [
        "Hello Ana Souza,",
        "Thank you for your order at Gadget Corner!",
        "March 4, 2026, 9:30\u202fAM, Curitiba, Brazil",  # CLDR puts a narrow space before AM
        "Tracking number: RR123456785CN (China Post)",
        "https://track.gadgets.example/RR123456785CN",
        "https://rastreamento.correios.com.br/app/index.php?objetos=RR123456785CN",
        "What this means",
        "We expect it to arrive between March 10 and March 20, 2026.",
        "If you have any questions, just reply to this email.",
        "Mia, Gadget Corner",
    ]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)


def test_carrier_text_and_buyer_name_cannot_inject_html(renderer: NoticeRenderer) -> None:
    event = replace(CURITIBA, text='<script>alert("x")</script><img src=x onerror=alert(1)>')
    ctx = make_context(Milestone.IN_TRANSIT, latest_event=event, buyer_name="<b>Ana</b>")
    notice = renderer.render(ctx)
    assert "<script>" not in notice.html
    assert "<img" not in notice.html
    assert "<b>" not in notice.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in notice.html
    assert "&lt;b&gt;Ana&lt;/b&gt;" in notice.html
    assert '<script>alert("x")</script>' in notice.text  # plain text is not HTML


def test_line_breaks_in_buyer_data_never_reach_the_subject(renderer: NoticeRenderer) -> None:
    ctx = make_context(
        Milestone.SHIPPED, order_reference="GC-1\r\nBcc: victim@example.com", buyer_name="A\nB"
    )
    notice = renderer.render(ctx)
    assert "\n" not in notice.subject
    assert "\r" not in notice.subject
    assert notice.subject == "Your order GC-1 Bcc: victim@example.com is on its way"
    assert "Hello A B," in notice.text


def test_choices_follow_the_sellers_order(renderer: NoticeRenderer) -> None:
    ctx = make_context(Milestone.REFUND_OFFER, choices=("refund", "resend"))
    text = renderer.render(ctx).text
    assert "1. Full refund" in text
    assert "2. Free resend" in text
    assert "Keep waiting" not in text
    assert "you do not need to do anything" not in text


def test_keep_waiting_gives_the_new_expected_date(renderer: NoticeRenderer) -> None:
    ctx = make_context(Milestone.DELAYED, choices=("keep_waiting", "refund"))
    assert "1. Keep waiting: we expect it by March 20, 2026" in renderer.render(ctx).text


@pytest.mark.parametrize("kind", [Milestone.DELAYED, Milestone.REFUND_OFFER])
@pytest.mark.parametrize("choices", [(), ("refund",), ("refund", "refund"), ("refund", "gift")])
def test_fewer_than_two_valid_choices_is_a_config_error(
    renderer: NoticeRenderer, kind: Milestone, choices: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigError, match="choices"):
        renderer.render(make_context(kind, choices=choices))


@pytest.mark.parametrize(
    ("reason", "sentence"),
    [
        ("stalled", "has not shared a new scan for a while"),
        ("late", "passed the date we expected it"),
        ("exception", "reported a problem"),
    ],
)
def test_delayed_says_why(renderer: NoticeRenderer, reason: str, sentence: str) -> None:
    assert sentence in renderer.render(make_context(Milestone.DELAYED, reason=reason)).text


def test_customs_duties_tell_the_buyer_to_pay_via_the_national_post(
    renderer: NoticeRenderer,
) -> None:
    event = replace(CURITIBA, status=Status.EXCEPTION, detail=Detail.CUSTOMS_DUTIES_DUE)
    text = renderer.render(make_context(Milestone.CUSTOMS_ACTION, latest_event=event)).text
    assert "- Pay them on the website of Correios or at your post office" in text
    assert "invoice" not in text


def test_customs_duties_without_a_known_post_point_at_the_carrier(
    renderer: NoticeRenderer,
) -> None:
    event = replace(CURITIBA, status=Status.EXCEPTION, detail=Detail.CUSTOMS_DUTIES_DUE)
    ctx = make_context(
        Milestone.CUSTOMS_ACTION, latest_event=event, destination_country="KE", carrier_name="DHL"
    )
    assert "Pay them on the website of DHL" in renderer.render(ctx).text


def test_customs_hold_asks_for_documents(renderer: NoticeRenderer) -> None:
    event = replace(CURITIBA, status=Status.EXCEPTION, detail=Detail.CUSTOMS_HOLD)
    text = renderer.render(make_context(Milestone.CUSTOMS_ACTION, latest_event=event)).text
    assert "usually the invoice and a copy of your ID" in text
    assert "we will send you the invoice" in text


def test_pickup_reminds_the_buyer_to_collect(renderer: NoticeRenderer) -> None:
    event = replace(CURITIBA, status=Status.AVAILABLE_FOR_PICKUP)
    text = renderer.render(make_context(Milestone.ARRIVED_LOCALLY, latest_event=event)).text
    assert "ready for you to collect" in text
    assert "collect it soon" in text


def test_domestic_parcels_get_no_second_tracking_link(renderer: NoticeRenderer) -> None:
    text = renderer.render(make_context(origin_country="BR")).text
    assert "correios.com.br" not in text


def test_dates_and_countries_are_localized(renderer: NoticeRenderer) -> None:
    ru = renderer.render(make_context(Milestone.SHIPPED, language="ru")).text
    assert "4 марта 2026" in ru
    assert "Бразилия" in ru
    de = renderer.render(make_context(Milestone.SHIPPED, language="de")).text
    assert "4. März 2026" in de
    assert "Brasilien" in de


def test_an_unsupported_language_is_refused(renderer: NoticeRenderer) -> None:
    with pytest.raises(ConfigError, match="language"):
        renderer.render(make_context(language="nl"))


def test_explanation_comes_from_the_injected_explainer() -> None:
    calls = []

    def explain(status: Status, detail: Detail | None, lang: str, **_: object) -> str:
        calls.append((status, detail, lang))
        return "It is in your country now."

    renderer = NoticeRenderer(explain=explain)
    text = renderer.render(make_context(Milestone.IN_TRANSIT, language="fr")).text
    assert "It is in your country now." in text
    assert calls == [(Status.IN_TRANSIT, Detail.ARRIVED_DESTINATION_COUNTRY, "fr")]


@pytest.mark.parametrize(
    ("order", "country", "default", "expected"),
    [
        ("pt-BR", "US", "en", "pt"),
        ("PL", None, "en", "pl"),
        ("nl", "BR", "en", "pt"),
        (None, "MX", "en", "es-419"),
        (None, "ES", "en", "es"),
        (None, "AR", "en", "es-419"),
        ("es", "US", "en", "es-419"),  # CLDR: Spanish in the US is Latin American
        ("es-ES", "MX", "en", "es"),  # the order's region wins over the address
        (None, "PT", "en", "pt-PT"),
        (None, "BR", "en", "pt"),
        ("pt", "AO", "en", "pt-PT"),  # CLDR parent of pt-AO is pt-PT
        ("pt-BR", "PT", "en", "pt"),
        ("pt_PT", None, "en", "pt-PT"),
        (None, "BY", "en", "ru"),
        (None, "AT", "fr", "de"),
        (None, "UA", "ru", "ru"),  # Ukrainian is not translated: the seller's default
        (None, "NL", "de", "de"),
        (None, None, "it", "it"),
    ],
)
def test_choose_language(
    order: str | None, country: str | None, default: str, expected: str
) -> None:
    assert choose_language(order, country, default) == expected


def test_choose_language_rejects_an_unsupported_default() -> None:
    with pytest.raises(ConfigError):
        choose_language(None, None, "xx")


def test_national_posts_cover_at_least_sixty_countries() -> None:
    table = load_national_posts()
    assert len(table) >= 60
    assert all(p.url_template.startswith("https://") for p in table.values())
    wanted = (
        "RU BR US GB DE FR ES PT IT PL MX IN TR UA KZ IL SA AE KR JP ID TH VN PH MY NG ZA EG MA"
        " CL CO PE"
    )
    assert [c for c in wanted.split() if c not in table] == []


def test_every_national_post_row_names_its_source() -> None:
    lines = (DATA / "national_posts.toml").read_text("utf-8").splitlines()
    unsourced = [
        line
        for i, line in enumerate(lines)
        if line.startswith("[") and not lines[i - 1].startswith("# source: ")
    ]
    assert unsourced == []


def test_a_search_page_is_offered_with_the_number_to_type_in(renderer: NoticeRenderer) -> None:
    ctx = make_context(Milestone.IN_TRANSIT, destination_country="IN")
    text = renderer.render(ctx).text
    post = national_post("IN")
    assert post is not None
    assert not post.deep_link
    assert f"{post.url_template}\n" in text
    assert renderer.catalog.format("en", "track.national_search", {"post": post.name}) in text


def test_national_post_url_fills_and_encodes_the_number() -> None:
    assert national_post_url("ru", "RA123456789CN") == (
        "https://www.pochta.ru/tracking?barcode=RA123456789CN"
    )
    assert national_post_url("US", "9400 1/2&x") == (
        "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400%201%2F2%26x"
    )
    assert national_post_url("ZZ", "X") is None
    post = national_post("BR")
    assert post is not None
    assert post.name == "Correios"


def test_seller_overrides_from_the_example_config() -> None:
    renderer = NoticeRenderer(CONFIG / "templates", CONFIG / "notices.example.toml")
    delivered = renderer.render(make_context(Milestone.DELIVERED))
    assert delivered.subject == "Your order GC-1001 from Gadget Corner has arrived"
    assert delivered.text.startswith("Hi Ana Souza,")
    assert "12 Harbour Lane" in delivered.html  # the example delivered.html.j2
    shipped = renderer.render(make_context(Milestone.SHIPPED))
    assert "12 Harbour Lane" not in shipped.html
    spanish = renderer.render(make_context(Milestone.SHIPPED, language="es")).text
    assert spanish.startswith("Estimado/a Ana Souza:")
    assert "Atentamente," in spanish


def test_all_section_overrides_every_language(tmp_path: Path) -> None:
    strings = tmp_path / "s.toml"
    strings.write_text('[all.common]\nclose_regards = "Ciao ciao,"\n', "utf-8")
    renderer = NoticeRenderer(strings_file=strings)
    for lang in ("en", "pl"):
        assert "Ciao ciao," in renderer.render(make_context(language=lang)).text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[en.common]\ngreting = "Hi"\n', "not a known string key"),
        ('[xx.common]\ngreeting = "Hi"\n', "not a supported language"),
        ('[en.common]\ngreeting = "Hi {buyer_name"\n', "broken placeholder"),
        ("[en.common\n", "cannot read strings"),
    ],
)
def test_broken_string_overrides_fail_at_start_up(
    tmp_path: Path, content: str, message: str
) -> None:
    strings = tmp_path / "s.toml"
    strings.write_text(content, "utf-8")
    with pytest.raises(ConfigError, match=message):
        NoticeRenderer(strings_file=strings)


def test_an_override_with_an_unknown_field_fails_when_rendered(tmp_path: Path) -> None:
    strings = tmp_path / "s.toml"
    strings.write_text('[en.common]\ngreeting = "Hi {nickname},"\n', "utf-8")
    with pytest.raises(ConfigError, match="nickname"):
        NoticeRenderer(strings_file=strings).render(make_context())


def test_a_broken_template_override_fails_at_start_up(tmp_path: Path) -> None:
    (tmp_path / "shipped.txt.j2").write_text("{% if %}", "utf-8")
    with pytest.raises(ConfigError, match=r"shipped\.txt\.j2"):
        NoticeRenderer(overrides_dir=tmp_path)


def test_a_missing_templates_dir_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="templates_dir"):
        NoticeRenderer(overrides_dir=tmp_path / "nope")


def test_a_failing_explanation_is_logged_and_the_notice_still_goes_out() -> None:
    def explain(status: Status, detail: Detail | None, lang: str, **_: object) -> str:
        raise ConfigError(f"notices/explanations/{lang}.toml: missing")

    with structlog.testing.capture_logs() as logs:
        text = NoticeRenderer(explain=explain).render(make_context(language="it")).text
    assert "Cosa significa" not in text
    assert "RR123456785CN" in text
    assert [e["event"] for e in logs] == ["notice.explain_failed"]
    assert logs[0]["language"] == "it"


def test_the_default_signature_is_written_in_the_buyers_language(renderer: NoticeRenderer) -> None:
    store = replace(make_context().store, signature=None)
    signed = {
        lang: renderer.render(make_context(language=lang, store=store))
        .text.rstrip()
        .splitlines()[-1]
        for lang in ("en", "de", "fr", "pt-PT")
    }
    assert signed == {
        "en": "The Gadget Corner team",
        "de": "Ihr Team von Gadget Corner",
        "fr": "L'équipe Gadget Corner",
        "pt-PT": "A equipa Gadget Corner",
    }


def test_seller_wording_per_language_falls_back_along_the_language_chain() -> None:
    seller = SellerConfig(
        store_name="Gadget Corner",
        coupon_line="Use THANKS for 10% off.",
        languages={
            "pt": SellerWording(signature="Equipe Gadget", coupon_line="Use OBRIGADO."),
            "pt-PT": SellerWording(signature="A equipa Gadget"),
            "de": SellerWording(store_name="Gadget-Ecke"),
        },
    )
    assert store_identity(seller, "pt-PT").signature == "A equipa Gadget"
    assert store_identity(seller, "pt-PT").coupon_line == "Use OBRIGADO."  # from pt
    assert store_identity(seller, "pt").signature == "Equipe Gadget"
    assert store_identity(seller, "de").name == "Gadget-Ecke"
    assert store_identity(seller, "de").signature is None  # the catalog signs for it
    assert store_identity(seller, "fr").coupon_line == "Use THANKS for 10% off."


def test_message_ids_default_to_the_senders_domain() -> None:
    assert SellerConfig(sender="Shop <orders@shop.example>").id_domain == "shop.example"
    configured = SellerConfig(sender="orders@shop.example", message_id_domain="mail.example")
    assert configured.id_domain == "mail.example"


def test_evidence_is_told_in_the_buyers_language_with_the_carriers_words_marked(
    renderer: NoticeRenderer,
) -> None:
    event = replace(CURITIBA, text="Item returned to sender", status=Status.RETURNED, detail=None)
    text = renderer.render(
        make_context(Milestone.IN_TRANSIT, language="de", latest_event=event)
    ).text
    lines = text.splitlines()
    when = lines.index("4. März 2026, 09:30, Curitiba, Brasilien")
    assert lines[when + 1] == "Ihr Paket wurde an uns zurückgeschickt."
    assert lines[when + 2] == "Im Wortlaut des Paketdienstes: „Item returned to sender“"


def test_html_links_are_a_button_and_labels_never_long_raw_urls(renderer: NoticeRenderer) -> None:
    from tests.notices.test_style import _html_blocks

    ctx = make_context(Milestone.IN_TRANSIT, language="fr")
    html = renderer.render(ctx).html
    blocks, hrefs = _html_blocks(html)
    assert "Suivre mon colis" in blocks  # the button, alone in its cell
    assert ctx.tracking_url in hrefs
    assert "https://rastreamento.correios.com.br/app/index.php?objetos=RR123456785CN" in hrefs
    assert not [b for b in blocks if "https://" in b]  # no URL shown as text
    assert "<table" in html
    assert "max-width" not in html.split("<!--[if mso]>")[0]  # Outlook's own table comes first


#: how each language names the carrier whose date a notice gives (and that no window is given)
CARRIERS_DATE = {
    "en": "China Post expects to deliver it by March 20, 2026.",
    "de": "China Post rechnet mit der Zustellung bis zum 20. März 2026.",
    "fr": "China Post prévoit une livraison au plus tard le 20 mars 2026.",
    "es": "Según China Post, llegará a más tardar el 20 de marzo de 2026.",
    "es-419": "Según China Post, llegará a más tardar el 20 de marzo de 2026.",
    "it": "Secondo China Post, la consegna è prevista entro venerdì 20 marzo 2026.",
    "pl": "China Post przewiduje doręczenie najpóźniej 20 marca 2026.",
    "pt": "Segundo a transportadora China Post, a previsão de entrega é até 20 de março de 2026.",
    "pt-PT": (
        "Segundo a transportadora China Post, a entrega está prevista até 20 de março de 2026."
    ),
    "ru": "По данным перевозчика China Post, доставка ожидается не позднее 20 марта 2026.",
}


@pytest.mark.parametrize("lang", sorted(CARRIERS_DATE))
def test_a_carriers_date_is_told_as_theirs(renderer: NoticeRenderer, lang: str) -> None:
    ours = renderer.render(make_context(Milestone.IN_TRANSIT, language=lang)).text
    ctx = make_context(
        Milestone.IN_TRANSIT, language=lang, expected_from=None, carrier_estimate=True
    )
    theirs = renderer.render(ctx).text
    assert CARRIERS_DATE[lang] in theirs
    assert CARRIERS_DATE[lang] not in ours


def test_keep_waiting_names_the_carrier_whose_date_it_gives(renderer: NoticeRenderer) -> None:
    ctx = make_context(
        Milestone.REFUND_OFFER, expected_from=None, carrier_estimate=True, carrier_name="USPS"
    )
    text = renderer.render(ctx).text
    assert "1. Keep waiting: USPS expects to deliver it by March 20, 2026" in text
    assert "we expect it by" not in text
