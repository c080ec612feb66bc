"""Validating order input (``tracker add`` options, CSV rows) into shipments to store.

Every problem is an InputError that names the field and the value, so a seller can fix a CSV
line without guessing; nothing is stored unless the whole input is valid.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache

from babel import Locale, UnknownLocaleError

from carriers.detect import detect, route, validate_number
from tracker.addresses import MAX_ADDRESS, address_problem
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
    return None if text is None else _language_code(text)


@lru_cache(maxsize=1024)
def _language_code(text: str) -> str:
    """``pt-BR`` -> ``pt``; cached, since a file repeats a handful of languages many times."""
    try:
        locale = Locale.parse(text.replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise InputError(
            f"buyer_language: {text!r} is not a known language code like 'pt'"
        ) from exc
    return locale.language


def _email(value: str | None) -> str:
    text = _required(value, "buyer_email", limit=MAX_ADDRESS)
    problem = address_problem(text)
    if problem is not None:
        raise InputError(f"buyer_email: {text!r} is not a valid email address ({problem})")
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
        routed = route(number, available, aggregator if aggregator in available else None)
        if routed is None:
            raise InputError(_unroutable(number, available, aggregator))
        return routed
    name = name.lower()
    if name not in available:
        raise InputError(
            f"carrier: {name!r} is not configured (configured: "
            f"{', '.join(sorted(available)) or 'none'}); add a [carriers.{name}] table"
        )
    return name


def _unroutable(number: str, available: Collection[str], aggregator: str | None) -> str:
    """Why an ``auto`` number has nowhere to go, naming what detection saw and what to set."""
    seen = sorted({c.carrier for c in detect(number)})
    looks = f"looks like {' or '.join(seen)}" if seen else "matches no known format"
    if aggregator is not None:
        fallback = f"[routing] aggregator {aggregator!r} has no [carriers.{aggregator}] table"
    else:
        fallback = "no [routing] aggregator is set"
    tables = " or ".join(f"[carriers.{c}]" for c in seen) or "a [carriers.NAME] table"
    return (
        f"carrier: {number!r} {looks}, which is not configured, and {fallback}; add {tables}, "
        "set an aggregator, or name the carrier"
    )


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


class CsvLines:
    """The lines of a CSV file, decoded one by one and counted, so that every record and every
    problem names the line it is on (the csv module itself only knows where a record ends)."""

    def __init__(self, raw_lines: Iterable[bytes]) -> None:
        self._raw = raw_lines
        #: lines handed to the csv reader so far
        self.count = 0
        #: bytes handed so far (for a progress bar over the file's size)
        self.bytes = 0

    def __iter__(self) -> Iterator[str]:
        for raw in self._raw:
            self.count += 1
            self.bytes += len(raw)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"line {self.count}: not UTF-8 text ({exc.reason} at byte {exc.start + 1}"
                    " of the line)"
                ) from None
            yield line.removeprefix("\ufeff") if self.count == 1 else line


def _records(lines: CsvLines) -> Iterator[tuple[int, list[str]]]:
    """(first line, fields) of every non-blank record; a malformed one is an InputError naming
    the line the record starts on."""
    reader = csv.reader(lines, strict=True)
    while True:
        first = lines.count + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problem = _csv_problem(str(exc), spans_lines=lines.count > first)
            raise InputError(f"line {first}: {problem}") from None
        if fields:
            yield first, fields


def _csv_problem(error: str, *, spans_lines: bool) -> str:
    """The csv module's complaint, said so a seller knows what to fix."""
    unclosed = "a quote opened on this line is never closed"
    if "field larger than field limit" in error:
        limit = f"{csv.field_size_limit():,}"
        if spans_lines:
            return f"a field runs on past {limit} characters: {unclosed}"
        return f"a field is longer than {limit} characters"
    if "unexpected end of data" in error:
        return f"{unclosed} (the file ends inside it)"
    if "expected after" in error:
        return 'text follows a closing quote; inside a quoted field write a quote as two ("")'
    return f"not valid CSV ({error})"


def _header(records: Iterator[tuple[int, list[str]]]) -> list[str]:
    first = next(records, None)
    header = [name.strip() for name in first[1]] if first is not None else []
    for index, name in enumerate(header):
        if name in header[:index]:
            raise InputError(
                f"CSV header: column {name!r} appears twice (columns"
                f" {header.index(name) + 1} and {index + 1}); which one holds the value?"
            )
    missing = [f for f in FIELDS if f not in header and f not in OPTIONAL]
    if missing:
        raise InputError(f"CSV header: missing column(s) {', '.join(missing)}")
    unknown = [h for h in header if h not in FIELDS and h not in OPTIONAL]
    if unknown:
        raise InputError(f"CSV header: unknown column(s) {', '.join(unknown)}")
    return header


def check_csv(lines: CsvLines) -> int:
    """Read the whole file once for its structure (header, quoting, field sizes, encoding),
    storing nothing; the number of records after the header. Cheap next to validating rows,
    and it means a malformed file is refused before any of it is imported."""
    records = _records(lines)
    _header(records)
    return sum(1 for _ in records)


def read_orders(
    lines: CsvLines,
    *,
    now: datetime,
    carriers: Collection[str],
    aggregator: str | None = None,
) -> Iterator[tuple[int, NewShipment | RowError]]:
    """Each record of a CSV file with a header, in order, as an order or as the reason its line
    is refused (a bad field, a repeated number); streamed, so a file of any length fits."""
    records = _records(lines)
    header = _header(records)
    seen: dict[tuple[str, str], int] = {}
    for line, fields in records:
        try:
            if len(fields) > len(header):
                raise InputError("more fields than the header has")
            order = parse_order(
                dict(zip(header, fields, strict=False)),
                now=now,
                carriers=carriers,
                aggregator=aggregator,
            )
        except InputError as exc:
            yield line, RowError(line, str(exc))
            continue
        key = (order.carrier, order.tracking_number)
        if key in seen:
            repeat = f"tracking_number: {order.tracking_number!r} repeats line {seen[key]}"
            yield line, RowError(line, repeat)
            continue
        seen[key] = line
        yield line, order
