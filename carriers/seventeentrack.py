"""17TRACK API v2.2: one key for ~2,100 carriers, the fallback for numbers no direct adapter takes.

Numbers must be registered before they are tracked; ``fetch`` registers the ones this adapter has
not registered yet, then asks ``gettrackinfo`` for up to 40 at once. 17TRACK also pushes updates
to a webhook: ``verify_webhook_signature`` and ``parse_webhook`` handle those.
Times: events carry ``time_iso`` with the carrier's offset (kept), else ``time_utc``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any, ClassVar

import httpx

from carriers.base import CarrierAdapter, CarrierReply, CarrierSettings, PushReceiver
from carriers.http import parse_timestamp, reply_json, send_for_reply
from tracker.errors import CarrierAuthError, CarrierRateLimited, ParseError
from tracker.model import RawEvent, TrackingResult

NAME = "seventeentrack"
#: 17TRACK error codes: already registered (harmless), bad token, quota / rate exhausted
ALREADY_REGISTERED = -18019901
AUTH_CODES = frozenset({-18010002, -18010003, -18010004})
QUOTA_CODES = frozenset({-18010013, -18010014, -18010012})


class SeventeenTrackAdapter(CarrierAdapter):
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

    def _request(
        self, client: httpx.AsyncClient, path: str, numbers: Sequence[str]
    ) -> httpx.Request:
        if not self.settings.api_key:
            raise CarrierAuthError("seventeentrack: api_key (17token) is required", carrier=NAME)
        base = (self.settings.base_url or self.default_base_url).rstrip("/")
        return client.build_request(
            "POST",
            f"{base}/{path}",
            json=[{"number": n} for n in numbers],
            headers={"17token": self.settings.api_key},
            timeout=self.settings.timeout_seconds,
        )

    async def fetch(self, client: httpx.AsyncClient, numbers: Sequence[str]) -> CarrierReply:
        """Register unknown numbers, then fetch track info for all of ``numbers`` (at most 40)."""
        batch = tuple(numbers)
        fresh = [n for n in batch if n not in self.registered]
        if fresh:
            reply = await send_for_reply(
                client, self._request(client, "register", fresh), carrier=NAME, numbers=tuple(fresh)
            )
            self.registered.update(_registered(reply, fresh))
        request = self._request(client, "gettrackinfo", batch)
        return await send_for_reply(client, request, carrier=NAME, numbers=batch)

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
    if code in AUTH_CODES:
        raise CarrierAuthError(f"seventeentrack: token rejected (code {code})", carrier=NAME)
    if code in QUOTA_CODES:
        raise CarrierRateLimited(
            f"seventeentrack: quota or rate exhausted (code {code})", carrier=NAME
        )
    data = payload.get("data")
    if code != 0 or not isinstance(data, dict):
        raise ParseError(f"seventeentrack: error code {code}", body=body, carrier=NAME)
    return data


def _registered(reply: CarrierReply, asked: Sequence[str]) -> set[str]:
    """Numbers now registered: accepted ones and those 17TRACK already had."""
    data = _data(reply_json(reply, NAME), reply.body)
    done = {str(item.get("number")) for item in data.get("accepted") or []}
    for item in data.get("rejected") or []:
        if (item.get("error") or {}).get("code") == ALREADY_REGISTERED:
            done.add(str(item.get("number")))
    return done & set(asked)


def _accepted(item: Mapping[str, Any]) -> TrackingResult:
    info = item.get("track_info") or {}
    latest = info.get("latest_status") or {}
    events: list[RawEvent] = []
    for provider in (info.get("tracking") or {}).get("providers") or []:
        name = str((provider.get("provider") or {}).get("name") or NAME)
        events.extend(_event(e, name) for e in provider.get("events") or [])
    estimate = ((info.get("time_metrics") or {}).get("estimated_delivery_date") or {}).get("to")
    extra = {
        "sub_status": str(latest.get("sub_status") or ""),
        "carrier_key": str(item.get("carrier") or ""),
    }
    return TrackingResult(
        tracking_number=str(item.get("number")),
        events=tuple(events),
        carrier_status=latest.get("status"),
        expected_delivery=parse_timestamp(estimate, NAME) if estimate else None,
        not_found=latest.get("status") == "NotFound" and not events,
        extra=extra,
    )


def _event(event: Mapping[str, Any], provider: str) -> RawEvent:
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
        carrier=provider,
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
        return [TrackingResult(tracking_number=number, extra={"stopped": "true"})]
    if payload.get("event") != "TRACKING_UPDATED":
        return []
    return [_accepted(payload["data"])]


SeventeenTrackAdapter.push_receiver = PushReceiver(
    path="/webhooks/seventeentrack", verify=verify_push, parse=parse_webhook
)
