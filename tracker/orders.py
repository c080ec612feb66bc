"""Validating order input (``tracker add`` options, CSV rows) into shipments to store.

Every problem is an InputError that names the field and the value, so a seller can fix a CSV
line without guessing; nothing is stored unless the whole input is valid.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

from babel import Locale, UnknownLocaleError

from carriers.detect import route, validate_number
from tracker.errors import InputError
from tracker.safetext import has_controls
from tracker.store.shipments import NewShipment

FIELDS = (
    "tracking_number",
    "carrier",
    "buyer_email",
    "buyer_name",
    "buyer_language",
    "destination_country",
    "order_reference",
    "shipped_date",
)
OPTIONAL = frozenset({"carrier", "buyer_language", "origin_country"})
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_TRACKING = re.compile(r"^[A-Z0-9]{6,40}$")
EARLIEST = date(2000, 1, 1)


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad CSV line."""

    line: int
    message: str


def _optional(value: str | None, field: str, *, limit: int) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    if has_controls(text):
        raise InputError(f"{field}: {text!r} contains line breaks or control characters")
    if len(text) > limit:
        raise InputError(f"{field}: longer than {limit} characters")
    return text


def _required(value: str | None, field: str, *, limit: int) -> str:
    text = _optional(value, field, limit=limit)
    if text is None:
        raise InputError(f"{field}: missing")
    return text


def _country(value: str | None, field: str, *, required: bool) -> str | None:
    text = _optional(value, field, limit=40)
    if text is None:
        if required:
            raise InputError(f"{field}: missing")
        return None
    code = text.upper()
    if not re.fullmatch(r"[A-Z]{2}", code) or code not in _territories():
        raise InputError(f"{field}: {text!r} is not an ISO 3166 country code like 'BR'")
    return code


@cache
def _territories() -> frozenset[str]:
    """ISO 3166 alpha-2 codes CLDR knows, without its groupings and private-use codes."""
    pseudo = {"EU", "EZ", "UN", "ZZ", "QO", "XA", "XB"}
    names = Locale("en").territories.keys()
    return frozenset(c for c in names if re.fullmatch(r"[A-Z]{2}", c) and c not in pseudo)


def _language(value: str | None) -> str | None:
    text = _optional(value, "buyer_language", limit=12)
    if text is None:
        return None
    try:
        locale = Locale.parse(text.replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise InputError(
            f"buyer_language: {text!r} is not a known language code like 'pt'"
        ) from exc
    return locale.language


def _email(value: str | None) -> str:
    text = _required(value, "buyer_email", limit=254)
    if not _EMAIL.match(text):
        raise InputError(f"buyer_email: {text!r} is not a valid email address")
    return text


def _shipped(value: str | None, now: datetime) -> datetime:
    text = _required(value, "shipped_date", limit=40)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"shipped_date: {text!r} is not a date like 2026-11-20 (or 2026-11-20T14:30:00+08:00)"
        ) from None
    if len(text) == 10:
        parsed = datetime.combine(parsed.date(), time(12, 0))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.date() < EARLIEST:
        raise InputError(f"shipped_date: {text!r} is before {EARLIEST.isoformat()}")
    if parsed > now + timedelta(days=1):
        raise InputError(f"shipped_date: {text!r} is in the future")
    return parsed.astimezone(UTC)


def _carrier(
    number: str, value: str | None, available: Collection[str], aggregator: str | None
) -> str:
    name = _optional(value, "carrier", limit=64)
    if name is None or name.lower() == "auto":
        validate_number(number)
        routed = route(number, available, aggregator)
        if routed is None:
            raise InputError(
                f"carrier: none given and none recognised for {number!r}; "
                "name the carrier or configure an aggregator"
            )
        return routed
    name = name.lower()
    if name not in available:
        raise InputError(
            f"carrier: {name!r} is not installed (known: {', '.join(sorted(available))})"
        )
    return name


def parse_order(
    row: Mapping[str, str | None],
    *,
    now: datetime,
    carriers: Collection[str],
    aggregator: str | None = None,
) -> NewShipment:
    """Validate one order; raises InputError naming the first bad field."""
    raw_number = _required(row.get("tracking_number"), "tracking_number", limit=64)
    number = re.sub(r"[\s-]", "", raw_number).upper()
    if not _TRACKING.match(number):
        raise InputError(f"tracking_number: {raw_number!r} must be 6 to 40 letters and digits")
    carrier = _carrier(number, row.get("carrier"), carriers, aggregator)
    number = validate_number(number, carrier)
    destination = _country(row.get("destination_country"), "destination_country", required=True)
    assert destination is not None
    return NewShipment(
        tracking_number=number,
        carrier=carrier,
        buyer_email=_email(row.get("buyer_email")),
        buyer_name=_required(row.get("buyer_name"), "buyer_name", limit=200),
        buyer_language=_language(row.get("buyer_language")),
        destination_country=destination,
        origin_country=_country(row.get("origin_country"), "origin_country", required=False),
        order_reference=_required(row.get("order_reference"), "order_reference", limit=100),
        shipped_at=_shipped(row.get("shipped_date"), now),
    )


def parse_csv(
    text: str, *, now: datetime, carriers: Collection[str], aggregator: str | None = None
) -> tuple[list[NewShipment], list[RowError], list[int]]:
    """Valid orders (with their line numbers) and every bad line of a CSV file with a header."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [f for f in FIELDS if f not in header and f not in OPTIONAL]
    if missing:
        raise InputError(f"CSV header: missing column(s) {', '.join(missing)}")
    unknown = [h for h in header if h not in FIELDS and h not in OPTIONAL]
    if unknown:
        raise InputError(f"CSV header: unknown column(s) {', '.join(unknown)}")
    good: list[NewShipment] = []
    lines: list[int] = []
    bad: list[RowError] = []
    seen: dict[tuple[str, str], int] = {}
    for row in reader:
        # the line the record starts on: line_num is where it ends, after any quoted line breaks
        line = reader.line_num - sum(v.count("\n") for v in row.values() if isinstance(v, str))
        try:
            if None in row:
                raise InputError("more fields than the header has")
            order = parse_order(
                {k.strip(): v for k, v in row.items()},
                now=now,
                carriers=carriers,
                aggregator=aggregator,
            )
        except InputError as exc:
            bad.append(RowError(line, str(exc)))
            continue
        key = (order.carrier, order.tracking_number)
        if key in seen:
            bad.append(
                RowError(
                    line, f"tracking_number: {order.tracking_number!r} repeats line {seen[key]}"
                )
            )
            continue
        seen[key] = line
        good.append(order)
        lines.append(line)
    return good, bad, lines
