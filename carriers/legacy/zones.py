"""Time zones for carrier times written in local time without an offset."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, tzinfo
from functools import cache
from zoneinfo import ZoneInfo

from babel import Locale

from carriers.http import zone_for_country

#: the zone most of a US state or territory keeps (a few states straddle two)
_US_STATES: dict[str, Sequence[str]] = {
    "America/New_York": (
        [
            "CT",
            "DC",
            "DE",
            "FL",
            "GA",
            "IN",
            "KY",
            "MA",
            "MD",
            "ME",
            "MI",
            "NC",
            "NH",
            "NJ",
            "NY",
            "OH",
            "PA",
            "RI",
            "SC",
            "VA",
            "VT",
            "WV",
        ]
    ),
    "America/Chicago": [
        "AL",
        "AR",
        "IA",
        "IL",
        "KS",
        "LA",
        "MN",
        "MO",
        "MS",
        "ND",
        "NE",
        "OK",
        "SD",
        "TN",
        "TX",
        "WI",
    ],
    "America/Denver": ["CO", "MT", "NM", "UT", "WY", "ID"],
    "America/Phoenix": ("AZ",),
    "America/Los_Angeles": ["CA", "NV", "OR", "WA"],
    "America/Anchorage": ("AK",),
    "Pacific/Honolulu": ("HI",),
    "America/Puerto_Rico": ("PR", "VI"),
    "Pacific/Guam": ("GU", "MP"),
}
US_STATE_ZONES: dict[str, str] = {s: zone for zone, states in _US_STATES.items() for s in states}
#: the main zone of countries with several, for carriers that only name the country
MAIN_ZONES = {
    "DE": "Europe/Berlin",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "CN": "Asia/Shanghai",
    "NL": "Europe/Amsterdam",
}


def local_zone(country: str | None, state: str | None = None) -> tzinfo:
    """Zone for a US state, else a single-zone (or main-zone) country, else UTC."""
    if state and (country or "US").upper() == "US" and state.upper() in US_STATE_ZONES:
        return ZoneInfo(US_STATE_ZONES[state.upper()])
    code = (country or "").upper()
    if code in MAIN_ZONES:
        return ZoneInfo(MAIN_ZONES[code])
    return zone_for_country(code) or UTC


@cache
def _country_names() -> dict[str, str]:
    names = {
        name.upper(): code for code, name in Locale("en").territories.items() if len(code) == 2
    }
    names.update({"HONG KONG": "HK", "MACAU": "MO", "USA": "US", "UNITED STATES": "US"})
    names.update({"UK": "GB", "GREAT BRITAIN": "GB", "RUSSIA": "RU", "KOREA": "KR"})
    return names


def country_code(text: str | None) -> str | None:
    """ISO alpha-2 for an English country name ("Spain", "CANADA") or a code already; else None."""
    value = " ".join((text or "").split()).upper()
    if len(value) == 2 and value.isalpha():
        return value
    return _country_names().get(value)
