"""The classifier: code maps, UPU codes, phrase rules in every language, ops rule files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracker.errors import ConfigError
from tracker.model import Classification, Detail, RawEvent, Status
from tracker.normalize import VALID_DETAILS, Normalizer, fold, load_normalizer

WHEN = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    return load_normalizer()


def classify(n: Normalizer, text: str = "", code: str | None = None, **kw: str) -> Classification:
    return n.classify(RawEvent(WHEN, text, code, **kw))


UPU_CODES = [
    ("EMA", Status.IN_TRANSIT, Detail.ACCEPTED),
    ("EMB", Status.IN_TRANSIT, None),
    ("EMC", Status.IN_TRANSIT, None),
    ("EMD", Status.IN_TRANSIT, Detail.ARRIVED_DESTINATION_COUNTRY),
    ("EDA", Status.IN_TRANSIT, Detail.ARRIVED_DESTINATION_COUNTRY),
    ("EDB", Status.IN_TRANSIT, Detail.CUSTOMS_PROCESSING),
    ("EDC", Status.IN_TRANSIT, Detail.CUSTOMS_RELEASED),
    ("EME", Status.IN_TRANSIT, Detail.CUSTOMS_PROCESSING),
    ("EMF", Status.IN_TRANSIT, None),
    ("EMG", Status.IN_TRANSIT, Detail.ARRIVED_DELIVERY_OFFICE),
    ("EDG", Status.OUT_FOR_DELIVERY, None),
    ("EDH", Status.AVAILABLE_FOR_PICKUP, Detail.ARRIVED_DELIVERY_OFFICE),
    ("EMH", Status.DELIVERY_FAILED, None),
    ("EMI", Status.DELIVERED, None),
    ("EXA", Status.IN_TRANSIT, Detail.CUSTOMS_PROCESSING),
    ("EXB", Status.EXCEPTION, Detail.CUSTOMS_HOLD),
    ("EXC", Status.IN_TRANSIT, Detail.CUSTOMS_RELEASED),
    ("EXD", Status.IN_TRANSIT, None),
]


@pytest.mark.parametrize(("code", "status", "detail"), UPU_CODES)
def test_upu_code_alone_classifies_for_any_carrier(
    normalizer: Normalizer, code: str, status: Status, detail: Detail | None
) -> None:
    for carrier in ("sandbox", "china_post", None, "some-new-post"):
        result = (
            classify(normalizer, "", code, carrier=carrier)
            if carrier
            else classify(normalizer, "", code)
        )
        assert (result.status, result.detail, result.rule) == (status, detail, f"upu.{code}")


@pytest.mark.parametrize(
    ("code", "text", "status", "detail"),
    [
        ("EME", "Held by customs: documents required", Status.EXCEPTION, Detail.CUSTOMS_HOLD),
        (None, "Customs duties payable", Status.EXCEPTION, Detail.CUSTOMS_DUTIES_DUE),
        ("EMH", "Delivery attempt failed: recipient not at home", Status.DELIVERY_FAILED,
         Detail.RECIPIENT_UNAVAILABLE),
        (None, "Item is being returned to sender", Status.EXCEPTION, Detail.RETURNING),
        (None, "Item returned to sender", Status.RETURNED, None),
        (None, "Item declared lost", Status.EXCEPTION, Detail.LOST),
        ("ZZ9", "Item declared lost", Status.EXCEPTION, Detail.LOST),
    ],
)  # fmt: skip
def test_sandbox_wording(
    normalizer: Normalizer, code: str | None, text: str, status: Status, detail: Detail | None
) -> None:
    result = classify(normalizer, text, code, carrier="sandbox")
    assert (result.status, result.detail) == (status, detail)


@pytest.mark.parametrize(
    ("text", "status", "detail"),
    [
        ("已签收，感谢使用", Status.DELIVERED, None),
        ("【上海】海关查验", Status.EXCEPTION, Detail.CUSTOMS_HOLD),
        ("ПРИБЫЛО В МЕСТО ВРУЧЕНИЯ", Status.AVAILABLE_FOR_PICKUP, Detail.ARRIVED_DELIVERY_OFFICE),
        ("Передано почтальону", Status.OUT_FOR_DELIVERY, None),
        ("Objeto entregue ao destinatario", Status.DELIVERED, None),
        ("Objeto em trânsito - por favor aguarde", Status.IN_TRANSIT, None),
        ("Envío entregado", Status.DELIVERED, None),
        ("Retenido en aduana", Status.EXCEPTION, Detail.CUSTOMS_HOLD),
        ("Votre colis a été remis au destinataire", Status.DELIVERED, None),
        ("Zustellversuch: Empfänger nicht angetroffen", Status.DELIVERY_FAILED,
         Detail.RECIPIENT_UNAVAILABLE),
        ("Spedizione sdoganata", Status.IN_TRANSIT, Detail.CUSTOMS_RELEASED),
        ("Przesyłka zagubiona", Status.EXCEPTION, Detail.LOST),
        ("Zending is beschadigd", Status.EXCEPTION, Detail.DAMAGED),
        ("Shipment is out for delivery", Status.OUT_FOR_DELIVERY, None),
    ],
)  # fmt: skip
def test_phrase_rules_in_every_language(
    normalizer: Normalizer, text: str, status: Status, detail: Detail | None
) -> None:
    result = classify(normalizer, text, carrier="unheard-of-carrier")
    assert (result.status, result.detail) == (status, detail)
    assert result.rule is not None
    assert result.rule.startswith("text.")


def test_carrier_code_maps_come_before_upu_and_text(normalizer: Normalizer) -> None:
    assert classify(normalizer, "whatever", "01", carrier="usps").rule == "usps.01"
    assert classify(normalizer, "", "12.6", carrier="russian_post") == Classification(
        Status.EXCEPTION, Detail.REFUSED, "russian_post.12.6"
    )
    # an attribute without its own entry falls back to the operation type
    assert classify(normalizer, "", "8.99", carrier="Russian Post").rule == "russian_post.8"
    # the same code means nothing to another carrier, so the text decides
    assert classify(normalizer, "Delivered", "01", carrier="dhl").status is Status.DELIVERED


def test_unknown_event_is_unknown_without_rule(normalizer: Normalizer) -> None:
    for text in ("", "Lorem ipsum dolor", "12345"):
        assert classify(normalizer, text) == Classification(Status.UNKNOWN, None, None)


def test_negations_and_announcements_are_not_deliveries(normalizer: Normalizer) -> None:
    assert classify(normalizer, "Package could not be delivered").status is Status.DELIVERY_FAILED
    assert classify(normalizer, "Will be delivered tomorrow").status is Status.IN_TRANSIT


def test_every_builtin_rule_respects_the_vocabulary(normalizer: Normalizer) -> None:
    from tracker.normalize.loader import load_builtin_rules

    rules = load_builtin_rules()
    results = [c for table in rules.codes.values() for c in table.values()]
    results += [Classification(r.status, r.detail, r.rule_id) for r in rules.text]
    for c in results:
        assert c.detail is None or c.status in VALID_DETAILS[c.detail], c.rule
    assert len({r.rule_id for r in rules.text}) == len(rules.text)


def test_fold_ignores_case_and_accents() -> None:
    assert fold("ENTREGUE AO DESTINATÁRIO") == fold("entregue ao destinatario")
    assert fold("Доставлено, ёлка") == "доставлено, елка"
    assert fold("Przesyłka doręczona") == "przesylka doreczona"


def test_ops_rule_overrides_builtin(tmp_path: Path, normalizer: Normalizer) -> None:
    ops = tmp_path / "rules.toml"
    ops.write_text(
        """
[codes.upu]
EMH = { status = "delivery_failed", detail = "recipient_unavailable" }

[[text]]
id = "text.en.delivered"
lang = "en"
status = "available_for_pickup"
detail = "arrived_delivery_office"
phrases = ["delivered to (the )?neighbou?r"]

[[text]]
id = "acme.parked"
status = "exception"
detail = "delayed_external"
phrases = ["parked at the depot"]
""",
        "utf-8",
    )
    custom = load_normalizer([ops])
    assert classify(custom, "", "EMH").detail is Detail.RECIPIENT_UNAVAILABLE
    assert classify(normalizer, "", "EMH").detail is None
    neighbour = classify(custom, "Delivered to neighbour")
    assert (neighbour.status, neighbour.rule) == (Status.AVAILABLE_FOR_PICKUP, "text.en.delivered")
    assert classify(custom, "Van parked at the depot").rule == "acme.parked"
    assert classify(normalizer, "Delivered to neighbour").status is Status.DELIVERED


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("[[text]]\nid = 'acme.x'\nstatus = 'nonsense'\nphrases = ['x']\n", "'acme.x'"),
        (
            "[[text]]\nid = 'acme.y'\nstatus = 'delivered'\ndetail = 'lost'\nphrases = ['x']\n",
            "'acme.y'",
        ),
        ("[[text]]\nid = 'acme.z'\nstatus = 'delivered'\nphrases = ['(unclosed']\n", "'acme.z'"),
        ("[[text]]\nid = 'acme.w'\nstatus = 'delivered'\n", "'acme.w'"),
        ("[codes.usps]\n'01' = { status = 'gone' }\n", "'usps.01'"),
        ("[codes.usps\n", "not valid TOML"),
        ("[surprise]\n", "surprise"),
    ],
)
def test_broken_ops_file_raises_config_error_naming_file_and_rule(
    tmp_path: Path, body: str, fragment: str
) -> None:
    path = tmp_path / "broken-rules.toml"
    path.write_text(body, "utf-8")
    with pytest.raises(ConfigError) as info:
        load_normalizer([path])
    assert str(path) in str(info.value)
    assert fragment in str(info.value)


def test_missing_ops_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_normalizer([tmp_path / "absent.toml"])


def test_example_ops_file_loads_and_changes_nothing() -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "rules.example.toml"
    custom = load_normalizer([example])
    assert classify(custom, "", "EMH") == classify(load_normalizer(), "", "EMH")


@pytest.mark.parametrize(
    ("text", "status", "detail"),
    [
        # a pickup point or locker that awaits collection is not a delivery
        ("Delivered to locker/collection point", Status.AVAILABLE_FOR_PICKUP,
         Detail.ARRIVED_DELIVERY_OFFICE),
        ("Objeto entregue na Caixa de Correios Inteligente", Status.AVAILABLE_FOR_PICKUP,
         Detail.ARRIVED_DELIVERY_OFFICE),
        ("Votre colis est disponible dans le point de retrait sélectionné.",
         Status.AVAILABLE_FOR_PICKUP, Detail.ARRIVED_DELIVERY_OFFICE),
        # customs: released, routine, held, duties
        ("Таможенное оформление, Выпуск разрешен. Таможенные платежи уплачены", Status.IN_TRANSIT,
         Detail.CUSTOMS_RELEASED),
        ("Таможенное оформление, Выпуск приостановлен", Status.EXCEPTION, Detail.CUSTOMS_HOLD),
        ("Votre colis est retenu en douane pour dédouanement", Status.IN_TRANSIT,
         Detail.CUSTOMS_PROCESSING),
        ("Facture manquante, votre colis est retenu en douane.", Status.EXCEPTION,
         Detail.CUSTOMS_HOLD),
        ("Para recebimento do objeto, é necessário o pagamento do ICMS Importação",
         Status.EXCEPTION, Detail.CUSTOMS_DUTIES_DUE),
        # address problems written as sentences
        ("L'adresse de votre colis est incomplète. Nous recherchons la partie non renseignée",
         Status.EXCEPTION, Detail.ADDRESS_ISSUE),
        ("Necessário complementar endereço de entrega", Status.EXCEPTION, Detail.ADDRESS_ISSUE),
        # conversational acceptance; returned (final) against being returned
        ("Votre colis est entre nos mains.", Status.IN_TRANSIT, Detail.ACCEPTED),
        ("RTS Received - Refused", Status.RETURNED, None),
        ("The shipment returns to the sender", Status.EXCEPTION, Detail.RETURNING),
        # languages added: Ukrainian, Japanese, Korean
        ("Відправлення прямує до міста отримувача", Status.IN_TRANSIT, None),
        ("Відмова отримувача", Status.EXCEPTION, Detail.REFUSED),
        ("お届け先にお届け済み", Status.DELIVERED, None),
        ("ご不在のため持ち戻り", Status.DELIVERY_FAILED, Detail.RECIPIENT_UNAVAILABLE),
        ("引受", Status.IN_TRANSIT, Detail.ACCEPTED),
        ("배달완료", Status.DELIVERED, None),
        ("배달출발", Status.OUT_FOR_DELIVERY, None),
        ("집화처리", Status.IN_TRANSIT, Detail.ACCEPTED),
        # a status name written as one CamelCase word
        ("DeliveryFailure", Status.DELIVERY_FAILED, None),
    ],
)  # fmt: skip
def test_wording_the_first_rules_missed(
    normalizer: Normalizer, text: str, status: Status, detail: Detail | None
) -> None:
    result = classify(normalizer, text, carrier="unheard-of-carrier")
    assert (result.status, result.detail) == (status, detail), result


@pytest.mark.parametrize(
    ("carrier", "code", "status", "detail", "rule"),
    [
        ("aftership", "Delivered_002", Status.DELIVERED, None, "aftership.Delivered_002"),
        ("aftership", "Exception_011", Status.RETURNED, None, "aftership.Exception_011"),
        ("aftership", "InTransit_007", Status.IN_TRANSIT, None, "aftership.InTransit"),
        ("seventeentrack", "InTransit_CustomsReleased", Status.IN_TRANSIT,
         Detail.CUSTOMS_RELEASED, "seventeentrack.InTransit_CustomsReleased"),
        ("seventeentrack", "Delivered_Other", Status.DELIVERED, None, "seventeentrack.Delivered"),
    ],
)  # fmt: skip
def test_aggregator_statuses_are_mapped_in_their_code_files(
    normalizer: Normalizer,
    carrier: str,
    code: str,
    status: Status,
    detail: Detail | None,
    rule: str,
) -> None:
    assert classify(normalizer, "", code, carrier=carrier) == Classification(status, detail, rule)


def test_a_generic_aggregator_status_takes_the_reason_from_the_text(normalizer: Normalizer) -> None:
    result = classify(normalizer, "Customs duties payable", "Exception", carrier="aftership")
    assert (result.status, result.detail) == (Status.EXCEPTION, Detail.CUSTOMS_DUTIES_DUE)
