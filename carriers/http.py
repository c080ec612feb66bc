"""HTTP helpers shared by adapters: error-status mapping, body size caps and charset decoding."""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime

import httpx

from tracker.errors import CarrierAuthError, CarrierRateLimited, CarrierUnavailable

#: bodies larger than this are refused rather than buffered
MAX_BODY_BYTES = 8 * 1024 * 1024


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


def raise_for_carrier_status(status_code: int, headers: httpx.Headers, carrier: str) -> None:
    """Map HTTP error statuses onto the carrier error tree."""
    if status_code in (401, 403):
        raise CarrierAuthError(f"{carrier}: credentials rejected (HTTP {status_code})", carrier=carrier)
    if status_code == 429:
        retry_after = parse_retry_after(headers.get("retry-after"))
        raise CarrierRateLimited(
            f"{carrier}: rate limited (HTTP 429, retry after {retry_after}s)",
            retry_after=retry_after,
            carrier=carrier,
        )
    if status_code >= 500:
        raise CarrierUnavailable(f"{carrier}: server error (HTTP {status_code})", carrier=carrier)


def decode_body(body: bytes, content_type: str) -> str:
    """Decode with the declared charset, else UTF-8; undecodable bytes become U+FFFD."""
    charset = "utf-8"
    for part in content_type.split(";")[1:]:
        key, _, val = part.strip().partition("=")
        if key.lower() == "charset" and val:
            charset = val.strip("\"' ")
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


async def read_capped(response: httpx.Response, carrier: str, cap: int = MAX_BODY_BYTES) -> bytes:
    """Read a streamed response body, refusing anything larger than ``cap`` bytes."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise CarrierUnavailable(f"{carrier}: reply of {declared} bytes exceeds the {cap}-byte cap", carrier=carrier)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            raise CarrierUnavailable(f"{carrier}: reply exceeds the {cap}-byte cap", carrier=carrier)
        chunks.append(chunk)
    return b"".join(chunks)


def utc_now() -> datetime:
    """Wall-clock now, aware; adapters that need a clock for tokens take it from here."""
    return datetime.now(UTC)
