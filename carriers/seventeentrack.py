"""17TRACK API v2.2: one key for ~2,100 carriers, the fallback for numbers no direct adapter takes.

Numbers must be registered before they are tracked; ``fetch`` registers the ones this adapter has
not registered yet (with the carrier key from ``seventeentrack_couriers.toml`` when we know the
courier, and the order reference as ``order_no``; never the buyer's email), then asks
``gettrackinfo`` for up to 40 at once. Registering a number 17TRACK already has costs no quota
(-18019901), so the in-memory record of registrations is only an optimisation; a number 17TRACK
says is not registered (-18019902) is registered again on the next poll. 17TRACK also pushes
updates to a webhook: ``verify_webhook_signature`` and ``parse_webhook`` handle those.

A ``TRACKING_STOPPED`` push means 17TRACK no longer follows the number. Its help centre gives
the causes: 15 days after delivery with no change, 30 days without a new event, or the account
owner stopping it (dashboard or ``stoptrack``); a stopped number stays in the account for 90
days and can be restarted (``retrack``) once in its lifetime. We do not restart it: after
delivery there is nothing to follow, an owner's stop is theirs to undo, and after 30 silent days
the one restart is the seller's to spend when they have a reason (the buyer saw it move), not
ours to spend on a parcel that shows no movement. A shipment still under way is closed as
expired through a ``TRACKING_STOPPED`` event (``seventeentrack_codes.toml``): polling stops, the
buyer is told nothing more about its travel, the seller is told. If the seller restarts it in
17TRACK, its next push with newer scans reopens the shipment.

Events carry 17TRACK's ``sub_status`` as their code and ``seventeentrack`` as their carrier, so
``seventeentrack_codes.toml`` classifies them; buyers see the carrier that holds the parcel
(``providers[].provider.name`` of the latest event), not 17TRACK. The carrier's estimate is
``time_metrics.estimated_delivery_date``. Errors as 17TRACK documents them: -18010001 (this
server's IP is not on the key's whitelist), -18010002/-18010004/-18010005 are credential
problems; -18010003 is an internal error worth retrying; -18019907/-18019908 (daily limit,
quota used up) are rate limits.
Times: events carry ``time_iso`` with the carrier's offset (kept), else ``time_utc``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from carriers.aggregators import table_beside
from carriers.base import CarrierReply, CarrierSettings, ParcelAdapter, ParcelInfo, PushReceiver
from carriers.http import parse_timestamp, reply_json, send_for_reply
from tracker.errors import CarrierAuthError, CarrierRateLimited, CarrierUnavailable, ParseError
from tracker.model import RawEvent, TrackingResult

NAME = "seventeentrack"
#: 17TRACK error codes, as its documentation lists them
ALREADY_REGISTERED = -18019901
NOT_REGISTERED = -18019902
IP_NOT_WHITELISTED = -18010001
INTERNAL_ERROR = -18010003
AUTH_CODES = frozenset({IP_NOT_WHITELISTED, -18010002, -18010004, -18010005})
#: per-number refusals: the day's limit is reached, the plan's quota is used up
QUOTA_CODES = frozenset({-18019907, -18019908})
#: the API path a bare host (``base_url = "https://api.17track.net"``) gets
API_PATH = "/track/v2.2"
EXPIRED_TEXT = "17TRACK stopped tracking this number: the carrier shared no news for too long"
#: the event a TRACKING_STOPPED push becomes on a shipment still under way (the seller reads it)
STOPPED_CODE = "TRACKING_STOPPED"
STOPPED_TEXT = (
    "17TRACK stopped tracking this number (30 days without a new scan, or stopped in the 17TRACK "
    "account); it can be restarted once with Re-track in 17TRACK's dashboard"
)


class SeventeenTrackAdapter(ParcelAdapter):
    """The 17TRACK aggregator."""

    name: ClassVar[str] = NAME
    display_name: ClassVar[str] = "17TRACK"
    max_numbers_per_request: ClassVar[int] = 40
    requests_per_second: ClassVar[float] = 3.0
    max_concurrency: ClassVar[int] = 2
    tracking_url_template: ClassVar[str | None] = "https://t.17track.net/en#nums={number}"
    default_base_url: ClassVar[str] = "https://api.17track.net/track/v2.2"
    required_settings: ClassVar[tuple[str, ...]] = ("api_key",)

    def __init__(self, settings: CarrierSettings | None = None) -> None:
        super().__init__(settings)
        self.registered: set[str] = set()

    @property
    def base_url(self) -> str:
        """The configured URL, with 17TRACK's API path added to a bare host."""
        base = (self.settings.base_url or self.default_base_url).rstrip("/")
        return base if httpx.URL(base).path.strip("/") else base + API_PATH

    def _request(
        self, client: httpx.AsyncClient, path: str, body: list[dict[str, Any]]
    ) -> httpx.Request:
        if not self.settings.api_key:
            raise CarrierAuthError("seventeentrack: api_key (17token) is required", carrier=NAME)
        return client.build_request(
            "POST",
            f"{self.base_url}/{path}",
            json=body,
            headers={"17token": self.settings.api_key},
            timeout=self.settings.timeout_seconds,
        )

    def registration(self, parcel: ParcelInfo) -> dict[str, Any]:
        """What 17TRACK is told when a number is registered: never the buyer's contacts."""
        item: dict[str, Any] = {"number": parcel.tracking_number}
        override = self.settings.options.get("carrier_key")
        carrier = table_beside(__file__).code_for(parcel, override)
        if carrier is not None and carrier.isdigit():
            item["carrier"] = int(carrier)
        if parcel.order_reference:
            item["order_no"] = parcel.order_reference
        return item

    async def fetch_parcels(
        self, client: httpx.AsyncClient, parcels: Sequence[ParcelInfo]
    ) -> CarrierReply:
        """Register the parcels not registered yet, then fetch track info for all of them."""
        batch = tuple(parcel.tracking_number for parcel in parcels)
        fresh = [parcel for parcel in parcels if parcel.tracking_number not in self.registered]
        if fresh:
            numbers = tuple(parcel.tracking_number for parcel in fresh)
            body = [self.registration(parcel) for parcel in fresh]
            reply = await send_for_reply(
                client, self._request(client, "register", body), carrier=NAME, numbers=numbers
            )
            self.registered.update(_registered(reply, numbers))
        request = self._request(client, "gettrackinfo", [{"number": n} for n in batch])
        reply = await send_for_reply(client, request, carrier=NAME, numbers=batch)
        self.registered.difference_update(_not_registered(reply))
        return reply

    def parse(self, reply: CarrierReply) -> list[TrackingResult]:
        """Accepted numbers become results; rejected ones come back ``not_found``, with why."""
        data = _data(reply_json(reply, NAME), reply.body)
        results = [_accepted(item) for item in data.get("accepted") or []]
        for item in data.get("rejected") or []:
            error = item.get("error") or {}
            extra = {"error": str(error.get("message") or ""), "error_code": str(error.get("code"))}
            results.append(
                TrackingResult(tracking_number=str(item.get("number")), not_found=True, extra=extra)
            )
        return results


def _data(payload: Any, body: bytes) -> Mapping[str, Any]:
    if not isinstance(payload, dict) or "code" not in payload:
        raise ParseError("seventeentrack: reply has no code", body=body, carrier=NAME)
    code = payload["code"]
    if code == IP_NOT_WHITELISTED:
        raise CarrierAuthError(
            f"seventeentrack: this server's IP address is not on the key's whitelist (code "
            f"{code}); add it in 17TRACK's dashboard",
            carrier=NAME,
        )
    if code in AUTH_CODES:
        raise CarrierAuthError(f"seventeentrack: token rejected (code {code})", carrier=NAME)
    if code == INTERNAL_ERROR:
        raise CarrierUnavailable(
            f"seventeentrack: internal error at 17TRACK, to retry (code {code})", carrier=NAME
        )
    data = payload.get("data")
    if code != 0 or not isinstance(data, dict):
        raise ParseError(f"seventeentrack: error code {code}", body=body, carrier=NAME)
    return data


def _registered(reply: CarrierReply, asked: Sequence[str]) -> set[str]:
    """Numbers now registered: accepted ones and those 17TRACK already had. A quota refusal
    (daily limit, plan used up) is a rate limit for the whole batch."""
    data = _data(reply_json(reply, NAME), reply.body)
    done = {str(item.get("number")) for item in data.get("accepted") or []}
    for item in data.get("rejected") or []:
        code = (item.get("error") or {}).get("code")
        if code == ALREADY_REGISTERED:
            done.add(str(item.get("number")))
        elif code in QUOTA_CODES:
            raise CarrierRateLimited(
                f"seventeentrack: registration quota exhausted (code {code})", carrier=NAME
            )
    return done & set(asked)


def _not_registered(reply: CarrierReply) -> set[str]:
    """Numbers 17TRACK says it does not know (they are registered again on the next poll)."""
    try:
        data = _data(reply_json(reply, NAME), reply.body)
    except ParseError:
        return set()
    return {
        str(item.get("number"))
        for item in data.get("rejected") or []
        if (item.get("error") or {}).get("code") == NOT_REGISTERED
    }


def _accepted(item: Mapping[str, Any]) -> TrackingResult:
    info = item.get("track_info") or {}
    latest = info.get("latest_status") or {}
    events: list[RawEvent] = []
    holder: tuple[datetime, str] | None = None
    for provider in (info.get("tracking") or {}).get("providers") or []:
        name = str((provider.get("provider") or {}).get("name") or "")
        own = [_event(e) for e in provider.get("events") or []]
        events.extend(own)
        if name and own:
            newest = max(e.occurred_at for e in own)
            if holder is None or newest > holder[0]:
                holder = (newest, name)
    status = str(latest.get("status") or "")
    if status == "Expired" and events:
        last = max(e.occurred_at for e in events)
        code = str(latest.get("sub_status") or "Expired")
        events.append(RawEvent(occurred_at=last, text=EXPIRED_TEXT, code=code, carrier=NAME))
    window = (info.get("time_metrics") or {}).get("estimated_delivery_date") or {}
    estimate = window.get("to") or window.get("from")
    extra = {
        "sub_status": str(latest.get("sub_status") or ""),
        "carrier_key": str(item.get("carrier") or ""),
    }
    if holder is not None:
        extra["holder"] = holder[1]
    if estimate:
        source = str(window.get("source") or "")
        extra["estimate_source"] = (
            "17TRACK" if source == "17TRACK" else extra.get("holder") or "the carrier"
        )
    return TrackingResult(
        tracking_number=str(item.get("number")),
        events=tuple(events),
        carrier_status=status or None,
        expected_delivery=parse_timestamp(estimate, NAME) if estimate else None,
        not_found=status == "NotFound" and not events,
        extra=extra,
    )


def _event(event: Mapping[str, Any]) -> RawEvent:
    when = event.get("time_iso") or event.get("time_utc")
    if not when:
        raise ParseError("seventeentrack: event without time", body=json.dumps(event), carrier=NAME)
    country = (event.get("address") or {}).get("country") or None
    return RawEvent(
        occurred_at=parse_timestamp(str(when), NAME, default_tz=UTC),
        text=str(event.get("description") or ""),
        code=event.get("sub_status") or event.get("stage") or None,
        location=event.get("location") or None,
        country=country if isinstance(country, str) and len(country) == 2 else None,
        carrier=NAME,
    )


def verify_webhook_signature(body: bytes, signature: str, key: str) -> bool:
    """17TRACK signs a push as hex SHA-256 of ``body + "/" + key``; compare in constant time."""
    expected = hashlib.sha256(body + b"/" + key.encode("utf-8")).hexdigest()
    given = signature.strip().lower()
    return given.isascii() and hmac.compare_digest(expected, given)


def verify_push(body: bytes, headers: Mapping[str, str], key: str) -> bool:
    """A push is 17TRACK's when its ``sign`` header matches the body and our key."""
    signature = headers.get("sign", "")
    return bool(signature) and verify_webhook_signature(body, signature, key)


def parse_webhook(body: bytes) -> list[TrackingResult]:
    """A push (``TRACKING_UPDATED`` / ``TRACKING_STOPPED``) as results; other events give none."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ParseError(
            f"seventeentrack: webhook body is not JSON ({exc})", body=body, carrier=NAME
        ) from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        raise ParseError("seventeentrack: webhook without data", body=body, carrier=NAME)
    if payload.get("event") == "TRACKING_STOPPED":
        number = str(payload["data"].get("number"))
        extra = {"stopped": "true", "stopped_code": STOPPED_CODE, "stopped_text": STOPPED_TEXT}
        return [TrackingResult(tracking_number=number, extra=extra)]
    if payload.get("event") != "TRACKING_UPDATED":
        return []
    return [_accepted(payload["data"])]


SeventeenTrackAdapter.push_receiver = PushReceiver(
    path="/webhooks/seventeentrack", verify=verify_push, parse=parse_webhook
)
