"""Concept rules (terms in any order) and the guard on the costliest error, a false "delivered".

The sentences below were written for these tests (they are not carrier texts and are not in the
labelled corpus): each states one meaning in a word order or form the phrase rules were not
written for, so a rule that only matches one phrasing fails here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracker.errors import ConfigError
from tracker.model import Detail, RawEvent, Status
from tracker.normalize import Normalizer, RuleSet, load_normalizer
from tracker.normalize.loader import load_builtin_rules

WHEN = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    return load_normalizer(cache_size=0)


def _classify(n: Normalizer, text: str) -> tuple[Status, Detail | None]:
    result = n.classify(RawEvent(WHEN, text, None, carrier="unheard-of-carrier"))
    return result.status, result.detail


@pytest.mark.parametrize(
    "text",
    [
        "Incomplete address",
        "Address incomplete",
        "The address given for this parcel is incomplete",
        "Recipient address: wrong house number",
        "Die angegebene Adresse ist unvollständig",
        "Unvollständige Anschrift",
        "Anschrift des Empfängers fehlerhaft",
    ],
)
def test_address_and_its_fault_in_any_order(normalizer: Normalizer, text: str) -> None:
    assert _classify(normalizer, text) == (Status.EXCEPTION, Detail.ADDRESS_ISSUE)


@pytest.mark.parametrize(
    "text",
    ["Zollabfertigung abgelehnt", "Die Zollprüfung ist negativ", "Customs clearance refused"],
)
def test_customs_refusal_in_any_order_is_a_hold(normalizer: Normalizer, text: str) -> None:
    assert _classify(normalizer, text) == (Status.EXCEPTION, Detail.CUSTOMS_HOLD)


@pytest.mark.parametrize(
    "text",
    [
        # negations, in every language with phrase rules for "delivered"
        "Parcel not delivered",
        "Delivery not completed",
        "Die Sendung wurde nicht zugestellt",
        "Nicht ausgeliefert",
        "Le colis n'a pas été livré",
        "Não foi entregue",
        "No ha sido entregado",
        "Non è stato consegnato",
        "Przesyłka nie została doręczona",
        "Het pakket is niet afgeleverd",
        "Отправление не было вручено",
        "Не вручен",
        "Не доставлен",
        "超时未签收",
        # a pickup point or locker that awaits the buyer
        "Delivered to the parcel locker, please collect within 7 days",
        "Your parcel was delivered to the ParcelShop",
        "Parcel placed in the locker at the station",
        "In die Packstation zugestellt",
        "Livré en point relais",
        "Entregado en el punto de recogida, ya puede pasar a recogerlo",
        "Spedizione consegnata al punto di ritiro",
        "Arrivata al fermopoint, in attesa del ritiro",
        "Objeto aguardando retirada na agência",
        # a vehicle or trailer is a leg of the journey, not the buyer
        "Delivered into the trailer for the night linehaul",
        # announcements
        "Will be delivered tomorrow",
        "Sendung wird morgen zugestellt",
        "Your parcel is kept at the depot and will be delivered on another day",
        "Delivery date changed: your parcel will now be delivered on Friday",
        # negation in another word order, and a collection still to come
        "Delivery to the recipient was unsuccessful",
        "We were unable to deliver it",
        "Parcel to be collected by the recipient at the branch",
        "Parcel to be picked up by you at the post office",
        # the parcel went back: the sender received it, not the buyer
        "Return parcel delivered by the courier to the sender",
        "Het pakket wordt morgen bij de buren afgeleverd",
        "Afleveren van het pakket is vandaag helaas niet gelukt",
        "De retourzending is bij de afzender afgeleverd",
        # a notice delivered, a pickup from the sender, a Ukrainian or Russian negation, a return
        "Извещение доставлено адресату",
        "Paczka odebrana przez kuriera",
        "Przesyłka odebrana od nadawcy",
        "Не выдано",
        "Посилку не одержано",
        "Посилку вручено відправнику 5 травня",
        # German: a handover to a neighbour that failed or is still to come, a locker not
        # emptied, a return that reached the sender, an announcement whose verb comes last
        "Die Sendung konnte nicht an den Nachbarn übergeben werden",
        "Die Sendung wird morgen an den Nachbarn übergeben",
        "Die Sendung wurde nicht aus der Packstation abgeholt",
        "Die Rücksendung wurde erfolgreich an den Absender zugestellt",
        "Zustellung nicht erfolgreich",
        "Ihr Paket wird am Freitag von unserem Fahrer zugestellt",
        # Korean, Japanese, Chinese: a store, a convenience store, a locker or a station that
        # holds the parcel for the buyer; a Korean negation after the delivered word
        "고객님의 상품이 편의점 점포에 도착하였습니다",
        "コンビニエンスストアに到着しました。お受け取りください",
        "快件已放入丰巢智能柜，请凭取件码取件",
        "包裹已存放至菜鸟驿站，请及时领取",
        "배송완료 되지 않았습니다",
        # given to someone else for the last leg: the delivery is still to come
        "Parcel passed to the local courier for final delivery",
        "Delivered to our partner carrier for last mile delivery",
        # waiting to be fetched, in words no pickup-point rule names
        "Your parcel can be collected from tomorrow",
        "Colis distribué à l’expéditeur",
        # an out-for-delivery text that announces the delivery of the day
        "Le colis a été remis au livreur et sera livré aujourd'hui",
        "Saiu para entrega, será entregue hoje",
        # Turkish negates and announces with a suffix: not delivered, could not be, will be
        "Gönderiniz teslim edilmedi",
        "Kargonuz teslim edilemedi",
        "Kargonuz yarın teslim edilecek",
        "Kargonuz şubede sizi bekliyor",
        # a hand-over to a neighbour that did not happen
        "Parcel could not be delivered to the neighbour",
        "Delivery to neighbour failed, card left",
        # a pickup point the parcel could not be handed to
        "The parcel could not be handed over to the post office as it was closed",
        # signed for by a station or an agent point for the buyer; "get ready to sign"
        "您的包裹已由驿站签收，请凭取件码领取",
        "包裹已由代理点签收",
        "快递员正在派送，请您准备签收",
        # Dutch: left at a pickup point for the buyer, not on today's round
        "Pakket afgeleverd bij de ParcelShop om de hoek",
        "Zending vandaag niet in levering",
        # Russian: the item handed out, but not, or to the courier who takes it out
        "Почтовое отправление не выдано",
        "Отправление выдано курьеру для доставки",
        # Italian: handed to the courier's branch, where the buyer collects it; Portuguese: left
        # at a "ponto de entrega" (a pickup point, in CTT's word)
        "Il pacco è stato consegnato alla filiale e attende il ritiro del destinatario",
        "Encomenda entregue no ponto de entrega da sua zona",
        # Spanish: left at the carrier's branch ("sucursal") for the buyer; Italian: a delivery
        # tried without success
        "Entregado en la sucursal, ya puede pasar a retirarlo",
        "Abbiamo tentato la consegna del pacco senza successo",
        # Russian: a negation before a modal ("cannot be delivered"), not next to the verb; a
        # hand-over to the customer that did not happen
        "Посылка не может быть доставлена по указанному адресу",
        "Нам не удалось сегодня доставить вашу посылку",
        "Заказ не передан клиенту",
        "Посылка будет доставлена завтра",
        "Отправление должно быть вручено лично адресату",
        "Відправлення буде доставлено завтра",
        # Turkish: handed to the sender (a return), and a hand-over to the addressee that failed
        "Kargonuz göndericisine teslim edildi",
        "Gönderi göndericiye teslim",
        "Gönderi muhataba teslim edilemedi",
        # at the office that delivers, or sorted for the round; a delivery that failed; the one who
        # delivers has set out: none of these is the delivery
        "Parcel arrived at the local delivery depot",
        "Sendung sortiert für die Zustellung",
        "Delivery failure: the parcel was brought back to the depot",
        "De bezorger is begonnen aan de bezorgronde",
        # Dutch "van" (of) is not the English delivery van
        "Het pakket ligt in het depot van de vervoerder",
        # delivered to a branch, an office or a locker: it waits there for the buyer
        "Посилку доставлено у відділення, очікує на вас",
        "Посылка доставлена в отделение, ожидайте извещения",
        # "signed" announced, required or negated is not signed
        "Parcel must be signed for by the recipient",
        "Documents to be signed by the receiver",
        "Parcel not signed for",
        # Portuguese: the delivery not done, in the words of a done one
        "A entrega não foi realizada",
    ],
)
def test_negated_announced_or_awaiting_collection_is_never_delivered(
    normalizer: Normalizer, text: str
) -> None:
    assert _classify(normalizer, text)[0] is not Status.DELIVERED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Polish: posted by the sender at a locker, an address fault in any form and order
        ("Nadana w automacie paczkowym", (Status.IN_TRANSIT, Detail.ACCEPTED)),
        ("Dane adresowe są niepełne", (Status.EXCEPTION, Detail.ADDRESS_ISSUE)),
        ("Przesyłka przyjęta w terminalu w Warszawie", (Status.IN_TRANSIT, None)),
        # Ukrainian: moved by the recipient, redirected, storage ran out, the waybill made
        ("Одержувач переніс дату доставки", (Status.IN_TRANSIT, None)),
        ("Адресу доставки змінено", (Status.IN_TRANSIT, None)),
        ("Термін зберігання посилки минув", (Status.EXCEPTION, None)),
        ("Накладну створено відправником", (Status.INFO_RECEIVED, None)),
        # Spanish: back with the sender (done) or still to be sent back; waiting at the branch;
        # the parcel taken into the network, or not yet; the address being checked
        ("Su paquete ha sido devuelto al remitente", (Status.RETURNED, None)),
        ("El paquete será devuelto al remitente", (Status.EXCEPTION, Detail.RETURNING)),
        (
            "Paquete en espera en la oficina de destino",
            (Status.AVAILABLE_FOR_PICKUP, Detail.ARRIVED_DELIVERY_OFFICE),
        ),
        ("Ingreso en planta de Córdoba", (Status.IN_TRANSIT, Detail.ACCEPTED)),
        ("Envío pendiente de ingreso", (Status.INFO_RECEIVED, None)),
        ("Comprobando la dirección del destinatario", (Status.EXCEPTION, Detail.ADDRESS_ISSUE)),
        # Italian: clearance finished, a delivery centre reached
        ("Sdoganamento della spedizione completato", (Status.IN_TRANSIT, Detail.CUSTOMS_RELEASED)),
        (
            "Arrivato al centro di consegna di Bologna",
            (Status.IN_TRANSIT, Detail.ARRIVED_DELIVERY_OFFICE),
        ),
        # Portuguese: a delivery done; the shipment cancelled, not the round; not picked up
        # from the sender yet; the shipment created
        ("A sua entrega foi realizada com sucesso", (Status.DELIVERED, None)),
        ("Envio cancelado", (Status.EXCEPTION, None)),
        ("Saída para entrega cancelada", (Status.IN_TRANSIT, None)),
        ("A encomenda ainda não foi coletada pela transportadora", (Status.INFO_RECEIVED, None)),
        ("Pedido criado na plataforma", (Status.INFO_RECEIVED, None)),
        # Russian: handed out with no one named, out with the courier, back with the shop
        ("Выдано", (Status.DELIVERED, None)),
        ("Заказ выдан на курьерскую доставку", (Status.OUT_FOR_DELIVERY, None)),
        ("Посылка готова к доставке курьером", (Status.IN_TRANSIT, Detail.ARRIVED_DELIVERY_OFFICE)),
        ("Возвращен в интернет-магазин", (Status.RETURNED, None)),
        ("Заказ зарегистрирован в информационной системе", (Status.INFO_RECEIVED, None)),
        # Russian: at the office that hands it out, handed out, back with the sender (done)
        (
            "Посылка поступила в отделение выдачи",
            (Status.AVAILABLE_FOR_PICKUP, Detail.ARRIVED_DELIVERY_OFFICE),
        ),
        ("Ваше отправление выдано", (Status.DELIVERED, None)),
        ("Заказ возвращен отправителю", (Status.RETURNED, None)),
        # Russian: through customs or back from it, on its way; kept in storage at the office
        ("Посылка прошла таможенный контроль", (Status.IN_TRANSIT, Detail.CUSTOMS_RELEASED)),
        ("Посылка не прошла таможенный контроль", (Status.EXCEPTION, Detail.CUSTOMS_HOLD)),
        ("Возврат с таможни в сортировочный центр", (Status.IN_TRANSIT, Detail.CUSTOMS_RELEASED)),
        (
            "Заказ находится на хранении в отделении",
            (Status.AVAILABLE_FOR_PICKUP, Detail.ARRIVED_DELIVERY_OFFICE),
        ),
        ("Неприбытие транспорта", (Status.UNKNOWN, None)),
        # Turkish: an address fault in any order, waiting at the branch, a return under way
        ("Adresiniz eksik", (Status.EXCEPTION, Detail.ADDRESS_ISSUE)),
        ("Yetersiz adres bilgisi", (Status.EXCEPTION, Detail.ADDRESS_ISSUE)),
        ("Şubede bekliyor", (Status.AVAILABLE_FOR_PICKUP, Detail.ARRIVED_DELIVERY_OFFICE)),
        ("Gönderi iade sürecinde", (Status.EXCEPTION, Detail.RETURNING)),
        # Russian: customs holds it (held, release suspended or refused, papers missing) before
        # the processing words; processing says what customs does
        ("Посылка задержана на таможне", (Status.EXCEPTION, Detail.CUSTOMS_HOLD)),
        ("Выпуск товаров приостановлен таможней", (Status.EXCEPTION, Detail.CUSTOMS_HOLD)),
        ("Таможня отказала в выпуске посылки", (Status.EXCEPTION, Detail.CUSTOMS_HOLD)),
        ("Таможенное оформление: отсутствует счет", (Status.EXCEPTION, Detail.CUSTOMS_HOLD)),
        ("Посылка передана таможне для оформления", (Status.IN_TRANSIT, Detail.CUSTOMS_PROCESSING)),
        # Russian: put out for delivery, brought back from the round, the day moved, the order
        # placed, an order that failed
        ("Посылка выведена на доставку курьером", (Status.OUT_FOR_DELIVERY, None)),
        ("Посылка возвращена с доставки на склад", (Status.DELIVERY_FAILED, None)),
        ("Доставка перенесена на завтра", (Status.IN_TRANSIT, None)),
        ("Ваш заказ оформлен", (Status.INFO_RECEIVED, None)),
        ("Ошибка при создании заказа", (Status.EXCEPTION, None)),
        # Turkish: nobody knows the recipient there, with the deliverer, back with the sender,
        # handed to the addressee in person, destroyed
        ("Alıcı adreste tanınmıyor", (Status.EXCEPTION, Detail.ADDRESS_ISSUE)),
        ("Gönderi dağıtıcıya verildi", (Status.OUT_FOR_DELIVERY, None)),
        ("Kargo göndericisine teslim edildi", (Status.RETURNED, None)),
        ("Gönderi muhataba bizzat teslim edildi", (Status.DELIVERED, None)),
        ("Kargo imha edildi", (Status.EXCEPTION, None)),
        # Turkish: recorded in the carrier's system (data only), loaded onto the courier's vehicle;
        # Ukrainian: delivered to the branch, where the buyer collects it
        ("Gönderiniz sistemimize kayıt edildi", (Status.INFO_RECEIVED, None)),
        ("Paketiniz kuryenin aracına yüklendi", (Status.OUT_FOR_DELIVERY, None)),
        (
            "Посилку доставлено до відділення",
            (Status.AVAILABLE_FOR_PICKUP, Detail.ARRIVED_DELIVERY_OFFICE),
        ),
    ],
)
def test_east_european_meanings_in_other_words(
    normalizer: Normalizer, text: str, expected: tuple[Status, Detail | None]
) -> None:
    assert _classify(normalizer, text) == expected


def test_a_word_alone_is_not_a_failed_attempt(normalizer: Normalizer) -> None:
    """'nobody' once matched as "nobody home"; a text nobody wrote a rule for stays unknown."""
    assert _classify(normalizer, "Something nobody wrote a rule for")[0] is Status.UNKNOWN
    assert _classify(normalizer, "Nobody was home") == (
        Status.DELIVERY_FAILED,
        Detail.RECIPIENT_UNAVAILABLE,
    )


def test_ops_file_concept_rule_matches_in_any_order(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        "[[text]]\nid = 'acme.gate'\nlang = 'en'\nstatus = 'delivery_failed'\n"
        "concepts = [['gate', 'locked|closed']]\n",
        "utf-8",
    )
    custom = load_normalizer([path], cache_size=0)
    for text in ("Gate locked at delivery address", "Closed gate, could not enter"):
        result = custom.classify(RawEvent(WHEN, text, None))
        assert (result.status, result.rule) == (Status.DELIVERY_FAILED, "acme.gate"), text
    assert custom.classify(RawEvent(WHEN, "Gate code received", None)).rule != "acme.gate"


@pytest.mark.parametrize(
    "concepts",
    ["'gate'", "[['gate']]", "[['gate', 3]]", "[[]]"],
)
def test_malformed_concepts_name_the_file_and_rule(tmp_path: Path, concepts: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        f"[[text]]\nid = 'acme.bad'\nstatus = 'exception'\nconcepts = {concepts}\n", "utf-8"
    )
    with pytest.raises(ConfigError) as info:
        load_normalizer([path])
    assert str(path) in str(info.value)
    assert "'acme.bad'" in str(info.value)
    assert "concepts" in str(info.value)


def test_a_bad_regex_in_a_concept_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        "[[text]]\nid = 'acme.re'\nstatus = 'exception'\nconcepts = [['gate', '(locked']]\n",
        "utf-8",
    )
    with pytest.raises(ConfigError, match=r"'acme.re'.*bad phrase"):
        load_normalizer([path])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a return announced in the future is under way, not done
        ("This parcel will soon be returned to its sender", (Status.EXCEPTION, Detail.RETURNING)),
        # conversational attempts and "nobody in"
        ("We tried to deliver your package this morning", (Status.DELIVERY_FAILED, None)),
        (
            "There wasn't anyone home when the driver called",
            (Status.DELIVERY_FAILED, Detail.RECIPIENT_UNAVAILABLE),
        ),
        # on the way to an office is not at it
        ("Your parcel is on its way to the local delivery office", (Status.IN_TRANSIT, None)),
        # the sender announced it; the carrier does not have it yet
        ("The retailer has told us about your parcel", (Status.INFO_RECEIVED, None)),
        # a redelivery the recipient asked for is arranged, not failed
        ("Redelivery arranged as you requested", (Status.IN_TRANSIT, None)),
        ("We've got your parcel", (Status.IN_TRANSIT, None)),
        # the buyer collected it from an office: done
        ("Parcel collected from the post office by the recipient", (Status.DELIVERED, None)),
        # concepts of issue 17's fourth round, each in a word order no rule phrase has
        ("Parcel handed in at the branch by the shipper", (Status.IN_TRANSIT, Detail.ACCEPTED)),
        (
            "Receiver's premises: business closed",
            (Status.DELIVERY_FAILED, Detail.RECIPIENT_UNAVAILABLE),
        ),
        ("Import paperwork insufficient", (Status.EXCEPTION, Detail.CUSTOMS_HOLD)),
        ("Duties of 12 EUR outstanding", (Status.EXCEPTION, Detail.CUSTOMS_DUTIES_DUE)),
        (
            "Broker reports: customs formalities completed",
            (Status.IN_TRANSIT, Detail.CUSTOMS_RELEASED),
        ),
        (
            "Parcel is ready for your pickup at the counter",
            (Status.AVAILABLE_FOR_PICKUP, Detail.ARRIVED_DELIVERY_OFFICE),
        ),
        ("Redirected on the customer's request", (Status.IN_TRANSIT, None)),
        ("The address could not be found", (Status.EXCEPTION, Detail.ADDRESS_ISSUE)),
        ("The ID check of the recipient failed", (Status.DELIVERY_FAILED, None)),
        ("Our driver's pickup attempt at the sender failed", (Status.INFO_RECEIVED, None)),
        ("The order has been cancelled", (Status.EXCEPTION, None)),
        ("Label missing on the parcel", (Status.EXCEPTION, None)),
        ("The parcel is on its way back to the shipper", (Status.EXCEPTION, Detail.RETURNING)),
        ("RTS parcel received at the warehouse of the shipper", (Status.RETURNED, None)),
        ("Your parcel was collected by the addressee", (Status.DELIVERED, None)),
        ("Left safely at the back door", (Status.DELIVERED, None)),
        (
            "Uw pakket is bij het afhaalpunt af te halen",
            (Status.AVAILABLE_FOR_PICKUP, Detail.ARRIVED_DELIVERY_OFFICE),
        ),
        ("We hebben je vandaag gemist", (Status.DELIVERY_FAILED, Detail.RECIPIENT_UNAVAILABLE)),
        ("Het adres van de ontvanger is onvolledig", (Status.EXCEPTION, Detail.ADDRESS_ISSUE)),
        (
            "De aangifte van het pakket is door de douane goedgekeurd",
            (Status.IN_TRANSIT, Detail.CUSTOMS_RELEASED),
        ),
        # German concepts of issue 17's sixth round
        ("Die Sendung wurde an den Nachbarn übergeben", (Status.DELIVERED, None)),
        ("Die Sendung wurde aus der Packstation abgeholt", (Status.DELIVERED, None)),
        (
            "Ihr Paket ist in der Filiale abholbereit",
            (Status.AVAILABLE_FOR_PICKUP, Detail.ARRIVED_DELIVERY_OFFICE),
        ),
        ("Die Sendung wurde noch nicht an DHL übergeben", (Status.INFO_RECEIVED, None)),
        ("Die Sendung wird beim Zoll festgehalten", (Status.EXCEPTION, Detail.CUSTOMS_HOLD)),
        (
            "Die Zollabfertigung ist nicht abgeschlossen",
            (Status.IN_TRANSIT, Detail.CUSTOMS_PROCESSING),
        ),
        ("Die Anschrift konnte nicht ermittelt werden", (Status.EXCEPTION, Detail.ADDRESS_ISSUE)),
        (
            "Der Empfänger ist im Urlaub",
            (Status.DELIVERY_FAILED, Detail.RECIPIENT_UNAVAILABLE),
        ),
        (
            "Die Sendung ist in der Schweiz angekommen",
            (Status.IN_TRANSIT, Detail.ARRIVED_DESTINATION_COUNTRY),
        ),
        # issue 17's sixth round: Korean, Japanese and Chinese concepts in a word order or form
        # no rule phrase has
        ("오늘 14∼16시에 상품을 배달할 예정입니다", (Status.OUT_FOR_DELIVERY, None)),
        ("부가세가 미납되어 보관 중입니다", (Status.EXCEPTION, Detail.CUSTOMS_DUTIES_DUE)),
        ("수입신고가 세관에서 수리되었습니다", (Status.IN_TRANSIT, Detail.CUSTOMS_RELEASED)),
        ("영업소에 상품이 도착했습니다", (Status.IN_TRANSIT, Detail.ARRIVED_DELIVERY_OFFICE)),
        ("再配達のご依頼を受付いたしました", (Status.IN_TRANSIT, None)),
        ("税関での手続きが完了しました", (Status.IN_TRANSIT, Detail.CUSTOMS_RELEASED)),
        (
            "ご指定の配達日まで保管しています",
            (Status.IN_TRANSIT, Detail.ARRIVED_DELIVERY_OFFICE),
        ),
        ("快递员正在为您派送", (Status.OUT_FOR_DELIVERY, None)),
        ("受疫情影响，派送延误", (Status.EXCEPTION, Detail.DELAYED_EXTERNAL)),
        # an epidemic named in a delivered notice's hygiene note is no delay
        ("已签收，疫情期间快递员每天测体温", (Status.DELIVERED, None)),
        # issue 17's sixth round (English): meanings stated for any carrier's wording
        ("Parcel left customs this morning", (Status.IN_TRANSIT, Detail.CUSTOMS_RELEASED)),
        ("Order data for the consignment was received", (Status.INFO_RECEIVED, None)),
        ("Your parcel is now with our driver for delivery", (Status.OUT_FOR_DELIVERY, None)),
        ("Sorry we missed you", (Status.DELIVERY_FAILED, Detail.RECIPIENT_UNAVAILABLE)),
        ("Addressee has moved away", (Status.EXCEPTION, Detail.ADDRESS_ISSUE)),
        ("Arrived at partner facility, carrier awaiting item", (Status.IN_TRANSIT, None)),
        ("The sender has created a label", (Status.INFO_RECEIVED, None)),
        ("Waybill created", (Status.INFO_RECEIVED, None)),
        (
            "Delivery attempted, awaiting the correct address",
            (Status.EXCEPTION, Detail.ADDRESS_ISSUE),
        ),
        ("Returned to the shipper, no longer available for pickup", (Status.RETURNED, None)),
        ("Signature from a neighbour", (Status.DELIVERED, None)),
        ("快件派送未成功，将于明天再次派送", (Status.DELIVERY_FAILED, None)),
        # Dutch concepts of issue 17's sixth round
        (
            "Het pakket is overgedragen aan het servicepunt",
            (Status.AVAILABLE_FOR_PICKUP, Detail.ARRIVED_DELIVERY_OFFICE),
        ),
        ("Het pakket is niet afgehaald bij het servicepunt", (Status.EXCEPTION, None)),
        ("Zending vandaag niet in levering", (Status.IN_TRANSIT, None)),
        ("Pakket is onvindbaar", (Status.EXCEPTION, Detail.LOST)),
        (
            "Levering vertraagd door bijzondere omstandigheden",
            (Status.EXCEPTION, Detail.DELAYED_EXTERNAL),
        ),
        ("Het etiket op de zending is onleesbaar", (Status.EXCEPTION, None)),
        # issue 17's seventh round: meanings the wording of two carriers or more shares
        ("Your parcel arrived in Germany", (Status.IN_TRANSIT, Detail.ARRIVED_DESTINATION_COUNTRY)),
        (
            "The parcel is now at the local delivery depot",
            (Status.IN_TRANSIT, Detail.ARRIVED_DELIVERY_OFFICE),
        ),
        ("Parcel collected from the sender", (Status.IN_TRANSIT, Detail.ACCEPTED)),
        ("Pre advice received from the shipper", (Status.INFO_RECEIVED, None)),
        ("Delivery failure", (Status.DELIVERY_FAILED, None)),
        ("Zending is door de koerier ontvangen", (Status.IN_TRANSIT, Detail.ACCEPTED)),
        ("Zending is nog niet door ons ontvangen", (Status.INFO_RECEIVED, None)),
        ("De chauffeur is begonnen aan zijn route", (Status.OUT_FOR_DELIVERY, None)),
        ("Niet in levering - te laat binnengekomen", (Status.IN_TRANSIT, None)),
        (
            "Die Sendung wurde für die Zustellung sortiert",
            (Status.IN_TRANSIT, Detail.ARRIVED_DELIVERY_OFFICE),
        ),
        ("Daten vom Absender übermittelt", (Status.INFO_RECEIVED, None)),
        (
            "Empfänger nicht erreichbar",
            (Status.DELIVERY_FAILED, Detail.RECIPIENT_UNAVAILABLE),
        ),
        ("已清关，正在转运", (Status.IN_TRANSIT, Detail.CUSTOMS_RELEASED)),
        ("收件人拒签", (Status.EXCEPTION, Detail.REFUSED)),
        ("荷物が国内に到着しました", (Status.IN_TRANSIT, Detail.ARRIVED_DESTINATION_COUNTRY)),
        ("配達店に到着しました", (Status.IN_TRANSIT, Detail.ARRIVED_DELIVERY_OFFICE)),
        ("快件已到达网点", (Status.IN_TRANSIT, Detail.ARRIVED_DELIVERY_OFFICE)),
        ("배송 시설 도착", (Status.IN_TRANSIT, Detail.ARRIVED_DELIVERY_OFFICE)),
        ("Customs clearance delay", (Status.EXCEPTION, Detail.CUSTOMS_HOLD)),
        ("Shipment info sent to the carrier", (Status.INFO_RECEIVED, None)),
        ("The delivery address is inaccessible", (Status.DELIVERY_FAILED, None)),
        ("Parcel signed for by the recipient", (Status.DELIVERED, None)),
        ("Missed the courier's round today", (Status.IN_TRANSIT, None)),
    ],
)
def test_conversational_and_tense_forms(
    normalizer: Normalizer, text: str, expected: tuple[Status, Detail | None]
) -> None:
    assert _classify(normalizer, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "We will tell you once it has been delivered",
        "We'll let you know when your parcel is delivered",
    ],
)
def test_a_promise_about_delivery_is_not_a_delivery(normalizer: Normalizer, text: str) -> None:
    assert _classify(normalizer, text)[0] is not Status.DELIVERED


@pytest.fixture(scope="module")
def delivered_words_alone() -> Normalizer:
    """Only each language's plain "delivered" rule: what decides a wording no specific rule has."""
    rules = load_builtin_rules()
    return Normalizer(
        RuleSet(text=[rule for rule in rules.text if rule.rule_id.endswith(".delivered")]),
        cache_size=0,
    )


@pytest.mark.parametrize(
    ("text", "delivered"),
    [
        ("Delivered", True),
        ("Zending afgeleverd", True),
        ("Delivery complete", True),
        ("Livré", True),
        ("Objeto entregue", True),
        ("Sendung zugestellt", True),
        ("Paquete entregado", True),
        ("Pacco consegnato", True),
        ("Przesyłka doręczona", True),
        ("The parcel could not be delivered", False),
        ("Parcel not delivered", False),
        ("The parcel will be delivered tomorrow", False),
        ("Delivered back to the sender", False),
        ("Handed over for final delivery", False),
        ("Zending niet afgeleverd", False),
        ("De zending wordt bezorgd", False),
        ("Retourzending afgeleverd", False),
        ("Le colis n'a pas été livré", False),
        ("Le colis sera livré demain", False),
        ("Colis livré à l'expéditeur", False),
        ("Objeto não entregue", False),
        ("Objeto entregue ao remetente", False),
        ("Sendung nicht zugestellt", False),
        ("No ha sido entregado", False),
        ("Non è stato consegnato", False),
        ("Przesyłka nie została doręczona", False),
        ("Paczka odebrana przez kuriera", False),
        ("Посилку одержано", True),
        ("Посилку не одержано", False),
        ("Доставлено извещение о посылке", False),
        ("Посилку вручено відправнику", False),
        ("Посылка вручена отправителю", False),
        ("상품이 배송완료 되었습니다", True),
        ("배송완료 되지 않았습니다", False),
        ("Kargo teslim edildi", True),
        ("Kargo teslim edilmedi", False),
        ("Kargo teslim edilemedi", False),
        ("Kargo yarın teslim edilecek", False),
    ],
)
def test_the_delivered_words_refuse_negation_announcement_and_return(
    delivered_words_alone: Normalizer, text: str, delivered: bool
) -> None:
    """A carrier's negation or announcement no specific rule was written for is not a delivery:
    the plain "delivered" words themselves refuse "not", "will be" and "to the sender"."""
    result = delivered_words_alone.classify_text(text)
    assert (result.status is Status.DELIVERED) is delivered
