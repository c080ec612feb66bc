"""What the aggregator adapters (17TRACK, AfterShip, TrackingMore, Ship24) share, as pure helpers.

Each aggregator names couriers its own way. A data table beside the adapter
(``<module>_couriers.toml``) maps our carrier names (those detection and config use: ``usps``,
``china_post``, ``correios`` ...) onto the aggregator's courier code, with the name buyers know
the courier by. The adapter sends the code when it creates a tracking, so the aggregator does not
have to guess, and shows buyers the courier that holds the parcel, never the aggregator's name.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.core import get_global

from carriers.base import ParcelInfo
from carriers.detect import detect
from tracker.errors import ConfigError

#: retired ISO 3166 alpha-3 codes CLDR still aliases (Burma, Zaire, GDR, ...): never sent
_RETIRED_ALPHA3 = frozenset({"BUR", "ZAR", "DDR", "FXX", "TMP", "YMD"})


@dataclass(frozen=True, slots=True)
class Courier:
    """One courier as an aggregator knows it."""

    ours: str
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class CourierTable:
    """Our carrier names -> the aggregator's courier, and its codes -> names buyers know."""

    by_ours: Mapping[str, Courier]
    by_code: Mapping[str, Courier]

    def code_for(self, parcel: ParcelInfo, override: str | None = None) -> str | None:
        """The courier code to create ``parcel``'s tracking with: the configured ``override``,
        else the table entry of the carrier the shipment names, else of the best detection."""
        if override:
            return override
        names = [parcel.carrier, *(c.carrier for c in detect(parcel.tracking_number))]
        for name in names:
            if name in self.by_ours:
                return self.by_ours[name].code
        return None

    def name_of(self, code: str | int | None) -> str | None:
        """The name buyers know the courier with ``code`` by (the code itself when unlisted)."""
        if code is None or code == "":
            return None
        found = self.by_code.get(str(code).casefold())
        return found.name if found is not None else str(code)


@cache
def courier_table(path: Path) -> CourierTable:
    """Read a ``[couriers.OURNAME] code = ..., name = ...`` table; ConfigError names the file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the courier table ({exc})") from exc
    couriers: list[Courier] = []
    for ours, entry in (data.get("couriers") or {}).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("code"), str | int):
            raise ConfigError(f"{path}: couriers.{ours} needs a code (and a name)")
        code = str(entry["code"])
        couriers.append(Courier(ours, code, str(entry.get("name") or code)))
    return CourierTable(
        by_ours={c.ours: c for c in couriers},
        by_code={c.code.casefold(): c for c in couriers},
    )


def table_beside(module_file: str) -> CourierTable:
    """The courier table shipped beside an adapter module (``x.py`` -> ``x_couriers.toml``)."""
    source = Path(module_file)
    return courier_table(source.with_name(f"{source.stem}_couriers.toml"))


@cache
def _alpha3_to_2() -> dict[str, str]:
    aliases: Mapping[str, list[str]] = get_global("territory_aliases")
    return {
        code: targets[0]
        for code, targets in aliases.items()
        if len(code) == 3 and code.isalpha() and len(targets) == 1 and code not in _RETIRED_ALPHA3
    }


@cache
def _alpha2_to_3() -> dict[str, str]:
    return {two: three for three, two in _alpha3_to_2().items()}


def alpha2(country: str | None) -> str | None:
    """An ISO 3166 alpha-2 code from alpha-2 or alpha-3 input; None when unknown."""
    if not country:
        return None
    code = country.strip().upper()
    if len(code) == 2 and code.isalpha():
        return code
    return _alpha3_to_2().get(code)


def alpha3(country: str | None) -> str | None:
    """The ISO 3166 alpha-3 code of an alpha-2 one (AfterShip's country fields)."""
    return _alpha2_to_3().get((country or "").strip().upper())
