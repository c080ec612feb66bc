"""AfterShip Tracking API, version 2024-10 (``as-api-key`` header): an aggregator.

A number is created once (``POST /trackings``) with the courier slug (``aftership_couriers.toml``
maps our carrier names onto AfterShip's slugs), the order reference and the destination; never the
buyer's email or phone, or AfterShip would write to the buyer itself. It is then read in batches
through ``GET /trackings?tracking_numbers=a,b,...``. AfterShip also pushes each change to a
webhook, signed in ``aftership-hmac-sha256`` (base64 HMAC-SHA256 of the raw body with the webhook
secret): ``verify_push`` and ``parse_push`` handle those.

Events carry AfterShip's sub-status (``InTransit_002``) as their code and ``aftership`` as their
carrier, so ``aftership_codes.toml`` classifies them for every courier; the courier holding the
parcel is named to buyers (``extra["holder"]``), not AfterShip. The courier's estimated delivery
date wins over AfterShip's own prediction. A tracking AfterShip gave up on (tag ``Expired``)
becomes an ``Expired`` event, so the shipment is closed as expired instead of waiting forever.
Times: ``checkpoint_time`` is ISO 8601, usually with the checkpoint's offset (kept); without one it
is read as UTC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time
from typing import Any, ClassVar

import httpx

from carriers.aggregators import alpha2, alpha3, table_beside
from carriers.base import CarrierReply, CarrierSettings, ParcelAdapter, ParcelInfo, PushReceiver
from carriers.http import parse_timestamp, reply_json, send_for_reply
from tracker.errors import CarrierAuthError, ParseError
from tracker.model import RawEvent, TrackingResult

NAME = "aftership"
API_VERSION = "2024-10"
#: meta.code AfterShip returns when a tracking already exists (harmless on create)
ALREADY_EXISTS = 4003
#: the text of the event an ``Expired`` tracking becomes
EXPIRED_TEXT = "AfterShip stopped tracking this number: the courier shared no news for too long"


class AfterShipAdapter(ParcelAdapter):
    """The AfterShip aggregator."""

    name: ClassVar[str] = NAME
    display_name: ClassVar[str] = "AfterShip"
    max_numbers_per_request: ClassVar[int] = 50
    requests_per_second: ClassVar[float] = 10.0
    max_concurrency: ClassVar[int] = 4
    tracking_url_template: ClassVar[str | None] = None
    default_base_url: ClassVar[str] = f"https://api.aftership.com/tracking/{API_VERSION}"
    required_settings: ClassVar[tuple[str, ...]] = ("api_key",)

    def __init__(self, settings: CarrierSettings | None = None) -> None:
        super().__init__(settings)
        self.created: set[str] = set()

    def _headers(self) -> dict[str, str]:
        if not self.settings.api_key:
            raise CarrierAuthError("aftership: api_key is required", carrier=NAME)
        return {"as-api-key": self.settings.api_key, "Accept": "application/json"}

    @property
    def _base(self) -> str:
        return (self.settings.base_url or self.default_base_url).rstrip("/")

    async def fetch_parcels(
        self, client: httpx.AsyncClient, parcels: Sequence[ParcelInfo]
    ) -> CarrierReply:
        """Create the trackings this adapter has not created yet, then read all of them."""
        for parcel in parcels:
            if parcel.tracking_number not in self.created:
                await self._create(client, parcel)
        numbers = [parcel.tracking_number for parcel in parcels]
        request = client.build_request(
            "GET",
            f"{self._base}/trackings",
            params={"tracking_numbers": ",".join(numbers), "limit": str(len(numbers))},
            headers=self._headers(),
            timeout=self.settings.timeout_seconds,
        )
        return await send_for_reply(client, request, carrier=NAME, numbers=tuple(numbers))

    def creation_body(self, parcel: ParcelInfo) -> dict[str, Any]:
        """What AfterShip is told when a tracking is created: never the buyer's contacts."""
        body: dict[str, Any] = {"tracking_number": parcel.tracking_number}
        slug = table_beside(__file__).code_for(parcel, self.settings.options.get("slug"))
        optional = {
            "slug": slug,
            "order_number": parcel.order_reference,
            "destination_country_region": alpha3(parcel.destination_country),
            "origin_country_region": alpha3(parcel.origin_country),
        }
        body.update({key: value for key, value in optional.items() if value})
        return body

    async def _create(self, client: httpx.AsyncClient, parcel: ParcelInfo) -> None:
        request = client.build_request(
            "POST",
            f"{self._base}/trackings",
            json=self.creation_body(parcel),
            headers=self._headers(),
            timeout=self.settings.timeout_seconds,
        )
        number = parcel.tracking_number
        reply = await send_for_reply(
            client, request, carrier=NAME, numbers=(number,), pass_statuses=(400, 409)
        )
        if reply.status_code < 300 or _meta_code(reply) == ALREADY_EXISTS:
            self.created.add(number)

    def parse(self, reply: CarrierReply) -> list[TrackingResult]:
        """One result per tracked number in ``data.trackings`` (or a single tracking)."""
        payload = reply_json(reply, NAME)
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            raise ParseError("aftership: reply has no data object", body=reply.body, carrier=NAME)
        trackings = data.get("trackings")
        if trackings is None and isinstance(data.get("tracking"), dict):
            trackings = [data["tracking"]]  # single-tracking replies of older versions
        elif trackings is None and data.get("tracking_number"):
            trackings = [data]  # 2024-10 single-tracking replies
        if not isinstance(trackings, list):
            raise ParseError("aftership: reply has no trackings", body=reply.body, carrier=NAME)
        return _one_per_number([tracking_result(t) for t in trackings if isinstance(t, dict)])


def _one_per_number(results: list[TrackingResult]) -> list[TrackingResult]:
    """AfterShip keeps one tracking per (courier, number): when a number has several, the one
    with most events speaks, and the result names the other couriers."""
    best: dict[str, TrackingResult] = {}
    others: dict[str, list[str]] = {}
    for result in results:
        key = result.tracking_number.upper()
        current = best.get(key)
        if current is None or len(result.events) > len(current.events):
            if current is not None:
                others.setdefault(key, []).append(current.extra.get("slug", ""))
            best[key] = result
        else:
            others.setdefault(key, []).append(result.extra.get("slug", ""))
    for key, slugs in others.items():
        best[key].extra["other_couriers"] = ",".join(s for s in slugs if s)
    return list(best.values())


def _meta_code(reply: CarrierReply) -> int | None:
    try:
        code = reply_json(reply, NAME).get("meta", {}).get("code")
    except (ParseError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def tracking_result(tracking: Mapping[str, Any]) -> TrackingResult:
    """One AfterShip tracking object (API reply or webhook ``msg``) as a result."""
    tag = str(tracking.get("tag") or "")
    slug = str(tracking.get("slug") or "")
    events = [_checkpoint(c) for c in tracking.get("checkpoints") or [] if isinstance(c, dict)]
    if tag == "Expired":
        expired = _expired_event(tracking, events)
        if expired is not None:
            events.append(expired)
    estimate, source = _estimate(tracking)
    holder = table_beside(__file__).name_of(slug)
    extra = {"slug": slug, "tag": tag, "subtag": str(tracking.get("subtag") or "")}
    if holder:
        extra["holder"] = holder
    if source:
        extra["estimate_source"] = (holder or "the courier") if source == "courier" else source
    return TrackingResult(
        tracking_number=str(tracking.get("tracking_number")),
        events=tuple(events),
        carrier_status=tag or None,
        expected_delivery=estimate,
        not_found=tag in ("Pending", "Expired") and not events,
        extra=extra,
    )


def _checkpoint(checkpoint: Mapping[str, Any]) -> RawEvent:
    parts = (checkpoint.get("city"), checkpoint.get("state"), checkpoint.get("zip"))
    place = checkpoint.get("location") or ", ".join(str(p) for p in parts if p)
    country = checkpoint.get("country_region") or checkpoint.get("country_iso3")
    return RawEvent(
        occurred_at=parse_timestamp(
            str(checkpoint.get("checkpoint_time") or ""), NAME, default_tz=UTC
        ),
        text=str(checkpoint.get("message") or ""),
        code=checkpoint.get("subtag") or checkpoint.get("tag") or None,
        location=place or None,
        country=alpha2(country if isinstance(country, str) else None),
        carrier=NAME,
    )


def _expired_event(tracking: Mapping[str, Any], events: list[RawEvent]) -> RawEvent | None:
    """The moment AfterShip gave up, as an event: when it last updated the tracking (stable
    once expired), else the last checkpoint; None when it says neither."""
    when = tracking.get("updated_at")
    if isinstance(when, str) and when:
        occurred = parse_timestamp(when, NAME)
    elif events:
        occurred = max(event.occurred_at for event in events)
    else:
        return None
    subtag = str(tracking.get("subtag") or "") or "Expired"
    return RawEvent(occurred_at=occurred, text=EXPIRED_TEXT, code=subtag, carrier=NAME)


def _estimate(tracking: Mapping[str, Any]) -> tuple[datetime | None, str | None]:
    """The courier's estimate first (its latest day), then AfterShip's prediction; with who
    gave it ("courier" or "AfterShip")."""
    for field, source in (
        ("courier_estimated_delivery_date", "courier"),
        ("aftership_estimated_delivery_date", "AfterShip"),
    ):
        block = tracking.get(field)
        if isinstance(block, dict):
            for key in ("estimated_delivery_date_max", "estimated_delivery_date"):
                when = _date_or_time(block.get(key))
                if when is not None:
                    return when, source
    legacy = _date_or_time(tracking.get("expected_delivery"))
    return (legacy, "courier") if legacy is not None else (None, None)


def _date_or_time(value: object) -> datetime | None:
    """An ISO date-time, or a date read as the end of that day (UTC): "by March 20" is not
    late until March 20 is over."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if len(text) == 10:
        day = parse_timestamp(text, NAME).date()
        return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    return parse_timestamp(text, NAME)


#: the header AfterShip's tracking webhooks carry their signature in
SIGNATURE_HEADER = "aftership-hmac-sha256"


def push_signature(body: bytes, secret: str) -> str:
    """What AfterShip sends for ``body``: base64 of HMAC-SHA256 keyed with the webhook secret."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_push(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    """True when the push carries AfterShip's signature of exactly this body."""
    given = headers.get(SIGNATURE_HEADER, "").strip()
    return (
        bool(given) and given.isascii() and hmac.compare_digest(push_signature(body, secret), given)
    )


def parse_push(body: bytes) -> list[TrackingResult]:
    """A webhook's tracking (``msg``) as one result; events without a tracking give none."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        message = f"aftership: webhook body is not JSON ({exc})"
        raise ParseError(message, body=body, carrier=NAME) from exc
    if not isinstance(payload, dict):
        raise ParseError("aftership: webhook body is not an object", body=body, carrier=NAME)
    tracking = payload.get("msg")
    if not isinstance(tracking, dict) or not tracking.get("tracking_number"):
        return []
    return [tracking_result(tracking)]


AfterShipAdapter.push_receiver = PushReceiver(
    path="/webhooks/aftership", verify=verify_push, parse=parse_push
)
