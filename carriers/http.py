"""HTTP helpers shared by adapters: error-status mapping, body size caps and charset decoding."""

from __future__ import annotations

import email.utils
import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Collection
from datetime import UTC, datetime, tzinfo
from functools import cache
from importlib import resources
from typing import Any
from xml.parsers import expat
from zoneinfo import ZoneInfo

import httpx

from carriers.base import CarrierReply
from carriers.redirects import RedirectRefused
from tracker.errors import CarrierAuthError, CarrierRateLimited, CarrierUnavailable, ParseError

#: a query httpx keeps exactly as given: unreserved characters, ``=&+`` and percent escapes
#: (what ``urllib.parse.urlencode`` writes)
_PLAIN_QUERY = re.compile(r"(?:[A-Za-z0-9._~=&+-]|%[0-9A-Fa-f]{2})*")


@cache
def _query_base(base: str) -> httpx.URL | None:
    """``base`` parsed once, if it has no query or fragment and a URL built from its parts
    with a plain query equals httpx's own parse of the whole text; else None."""
    parsed = httpx.URL(base)
    parts = getattr(parsed, "_uri_reference", None)
    if parts is None or not hasattr(parts, "_replace") or parts.query is not None:
        return None
    if parts.fragment is not None:
        return None
    probe = "numbers=AB%2C12+3&x=~-._"
    built = _with_parts(parts._replace(query=probe))
    whole = httpx.URL(f"{base}?{probe}")
    same = str(built) == str(whole) and built.raw_path == whole.raw_path
    return parsed if same and built.host == whole.host else None


def _with_parts(parts: Any) -> httpx.URL:
    url = httpx.URL.__new__(httpx.URL)
    url._uri_reference = parts
    return url


def url_with_query(base: str, query: str) -> httpx.URL:
    """The URL ``f"{base}?{query}"`` for a ``query`` encoded by ``urlencode``, as httpx would
    parse it, without httpx checking and quoting every character again in Python (about 55 us
    of a 40-number request's 70 in ``build_request``; bench/pipeline.py). Anything else (a
    base with a query, a query httpx might re-encode) is parsed by httpx as usual."""
    parsed = _query_base(base)
    if parsed is None or _PLAIN_QUERY.fullmatch(query) is None:
        return httpx.URL(f"{base}?{query}")
    return _with_parts(parsed._uri_reference._replace(query=query))


#: bodies larger than this are refused rather than buffered
MAX_BODY_BYTES = 8 * 1024 * 1024


#: the longest wait a Retry-After header is taken at: a day covers a daily quota, while a
#: larger value (``99999999999`` was seen) is a carrier's bug, not a reason to stop tracking
MAX_RETRY_AFTER = 24 * 3600.0


def parse_retry_after(
    value: str | None, *, now: float | None = None, cap: float = MAX_RETRY_AFTER
) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), at most ``cap``."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), cap)  # float: a 400-digit value is inf, not an OverflowError
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else time.time()
    return min(max(0.0, when.timestamp() - current), cap)


def parse_reset(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from an ``X-RateLimit-Reset`` / ``RateLimit-Reset`` header: epoch seconds
    (AfterShip, GitHub style) when the number is that large, else seconds from now (IETF)."""
    if not value or not value.strip().isdigit():
        return None
    number = float(value.strip())
    if number > 1_000_000_000:  # an instant, not a delay: no delay is 30 years long
        current = now if now is not None else time.time()
        return max(0.0, number - current)
    return number


def rate_limit_wait(headers: httpx.Headers, *, now: float | None = None) -> float | None:
    """How long a 429 asks us to wait: ``Retry-After``, else the rate-limit reset headers;
    None when the reply says nothing (the caller backs off on its own)."""
    for wait in (
        parse_retry_after(headers.get("retry-after"), now=now),
        parse_reset(headers.get("x-ratelimit-reset"), now=now),
        parse_reset(headers.get("ratelimit-reset"), now=now),
    ):
        if wait is not None:
            return wait
    return None


def raise_for_carrier_status(status_code: int, headers: httpx.Headers, carrier: str) -> None:
    """Map HTTP error statuses onto the carrier error tree."""
    if status_code in (401, 403):
        raise CarrierAuthError(
            f"{carrier}: credentials rejected (HTTP {status_code})", carrier=carrier
        )
    if status_code == 429:
        wait = rate_limit_wait(headers)
        said = "no wait given" if wait is None else f"asked to wait {wait:.0f}s"
        raise CarrierRateLimited(
            f"{carrier}: rate limited (HTTP 429, {said})", retry_after=wait, carrier=carrier
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
        raise CarrierUnavailable(
            f"{carrier}: reply of {declared} bytes exceeds the {cap}-byte cap", carrier=carrier
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            raise CarrierUnavailable(
                f"{carrier}: reply exceeds the {cap}-byte cap", carrier=carrier
            )
        chunks.append(chunk)
    return b"".join(chunks)


def utc_now() -> datetime:
    """Wall-clock now, aware; adapters that need a clock for tokens take it from here."""
    return datetime.now(UTC)


def declared_charset(content_type: str) -> str | None:
    """The charset a Content-Type header declares, or None when it declares none."""
    for part in content_type.split(";")[1:]:
        key, _, val = part.strip().partition("=")
        if key.lower() == "charset" and val.strip("\"' "):
            return val.strip("\"' ")
    return None


async def send_for_reply(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    carrier: str,
    numbers: tuple[str, ...],
    check_status: bool = True,
    auth: httpx.Auth | None = None,
    pass_statuses: Collection[int] = (),
) -> CarrierReply:
    """Send ``request`` and keep the size-capped raw reply; transport failures become
    ``CarrierUnavailable`` and, unless ``check_status`` is off, error statuses are mapped
    (except ``pass_statuses``, which the adapter inspects itself, e.g. SOAP faults on 500)."""
    try:
        response = await client.send(request, stream=True, auth=auth)
        try:
            body = await read_capped(response, carrier)
        finally:
            await response.aclose()
    except httpx.TimeoutException as exc:
        message = f"{carrier}: timed out ({type(exc).__name__})"
        raise CarrierUnavailable(message, carrier=carrier) from exc
    except httpx.TransportError as exc:
        message = f"{carrier}: transport failure ({exc!r})"
        raise CarrierUnavailable(message, carrier=carrier) from exc
    except RedirectRefused as exc:
        raise CarrierUnavailable(f"{carrier}: {exc}", carrier=carrier) from exc
    except httpx.TooManyRedirects as exc:
        message = f"{carrier}: too many redirects (a redirect loop?) from {request.url}"
        raise CarrierUnavailable(message, carrier=carrier) from exc
    if check_status and response.status_code not in pass_statuses:
        raise_for_carrier_status(response.status_code, response.headers, carrier)
    return CarrierReply(
        numbers=numbers,
        status_code=response.status_code,
        body=body,
        content_type=response.headers.get("content-type", ""),
        url=str(request.url),
    )


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def _refuse_dtd(*_args: object) -> None:
    raise ValueError("DTDs are refused in carrier replies (entity expansion, external entities)")


def parse_xml(body: bytes, content_type: str, carrier: str) -> ET.Element:
    """Parse an XML reply with DTDs refused. A charset in the Content-Type header wins over the
    XML declaration (RFC 7303); without one the declaration (else UTF-8) decides."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.StartElementHandler = lambda name, attrs: builder.start(
        _clark(name), {_clark(k): v for k, v in attrs.items()}
    )
    parser.EndElementHandler = lambda name: builder.end(_clark(name))
    parser.CharacterDataHandler = builder.data
    try:
        if declared_charset(content_type):
            parser.Parse(_XML_DECLARATION.sub("", decode_body(body, content_type), count=1), True)
        else:
            parser.Parse(body.lstrip(), True)  # tolerate stray leading whitespace
        return builder.close()
    except (expat.ExpatError, ValueError, AssertionError) as exc:
        message = f"{carrier}: reply is not well-formed XML ({exc})"
        raise ParseError(message, body=body, carrier=carrier) from exc


def _clark(name: str) -> str:
    """expat's ``ns}local`` as ElementTree's ``{ns}local``."""
    return "{" + name if "}" in name else name


def local_name(element: ET.Element) -> str:
    """An element's tag without its ``{namespace}`` prefix."""
    return element.tag.rpartition("}")[2]


def xml_child(element: ET.Element | None, *path: str) -> ET.Element | None:
    """Follow child elements by local name, ignoring namespaces; None when any step is missing."""
    for name in path:
        if element is None:
            return None
        element = next((c for c in element if local_name(c) == name), None)
    return element


def xml_text(element: ET.Element | None, *path: str) -> str | None:
    """Stripped text of the element at ``path`` (by local names), or None when absent or empty."""
    found = xml_child(element, *path)
    if found is None or found.text is None:
        return None
    text = " ".join(found.text.split())
    return text or None


def xml_find_all(element: ET.Element, name: str) -> list[ET.Element]:
    """Every descendant (or the element itself) with local name ``name``, in document order."""
    return [e for e in element.iter() if local_name(e) == name]


def reply_json(reply: CarrierReply, carrier: str) -> Any:
    """The reply body as JSON, decoded with its declared charset; ParseError keeps the body."""
    try:
        return json.loads(reply.text())
    except ValueError as exc:
        message = f"{carrier}: reply is not JSON ({exc})"
        raise ParseError(message, body=reply.body, carrier=carrier) from exc


def parse_timestamp(value: str, carrier: str, *, default_tz: tzinfo = UTC) -> datetime:
    """An ISO 8601 timestamp as an aware datetime; ``default_tz`` applies when it has no offset."""
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        message = f"{carrier}: unreadable timestamp {value!r}"
        raise ParseError(message, body=value, carrier=carrier) from exc
    return when if when.tzinfo is not None else when.replace(tzinfo=default_tz)


@cache
def _zones_by_country() -> dict[str, list[str]]:
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    zones: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            country, _coords, zone = line.split("\t")[:3]
            zones.setdefault(country, []).append(zone)
    return zones


def zone_for_country(country: str | None) -> tzinfo | None:
    """The time zone of a country that has only one (tzdata's zone.tab), else None.

    Used for carrier timestamps given in local time without an offset: the event's country
    decides when it is unambiguous; callers fall back to UTC otherwise.
    """
    zones = _zones_by_country().get((country or "").upper(), [])
    return ZoneInfo(zones[0]) if len(zones) == 1 else None
