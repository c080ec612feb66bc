"""Australia Post: the Shipping and Tracking API (``/shipping/v1/track?tracking_ids=``).

Up to ten ids per request; the API is rate limited per account (ten calls a minute), so the
poller batches aggressively. Event times carry their UTC offset.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import httpx

from carriers.base import CarrierAdapter, CarrierReply
from carriers.http import decode_body, send_for_reply
from tracker.errors import CarrierAuthError, CarrierError, ParseError
from tracker.model import RawEvent, TrackingResult

#: state suffixes of Australian locations ("KEW VIC"), which mark an event as domestic
STATES = frozenset({"ACT", "NSW", "NT", "QLD", "SA", "TAS", "VIC", "WA"})


class AustraliaPostAdapter(CarrierAdapter):
    """Australia Post tracking: Basic auth (API key + password) plus the ``account-number``."""

    name: ClassVar[str] = "australia_post"
    display_name: ClassVar[str] = "Australia Post"
    max_numbers_per_request: ClassVar[int] = 10
    requests_per_second: ClassVar[float] = 10 / 60
    max_concurrency: ClassVar[int] = 1
    tracking_url_template: ClassVar[str | None] = (
        "https://auspost.com.au/mypost/track/details/{number}"
    )
    default_base_url: ClassVar[str] = "https://digitalapi.auspost.com.au"

    async def fetch(self, client: httpx.AsyncClient, numbers: Sequence[str]) -> CarrierReply:
        """GET tracking for up to ten article or consignment ids in one request."""
        key, password = self.settings.api_key, self.settings.client_secret
        account = self.settings.options.get("account_number")
        if not (key and password and account):
            message = "australia_post: api_key, client_secret and options.account_number needed"
            raise CarrierAuthError(message, carrier=self.name)
        base = (self.settings.base_url or self.default_base_url).rstrip("/")
        request = client.build_request(
            "GET",
            f"{base}/shipping/v1/track",
            params={"tracking_ids": ",".join(numbers)},
            headers={"Accept": "application/json", "account-number": account},
            timeout=self.settings.timeout_seconds,
        )
        return await send_for_reply(
            client,
            request,
            carrier=self.name,
            numbers=tuple(numbers),
            auth=httpx.BasicAuth(key, password),
        )

    def parse(self, reply: CarrierReply) -> list[TrackingResult]:
        """One result per ``tracking_results`` entry; per-id errors become not-found."""
        return parse_tracking_json(reply.body, reply.content_type)


def parse_tracking_json(body: bytes, content_type: str = "") -> list[TrackingResult]:
    """Pure parse of a track reply. A request-level ``errors`` list raises ``CarrierError``."""
    document = _load(body, content_type)
    results = document.get("tracking_results")
    if results is None:
        errors = document.get("errors") or []
        if errors:
            first = errors[0]
            message = f"{first.get('code')} {first.get('name')}: {first.get('message', '')}"
            raise CarrierError(f"australia_post: {message.strip()}", carrier="australia_post")
        raise ParseError("australia_post: no tracking_results in reply", body=body)
    try:
        return [_result(entry) for entry in results]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ParseError(f"australia_post: unexpected reply shape ({exc!r})", body=body) from exc


def _load(body: bytes, content_type: str) -> dict[str, Any]:
    try:
        document = json.loads(decode_body(body, content_type))
    except json.JSONDecodeError as exc:
        raise ParseError(f"australia_post: reply is not JSON ({exc})", body=body) from exc
    if not isinstance(document, dict):
        raise ParseError("australia_post: reply is not a JSON object", body=body)
    return document


def _result(entry: Mapping[str, Any]) -> TrackingResult:
    number = str(entry["tracking_id"])
    errors = entry.get("errors") or []
    if errors and not entry.get("trackable_items"):
        first = errors[0]
        extra = {
            "error_code": str(first.get("code", "")),
            "error_message": str(first.get("name", "")),
        }
        return TrackingResult(number, not_found=True, extra=extra)
    articles = list(_articles(entry.get("trackable_items") or []))
    events = tuple(_event(e) for a in articles for e in a.get("events") or [])
    status = entry.get("status") or next((a["status"] for a in articles if a.get("status")), None)
    products = [str(a["product_type"]) for a in articles if a.get("product_type")]
    extra = {"product_type": products[0]} if products else {}
    return TrackingResult(number, events=events, carrier_status=status, extra=extra)


def _articles(items: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """A trackable item is either an article or a consignment whose ``items`` are articles."""
    for item in items:
        if "items" in item:
            yield from item["items"]
        else:
            yield item


def _event(event: Mapping[str, Any]) -> RawEvent:
    occurred = datetime.fromisoformat(str(event["date"]))
    if occurred.tzinfo is None:
        raise ValueError(f"event date without offset: {event['date']!r}")
    location = event.get("location") or None
    state = location.rsplit(" ", 1)[-1] if location else ""
    return RawEvent(
        occurred_at=occurred,
        text=str(event.get("description") or ""),
        code=event.get("code") or event.get("event_code") or None,
        location=location,
        country="AU" if state in STATES else None,
        carrier="australia_post",
    )
