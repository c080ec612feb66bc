"""AfterShip Tracking API (dated versions, ``as-api-key`` header): the other aggregator.

A number is created once (``POST /trackings``), then read in batches through
``GET /trackings?tracking_numbers=a,b,...``. AfterShip also pushes each change to a webhook,
signed in ``aftership-hmac-sha256`` (base64 HMAC-SHA256 of the raw body with the webhook
secret): ``verify_push`` and ``parse_push`` handle those. Times: ``checkpoint_time`` is ISO 8601,
usually with the checkpoint's offset (kept); without one it is read as UTC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any, ClassVar

import httpx

from carriers.base import CarrierAdapter, CarrierReply, CarrierSettings, PushReceiver
from carriers.http import parse_timestamp, reply_json, send_for_reply
from tracker.errors import CarrierAuthError, ParseError
from tracker.model import RawEvent, TrackingResult

NAME = "aftership"
API_VERSION = "2024-10"
#: meta.code AfterShip returns when a tracking already exists (harmless on create)
ALREADY_EXISTS = 4003


class AfterShipAdapter(CarrierAdapter):
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

    async def fetch(self, client: httpx.AsyncClient, numbers: Sequence[str]) -> CarrierReply:
        """Create trackings not yet created by this adapter, then read all of ``numbers``."""
        for number in numbers:
            if number not in self.created:
                await self._create(client, number)
        request = client.build_request(
            "GET",
            f"{self._base}/trackings",
            params={"tracking_numbers": ",".join(numbers), "limit": str(len(numbers))},
            headers=self._headers(),
            timeout=self.settings.timeout_seconds,
        )
        return await send_for_reply(client, request, carrier=NAME, numbers=tuple(numbers))

    async def _create(self, client: httpx.AsyncClient, number: str) -> None:
        body: dict[str, Any] = {"tracking_number": number}
        if self.settings.options.get("slug"):
            body["slug"] = self.settings.options["slug"]
        request = client.build_request(
            "POST",
            f"{self._base}/trackings",
            json=body,
            headers=self._headers(),
            timeout=self.settings.timeout_seconds,
        )
        reply = await send_for_reply(
            client, request, carrier=NAME, numbers=(number,), pass_statuses=(400, 409)
        )
        if reply.status_code < 300 or _meta_code(reply) == ALREADY_EXISTS:
            self.created.add(number)

    def parse(self, reply: CarrierReply) -> list[TrackingResult]:
        """One result per tracking in ``data.trackings`` (or the single ``data.tracking``)."""
        payload = reply_json(reply, NAME)
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            raise ParseError("aftership: reply has no data object", body=reply.body, carrier=NAME)
        trackings = data.get("trackings")
        if trackings is None and isinstance(data.get("tracking"), dict):
            trackings = [data["tracking"]]
        if not isinstance(trackings, list):
            raise ParseError("aftership: reply has no trackings", body=reply.body, carrier=NAME)
        return [_tracking(t) for t in trackings]


def _meta_code(reply: CarrierReply) -> int | None:
    try:
        code = reply_json(reply, NAME).get("meta", {}).get("code")
    except (ParseError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def _tracking(tracking: Mapping[str, Any]) -> TrackingResult:
    tag = tracking.get("tag")
    expected = tracking.get("expected_delivery")
    checkpoints = tracking.get("checkpoints") or []
    return TrackingResult(
        tracking_number=str(tracking.get("tracking_number")),
        events=tuple(_checkpoint(c, str(tracking.get("slug") or NAME)) for c in checkpoints),
        carrier_status=tag,
        expected_delivery=parse_timestamp(expected, NAME)
        if isinstance(expected, str) and expected
        else None,
        not_found=tag in ("Pending", "Expired") and not checkpoints,
        extra={
            "slug": str(tracking.get("slug") or ""),
            "subtag": str(tracking.get("subtag") or ""),
        },
    )


def _checkpoint(checkpoint: Mapping[str, Any], slug: str) -> RawEvent:
    parts = (checkpoint.get("city"), checkpoint.get("state"), checkpoint.get("zip"))
    place = checkpoint.get("location") or ", ".join(str(p) for p in parts if p)
    country = checkpoint.get("country_region") or checkpoint.get("country_iso3")
    return RawEvent(
        occurred_at=parse_timestamp(
            str(checkpoint.get("checkpoint_time") or ""), NAME, default_tz=UTC
        ),
        text=str(checkpoint.get("message") or ""),
        code=checkpoint.get("raw_tag") or checkpoint.get("subtag") or None,
        location=place or None,
        country=country if isinstance(country, str) and len(country) == 2 else None,
        carrier=slug,
    )


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
    return [_tracking(tracking)]


AfterShipAdapter.push_receiver = PushReceiver(
    path="/webhooks/aftership", verify=verify_push, parse=parse_push
)
