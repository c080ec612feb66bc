"""A carrier that only has a public tracking page, described entirely by a TOML file.

Sellers add such a carrier without code: the file gives the page URL (with ``{number}``), CSS
selectors for the event rows and, inside a row, for time, text, location, country and code; the
time format(s) and timezone; optional request headers and a charset override. Several files make
several carriers; each adapter instance reads the one named by ``settings.options["config"]``.
See ``config/webpages/`` for a working example.
"""

from __future__ import annotations

import codecs
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import soupsieve
from bs4 import BeautifulSoup, Tag

from carriers.base import CarrierAdapter, CarrierReply, CarrierSettings
from carriers.http import declared_charset, send_for_reply
from tracker.errors import ConfigError, ParseError
from tracker.model import RawEvent, TrackingResult

REQUIRED_SELECTORS = ("row", "time", "text")
OPTIONAL_SELECTORS = ("location", "country", "code", "detail")


@dataclass(frozen=True, slots=True)
class CountryInfo:
    """What a country cell's text means: ISO code and the zone its local times are in."""

    code: str | None = None
    timezone: tzinfo | None = None


@dataclass(frozen=True, slots=True)
class WebPageConfig:
    """A validated web-page carrier description."""

    path: Path
    name: str
    display_name: str
    url: str
    tracking_url: str | None
    selectors: Mapping[str, str]
    time_formats: tuple[str, ...]
    timezone: tzinfo
    headers: Mapping[str, str] = field(default_factory=dict)
    charset: str | None = None
    not_found_texts: tuple[str, ...] = ()
    countries: Mapping[str, CountryInfo] = field(default_factory=dict)


def load_config(path: str | Path) -> WebPageConfig:
    """Read and validate one web-page carrier file; every problem names the file and key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read web-page carrier config ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    return _validate(path, data)


def _validate(path: Path, data: Mapping[str, Any]) -> WebPageConfig:
    url = _string(path, data, "url")
    if "{number}" not in url:
        raise ConfigError(f"{path}: key 'url' must contain {{number}}")
    tracking_url = _string(path, data, "tracking_url", required=False) or url
    return WebPageConfig(
        path=path,
        name=_string(path, data, "name"),
        display_name=_string(path, data, "display_name", required=False) or data["name"],
        url=url,
        tracking_url=tracking_url,
        selectors=_selectors(path, data.get("selectors")),
        time_formats=_time_formats(path, data),
        timezone=_zone(path, "timezone", _string(path, data, "timezone")),
        headers=_string_table(path, data.get("headers", {}), "headers"),
        charset=_charset(path, data.get("charset")),
        not_found_texts=tuple(
            _string_list(path, data.get("not_found_texts", []), "not_found_texts")
        ),
        countries=_countries(path, data.get("countries", {})),
    )


def _string(path: Path, data: Mapping[str, Any], key: str, *, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}: key '{key}' must be a non-empty string")
    return value


def _string_list(path: Path, value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{path}: key '{key}' must be a string or a list of strings")
    return value


def _string_table(path: Path, value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f"{path}: key '{key}' must be a table of strings")
    return dict(value)


def _selectors(path: Path, value: Any) -> dict[str, str]:
    table = _string_table(path, value if value is not None else {}, "selectors")
    for key in REQUIRED_SELECTORS:
        if not table.get(key):
            raise ConfigError(f"{path}: key 'selectors.{key}' is required")
    for key, selector in table.items():
        if key not in REQUIRED_SELECTORS + OPTIONAL_SELECTORS:
            raise ConfigError(f"{path}: key 'selectors.{key}' is not a known selector")
        try:
            soupsieve.compile(selector)
        except soupsieve.SelectorSyntaxError as exc:
            raise ConfigError(f"{path}: key 'selectors.{key}' is not valid CSS ({exc})") from exc
    return table


def _time_formats(path: Path, data: Mapping[str, Any]) -> tuple[str, ...]:
    key = "time_formats" if "time_formats" in data else "time_format"
    formats = _string_list(path, data.get(key), key)
    if not formats:
        raise ConfigError(f"{path}: key '{key}' needs at least one strptime format")
    return tuple(formats)


def _zone(path: Path, key: str, name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{path}: key '{key}' is not an IANA timezone: {name!r}") from exc


def _charset(path: Path, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{path}: key 'charset' must be a string")
    try:
        codecs.lookup(value)
    except LookupError as exc:
        raise ConfigError(f"{path}: key 'charset' is not a known encoding: {value!r}") from exc
    return value


def _countries(path: Path, value: Any) -> dict[str, CountryInfo]:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: key 'countries' must be a table")
    countries = {}
    for label, info in value.items():
        key = f"countries.{label}"
        if not isinstance(info, dict):
            raise ConfigError(f"{path}: key '{key}' must be a table with code and/or timezone")
        code = info.get("code")
        if code is not None and not (isinstance(code, str) and len(code) == 2):
            raise ConfigError(f"{path}: key '{key}.code' must be an ISO 3166 alpha-2 code")
        zone = info.get("timezone")
        if zone is not None and not isinstance(zone, str):
            raise ConfigError(f"{path}: key '{key}.timezone' must be a string")
        countries[_norm(label)] = CountryInfo(
            code=code.upper() if code else None,
            timezone=_zone(path, f"{key}.timezone", zone) if zone else None,
        )
    return countries


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


class WebPageAdapter(CarrierAdapter):
    """Scrapes a public tracking page described by a TOML file (``options["config"]``).

    Limits are deliberately gentle: a public page is not an API and its owner did not agree to
    be polled.
    """

    name: ClassVar[str] = "webpage"
    display_name: ClassVar[str] = "Public tracking page"
    max_numbers_per_request: ClassVar[int] = 1
    requests_per_second: ClassVar[float] = 0.5
    max_concurrency: ClassVar[int] = 1

    def __init__(
        self, settings: CarrierSettings | None = None, *, config: WebPageConfig | None = None
    ) -> None:
        super().__init__(settings)
        if config is None:
            path = self.settings.options.get("config")
            if not path:
                raise ConfigError("webpage carrier: key 'options.config' (a TOML path) is missing")
            config = load_config(path)
        self.config = config

    def buyer_facing_name(self) -> str:
        """The name the page's config gives (e.g. "Cyprus Post"), not the generic class name."""
        return self.config.display_name

    def tracking_url(self, number: str) -> str | None:
        """The configured public page for ``number``."""
        template = self.config.tracking_url or self.config.url
        return template.replace("{number}", quote(number, safe=""))

    async def fetch(self, client: httpx.AsyncClient, numbers: Sequence[str]) -> CarrierReply:
        """GET the page for one number with the configured headers."""
        (number,) = numbers
        url = self.config.url.replace("{number}", quote(number, safe=""))
        request = client.build_request(
            "GET", url, headers=dict(self.config.headers), timeout=self.settings.timeout_seconds
        )
        return await send_for_reply(client, request, carrier=self.config.name, numbers=(number,))

    def parse(self, reply: CarrierReply) -> list[TrackingResult]:
        """Rows matched by the selectors become events, in page order."""
        number = reply.numbers[0] if reply.numbers else ""
        if reply.status_code == 404:
            return [TrackingResult(number, not_found=True)]
        return [parse_page(self.config, reply.body, reply.content_type, number)]


def parse_page(
    config: WebPageConfig, body: bytes, content_type: str = "", number: str = ""
) -> TrackingResult:
    """Pure parse of one saved or fetched page."""
    charset = config.charset or declared_charset(content_type)
    markup: str | bytes = body.decode(charset, errors="replace") if charset else body
    soup = BeautifulSoup(markup, "html.parser")
    page_text = _norm(soup.get_text(" "))
    if any(_norm(marker) in page_text for marker in config.not_found_texts):
        return TrackingResult(number, not_found=True)
    rows = soup.select(config.selectors["row"])
    events = tuple(e for row in rows if (e := _event(config, row, body)) is not None)
    if not events:
        selector = config.selectors["row"]
        raise ParseError(
            f"{config.name}: no event rows matched selectors.row {selector!r} ({config.path})",
            body=body,
            carrier=config.name,
        )
    return TrackingResult(number, events=events)


def _cell(config: WebPageConfig, row: Tag, key: str) -> str | None:
    selector = config.selectors.get(key)
    if not selector:
        return None
    found = row.select_one(selector)
    text = " ".join(found.get_text(" ").split()) if found is not None else ""
    return text or None


def _event(config: WebPageConfig, row: Tag, body: bytes) -> RawEvent | None:
    """One row → one event; rows without a time cell (headers, spacers) are skipped."""
    when = _cell(config, row, "time")
    if when is None:
        return None
    country_text = _cell(config, row, "country")
    country = config.countries.get(_norm(country_text or ""), CountryInfo())
    text = " – ".join(p for p in (_cell(config, row, "text"), _cell(config, row, "detail")) if p)
    return RawEvent(
        occurred_at=_time(config, when, country.timezone or config.timezone, body),
        text=text,
        code=_cell(config, row, "code"),
        location=_cell(config, row, "location"),
        country=country.code,
        carrier=config.name,
    )


def _time(config: WebPageConfig, text: str, zone: tzinfo, body: bytes) -> datetime:
    """The first format that fits; a format with %z keeps the page's own offset."""
    for fmt in config.time_formats:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
    raise ParseError(
        f"{config.name}: time {text!r} fits none of time_formats ({config.path})",
        body=body,
        carrier=config.name,
    )
