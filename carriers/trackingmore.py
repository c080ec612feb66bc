"""TrackingMore API v4 (``Tracking-Api-Key`` header): an aggregator of about 1,300 couriers.

A tracking is created once (``POST /trackings/create``) and needs a courier code: ours mapped
through ``trackingmore_couriers.toml`` (or ``options.courier_code``), else TrackingMore's own
detection (``POST /couriers/detect``). Creation sends the order reference and the destination,
never the buyer's email or phone. Results are read in batches of up to 40 through
``GET /trackings/get?tracking_numbers=...``.

Events carry TrackingMore's checkpoint sub-status (``transit004``) as their code and
``trackingmore`` as their carrier, so ``trackingmore_codes.toml`` classifies them; buyers see the
courier holding the parcel (the destination courier once it has events), not TrackingMore. An
``expired`` tracking becomes an expired event. Pushes (v4 webhooks) carry ``timestamp`` and
``signature`` headers: the signature is hex HMAC-SHA256 of the timestamp keyed with the webhook
secret, as TrackingMore documents it. It authenticates the sender, not the body, so keep the
receiver behind TLS.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from carriers.aggregators import alpha2, table_beside
from carriers.base import CarrierReply, CarrierSettings, ParcelAdapter, ParcelInfo, PushReceiver
from carriers.http import parse_timestamp, reply_json, send_for_reply
from tracker.errors import CarrierAuthError, CarrierRateLimited, ParseError
from tracker.model import RawEvent, TrackingResult

NAME = "trackingmore"
#: meta codes: tracking already exists (harmless on create); plan quota reached
ALREADY_EXISTS = 4101
QUOTA_CODES = frozenset({4190})
EXPIRED_TEXT = "TrackingMore stopped tracking this number: the courier shared no news for too long"


class TrackingMoreAdapter(ParcelAdapter):
    """The TrackingMore aggregator."""

    name: ClassVar[str] = NAME
    display_name: ClassVar[str] = "TrackingMore"
    max_numbers_per_request: ClassVar[int] = 40
    requests_per_second: ClassVar[float] = 3.0
    max_concurrency: ClassVar[int] = 2
    default_base_url: ClassVar[str] = "https://api.trackingmore.com/v4"
    required_settings: ClassVar[tuple[str, ...]] = ("api_key",)

    def __init__(self, settings: CarrierSettings | None = None) -> None:
        super().__init__(settings)
        self.created: set[str] = set()

    def _request(
        self, client: httpx.AsyncClient, method: str, path: str, **kwargs: Any
    ) -> httpx.Request:
        if not self.settings.api_key:
            raise CarrierAuthError("trackingmore: api_key is required", carrier=NAME)
        base = (self.settings.base_url or self.default_base_url).rstrip("/")
        headers = {"Tracking-Api-Key": self.settings.api_key, "Accept": "application/json"}
        return client.build_request(
            method,
            f"{base}/{path}",
            headers=headers,
            timeout=self.settings.timeout_seconds,
            **kwargs,
        )

    async def fetch_parcels(
        self, client: httpx.AsyncClient, parcels: Sequence[ParcelInfo]
    ) -> CarrierReply:
        """Create the trackings this adapter has not created yet, then read all of them."""
        for parcel in parcels:
            if parcel.tracking_number not in self.created:
                await self._create(client, parcel)
        numbers = tuple(parcel.tracking_number for parcel in parcels)
        request = self._request(
            client, "GET", "trackings/get", params={"tracking_numbers": ",".join(numbers)}
        )
        reply = await send_for_reply(
            client, request, carrier=NAME, numbers=numbers, pass_statuses=(400,)
        )
        _raise_for_meta(reply)
        return reply

    async def _courier(self, client: httpx.AsyncClient, parcel: ParcelInfo) -> str | None:
        known = table_beside(__file__).code_for(parcel, self.settings.options.get("courier_code"))
        if known is not None:
            return known
        request = self._request(
            client, "POST", "couriers/detect", json={"tracking_number": parcel.tracking_number}
        )
        reply = await send_for_reply(
            client, request, carrier=NAME, numbers=(parcel.tracking_number,), pass_statuses=(400,)
        )
        _raise_for_meta(reply)
        found = reply_json(reply, NAME).get("data") if reply.status_code < 300 else None
        if isinstance(found, list) and found and isinstance(found[0], dict):
            code = found[0].get("courier_code")
            return str(code) if code else None
        return None

    def creation_body(self, parcel: ParcelInfo, courier: str) -> dict[str, Any]:
        """What TrackingMore is told when a tracking is created: never the buyer's contacts."""
        optional = {
            "order_number": parcel.order_reference,
            "destination_code": parcel.destination_country,
            "origin_code": parcel.origin_country,
        }
        body: dict[str, Any] = {"tracking_number": parcel.tracking_number, "courier_code": courier}
        body.update({key: value for key, value in optional.items() if value})
        return body

    async def _create(self, client: httpx.AsyncClient, parcel: ParcelInfo) -> None:
        courier = await self._courier(client, parcel)
        if courier is None:
            return  # TrackingMore cannot tell the courier either: the read reports it missing
        request = self._request(
            client, "POST", "trackings/create", json=self.creation_body(parcel, courier)
        )
        number = parcel.tracking_number
        reply = await send_for_reply(
            client, request, carrier=NAME, numbers=(number,), pass_statuses=(400,)
        )
        _raise_for_meta(reply, harmless=(ALREADY_EXISTS,))
        if reply.status_code < 300 or _meta_code(reply) == ALREADY_EXISTS:
            self.created.add(number)

    def parse(self, reply: CarrierReply) -> list[TrackingResult]:
        """One result per tracking in ``data``."""
        payload = reply_json(reply, NAME)
        data = payload.get("data") if isinstance(payload, dict) else None
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            raise ParseError("trackingmore: reply has no data", body=reply.body, carrier=NAME)
        return [tracking_result(item) for item in data if isinstance(item, dict)]


def _meta_code(reply: CarrierReply) -> int | None:
    try:
        payload = reply_json(reply, NAME)
    except ParseError:
        return None
    meta = payload.get("meta") if isinstance(payload, dict) else None
    code = meta.get("code") if isinstance(meta, dict) else None
    return code if isinstance(code, int) else None


def _raise_for_meta(reply: CarrierReply, harmless: Sequence[int] = ()) -> None:
    """TrackingMore answers request errors with HTTP 400 and a meta code: quota is a rate
    limit, the rest of them a reply we cannot use."""
    if reply.status_code < 300:
        return
    code = _meta_code(reply)
    if code in QUOTA_CODES:
        raise CarrierRateLimited(
            f"trackingmore: plan quota reached (meta code {code})", carrier=NAME
        )
    if code not in harmless:
        message = f"trackingmore: request refused (HTTP {reply.status_code}, meta code {code})"
        raise ParseError(message, body=reply.body, carrier=NAME)


def tracking_result(tracking: Mapping[str, Any]) -> TrackingResult:
    """One TrackingMore tracking object (API reply or webhook ``data``) as a result."""
    status = str(tracking.get("delivery_status") or "")
    origin = tracking.get("origin_info") or {}
    destination = tracking.get("destination_info") or {}
    events = [
        _checkpoint(c)
        for info in (origin, destination)
        if isinstance(info, dict)
        for c in info.get("trackinfo") or []
        if isinstance(c, dict)
    ]
    if status == "expired":
        expired = _expired_event(tracking, events)
        if expired is not None:
            events.append(expired)
    holder_code = _holder_code(tracking, origin, destination)
    holder = table_beside(__file__).name_of(holder_code)
    extra = {"delivery_status": status, "substatus": str(tracking.get("substatus") or "")}
    if holder:
        extra["holder"] = holder
    estimate = _estimate(tracking.get("scheduled_delivery_date"))
    if estimate is not None:
        extra["estimate_source"] = holder or "the courier"
    return TrackingResult(
        tracking_number=str(tracking.get("tracking_number")),
        events=tuple(events),
        carrier_status=status or None,
        expected_delivery=estimate,
        not_found=status in ("pending", "notfound", "expired") and not events,
        extra=extra,
    )


def _holder_code(
    tracking: Mapping[str, Any], origin: Mapping[str, Any], destination: Mapping[str, Any]
) -> str | None:
    """The last-mile courier once it has events, else the courier the tracking was made for."""
    if isinstance(destination, dict) and destination.get("trackinfo"):
        code = destination.get("courier_code")
        if code:
            return str(code)
    code = tracking.get("courier_code") or (origin.get("courier_code") if origin else None)
    return str(code) if code else None


def _checkpoint(checkpoint: Mapping[str, Any]) -> RawEvent:
    code = checkpoint.get("checkpoint_delivery_substatus") or checkpoint.get(
        "checkpoint_delivery_status"
    )
    country = checkpoint.get("country_iso2")
    return RawEvent(
        occurred_at=parse_timestamp(
            str(checkpoint.get("checkpoint_date") or ""), NAME, default_tz=UTC
        ),
        text=str(checkpoint.get("tracking_detail") or ""),
        code=str(code) if code else None,
        location=checkpoint.get("location") or None,
        country=alpha2(country if isinstance(country, str) else None),
        carrier=NAME,
    )


def _expired_event(tracking: Mapping[str, Any], events: list[RawEvent]) -> RawEvent | None:
    when = tracking.get("update_at") or tracking.get("updated_at")
    if isinstance(when, str) and when:
        occurred = parse_timestamp(when, NAME)
    elif events:
        occurred = max(event.occurred_at for event in events)
    else:
        return None
    return RawEvent(occurred_at=occurred, text=EXPIRED_TEXT, code="expired", carrier=NAME)


def _estimate(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if len(text) == 10:  # a date alone: by the end of that day
        return parse_timestamp(text + "T23:59:59", NAME)
    return parse_timestamp(text, NAME)


def push_signature(timestamp: str, secret: str) -> str:
    """TrackingMore's v4 webhook signature: hex HMAC-SHA256 of the timestamp header."""
    return hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8"), hashlib.sha256).hexdigest()


def verify_push(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    """True when ``signature`` matches the ``timestamp`` header under our webhook secret."""
    timestamp = headers.get("timestamp", "").strip()
    given = headers.get("signature", "").strip().lower()
    if not timestamp or not given or not (timestamp.isascii() and given.isascii()):
        return False
    return hmac.compare_digest(push_signature(timestamp, secret), given)


def parse_push(body: bytes) -> list[TrackingResult]:
    """A v4 webhook's tracking (``data``) as a result."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        message = f"trackingmore: webhook body is not JSON ({exc})"
        raise ParseError(message, body=body, carrier=NAME) from exc
    data = payload.get("data") if isinstance(payload, dict) else None
    items = [data] if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ParseError("trackingmore: webhook without data", body=body, carrier=NAME)
    return [
        tracking_result(item)
        for item in items
        if isinstance(item, dict) and item.get("tracking_number")
    ]


TrackingMoreAdapter.push_receiver = PushReceiver(
    path="/webhooks/trackingmore", verify=verify_push, parse=parse_push
)
