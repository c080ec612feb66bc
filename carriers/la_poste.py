"""La Poste (Colissimo, Chronopost, courrier): the Okapi "Suivi v2" API.

``GET /suivi/v2/idships/{id}?lang=fr_FR`` with the ``X-Okapi-Key`` header. Several ids may be
joined with commas; the reply is then a list (HTTP 207), one object per id. An unknown or invalid
id comes back as ``returnCode`` 400/404 with a French ``returnMessage``: that is not-found, not a
failure of the carrier. Event labels are kept in the language asked for (French by default).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from carriers.base import CarrierAdapter, CarrierReply
from carriers.http import decode_body, send_for_reply
from tracker.errors import CarrierAuthError, ParseError
from tracker.model import RawEvent, TrackingResult

NOT_FOUND_CODES = frozenset({400, 404})


class LaPosteAdapter(CarrierAdapter):
    """La Poste tracking through the Okapi developer platform (API key header)."""

    name: ClassVar[str] = "la_poste"
    display_name: ClassVar[str] = "La Poste"
    max_numbers_per_request: ClassVar[int] = 10
    requests_per_second: ClassVar[float] = 5.0
    max_concurrency: ClassVar[int] = 2
    tracking_url_template: ClassVar[str | None] = (
        "https://www.laposte.fr/outils/suivre-vos-envois?code={number}"
    )
    default_base_url: ClassVar[str] = "https://api.laposte.fr"

    async def fetch(self, client: httpx.AsyncClient, numbers: Sequence[str]) -> CarrierReply:
        """GET the shipment(s); 400/404 replies are returned for ``parse`` to mark not-found."""
        if not self.settings.api_key:
            raise CarrierAuthError("la_poste: no Okapi key configured", carrier=self.name)
        base = (self.settings.base_url or self.default_base_url).rstrip("/")
        ids = ",".join(quote(n, safe="") for n in numbers)
        request = client.build_request(
            "GET",
            f"{base}/suivi/v2/idships/{ids}",
            params={"lang": self.settings.options.get("lang", "fr_FR")},
            headers={"Accept": "application/json", "X-Okapi-Key": self.settings.api_key},
            timeout=self.settings.timeout_seconds,
        )
        return await send_for_reply(client, request, carrier=self.name, numbers=tuple(numbers))

    def parse(self, reply: CarrierReply) -> list[TrackingResult]:
        """One result per shipment object in the reply."""
        return parse_tracking_json(reply.body, reply.content_type, reply.numbers)


def parse_tracking_json(
    body: bytes, content_type: str = "", numbers: Sequence[str] = ()
) -> list[TrackingResult]:
    """Pure parse of a Suivi v2 reply: a single object or a list of them."""
    try:
        document = json.loads(decode_body(body, content_type))
    except json.JSONDecodeError as exc:
        raise ParseError(f"la_poste: reply is not JSON ({exc})", body=body) from exc
    entries = document if isinstance(document, list) else [document]
    try:
        return [
            _result(entry, numbers[i] if i < len(numbers) else "")
            for i, entry in enumerate(entries)
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ParseError(f"la_poste: unexpected reply shape ({exc!r})", body=body) from exc


def _result(entry: Mapping[str, Any], asked: str) -> TrackingResult:
    code = int(entry.get("returnCode", 200))
    shipment = entry.get("shipment")
    if code in NOT_FOUND_CODES or shipment is None:
        extra = {"error_code": str(code), "error_message": str(entry.get("returnMessage", ""))}
        return TrackingResult(asked or str(entry.get("idShip", "")), not_found=True, extra=extra)
    context = shipment.get("contextData") or {}
    extra = {
        key: str(value)
        for key, value in (
            ("product", shipment.get("product")),
            ("origin_country", context.get("originCountry")),
            ("destination_country", context.get("arrivalCountry")),
            ("is_final", shipment.get("isFinal")),
        )
        if value not in (None, "")
    }
    estimate = shipment.get("estimDate") or shipment.get("deliveryDate")
    return TrackingResult(
        tracking_number=str(shipment.get("idShip") or asked),
        events=tuple(_event(e) for e in shipment.get("event") or []),
        carrier_status=_timeline_status(shipment.get("timeline") or []),
        expected_delivery=_aware(estimate) if estimate else None,
        extra=extra,
    )


def _timeline_status(timeline: Sequence[Mapping[str, Any]]) -> str | None:
    """The label of the furthest timeline step reached: La Poste's own summary."""
    reached = [step for step in timeline if step.get("status")]
    return str(reached[-1].get("shortLabel")) if reached else None


def _event(event: Mapping[str, Any]) -> RawEvent:
    return RawEvent(
        occurred_at=_aware(str(event["date"])),
        text=" ".join(str(event.get("label") or "").split()),
        code=event.get("code") or None,
        carrier="la_poste",
    )


def _aware(value: str) -> datetime:
    """Okapi dates carry their offset (``2023-03-09T09:38:00+01:00``); anything else is refused."""
    occurred = datetime.fromisoformat(value)
    if occurred.tzinfo is None:
        raise ValueError(f"date without offset: {value!r}")
    return occurred
