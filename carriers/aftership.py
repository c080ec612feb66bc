"""AfterShip Tracking API (dated versions, ``as-api-key`` header): the other aggregator.

A number is created once (``POST /trackings``), then read in batches through
``GET /trackings?tracking_numbers=a,b,...``. Times: ``checkpoint_time`` is ISO 8601, usually with
the checkpoint's offset (kept); without one it is read as UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any, ClassVar

import httpx

from carriers.base import CarrierAdapter, CarrierReply, CarrierSettings
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
