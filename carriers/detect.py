"""Which carrier a tracking number belongs to, from its shape and check digit.

Formats live in data (``carriers/formats/numbers.json``) so a seller can add one without code;
this module only knows the check-digit algorithms. ``detect`` ranks every format a number fits,
``validate_number`` rejects typos (a number shaped like a format but failing its check digit),
and ``route`` picks the adapter to poll, falling back to the configured aggregator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from tracker.errors import InputError

_ALPHABET_36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class Candidate:
    """One way to read a tracking number: who carries it, in which format, how likely."""

    carrier: str
    format: str
    score: float
    country: str | None = None
    courier: str = ""
    format_id: str = ""


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """One entry of ``numbers.json``, compiled."""

    id: str
    name: str
    courier: str
    carrier: str | None
    score: float
    strict: bool
    patterns: tuple[re.Pattern[str], ...]
    checksum: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class _Fit:
    """How a number fits one format: shape matched; ``check_ok`` None when there is no check."""

    fmt: NumberFormat
    check_ok: bool | None
    country: str | None


# --- check-digit algorithms (public specifications) -------------------------------------------


def _digit_value(char: str) -> int:
    """Digits are themselves; letters (UPS 1Z) map A=2, B=3, ... cycling through 0-9."""
    return int(char) if char.isdigit() else (ord(char) - 3) % 10


def mod10(serial: str, weights: Sequence[int] = (3, 1), *, reverse: bool = False) -> int:
    """Weighted sum, weights alternating from the left; check = (10 - sum mod 10) mod 10."""
    chars = serial[::-1] if reverse else serial
    total = sum(_digit_value(c) * weights[i % len(weights)] for i, c in enumerate(chars))
    return (10 - total % 10) % 10


def mod7(serial: str) -> int:
    """DHL Express: the serial read as a number, modulo 7."""
    return int(serial) % 7


def s10(serial: str) -> int:
    """UPU S10: weights 8,6,4,2,3,5,9,7; C = 11 - (S mod 11), with 10 -> 0 and 11 -> 5."""
    total = sum(int(d) * w for d, w in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
    check = 11 - total % 11
    return {10: 0, 11: 5}.get(check, check)


def weighted_mod11_mod10(serial: str, weights: Sequence[int]) -> int:
    """FedEx: sum of digit x weight, modulo 11, then modulo 10."""
    return sum(int(d) * w for d, w in zip(serial, weights, strict=True)) % 11 % 10


def luhn(serial: str) -> int:
    """Luhn: double every second digit from the right of the payload, sum digits, complement."""
    total = 0
    for i, char in enumerate(reversed(serial)):
        value = int(char) * (2 if i % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


def iso7064_mod37_36(serial: str) -> str:
    """ISO/IEC 7064 MOD 37,36 hybrid system (DPD parcel numbers); returns the check character."""
    product = 36
    for char in serial:
        total = (product + _ALPHABET_36.index(char)) % 36 or 36
        product = (total * 2) % 37
    return _ALPHABET_36[(37 - product) % 36]


def check_digit(serial: str, spec: Mapping[str, Any]) -> str:
    """The check character that ``spec`` (a numbers.json ``checksum``) expects for ``serial``."""
    prepend = spec.get("prepend", "")
    if prepend and not serial.startswith(prepend):
        serial = prepend + serial
    algorithms: dict[str, Callable[[str], int | str]] = {
        "mod10": lambda s: mod10(
            s, spec.get("alternating", (3, 1)), reverse=spec.get("reverse", False)
        ),
        "mod7": mod7,
        "s10": s10,
        "weighted_mod11_mod10": lambda s: weighted_mod11_mod10(s, spec["weights"]),
        "luhn": luhn,
        "iso7064_mod37_36": iso7064_mod37_36,
    }
    algorithm = algorithms.get(spec["algorithm"])
    if algorithm is None:
        raise ValueError(f"unknown check-digit algorithm {spec['algorithm']!r}")
    return str(algorithm(serial))


# --- format data --------------------------------------------------------------------------------


@cache
def _upu() -> tuple[frozenset[str], Mapping[str, str]]:
    data = json.loads(
        resources.files("carriers.formats").joinpath("upu_s10.json").read_text("utf-8")
    )
    return frozenset(data["countries"]), dict(data["operators"])


def _compile(entry: Mapping[str, Any]) -> NumberFormat:
    prefixes = entry.get("prefixes", [""])
    return NumberFormat(
        id=entry["id"],
        name=entry["name"],
        courier=entry["courier"],
        carrier=entry.get("carrier"),
        score=float(entry["score"]),
        strict=bool(entry.get("strict", False)),
        patterns=tuple(re.compile(f"(?:{prefix}){entry['regex']}") for prefix in prefixes),
        checksum=entry.get("checksum"),
    )


@cache
def formats() -> tuple[NumberFormat, ...]:
    """Every known format, in file order (earlier wins ties)."""
    text = resources.files("carriers.formats").joinpath("numbers.json").read_text("utf-8")
    return tuple(_compile(entry) for entry in json.loads(text)["formats"])


def normalize(number: str) -> str:
    """Drop whitespace and upper-case: how numbers are stored and matched."""
    return "".join(number.split()).upper()


# --- matching -----------------------------------------------------------------------------------


def _fit(fmt: NumberFormat, number: str) -> _Fit | None:
    """How ``number`` fits ``fmt`` (best reading across routing prefixes), or None."""
    best: _Fit | None = None
    for pattern in fmt.patterns:
        match = pattern.fullmatch(number)
        if match is None:
            continue
        groups = match.groupdict()
        country = groups.get("country")
        if country is not None and country not in _upu()[0]:
            continue
        ok: bool | None = None
        if fmt.checksum is not None:
            ok = check_digit(groups["serial"], fmt.checksum) == groups["check"]
        if best is None or (ok and not best.check_ok):
            best = _Fit(fmt, ok, country)
    return best


def _fits(number: str) -> list[_Fit]:
    compact = normalize(number)
    fits = [fit for fmt in formats() if (fit := _fit(fmt, compact)) is not None]
    if not fits and "-" in compact:
        fits = [
            fit for fmt in formats() if (fit := _fit(fmt, compact.replace("-", ""))) is not None
        ]
    return fits


def _carrier_of(fit: _Fit) -> str:
    if fit.fmt.carrier:
        return fit.fmt.carrier
    if fit.country is not None:
        return _upu()[1].get(fit.country, f"post_{fit.country.lower()}")
    return fit.fmt.courier


def detect(number: str) -> list[Candidate]:
    """Candidate carriers for ``number``, most likely first; empty when no format fits."""
    found = [
        Candidate(_carrier_of(f), f.fmt.name, f.fmt.score, f.country, f.fmt.courier, f.fmt.id)
        for f in _fits(number)
        if f.check_ok is not False
    ]
    order = {fmt.id: i for i, fmt in enumerate(formats())}
    return sorted(found, key=lambda c: (-c.score, order[c.format_id]))


def validate_number(number: str, carrier: str | None = None) -> str:
    """The normalized number, or InputError when it has a format's shape but a wrong check digit.

    With ``carrier`` only that carrier's formats are judged (a seller may override detection, so a
    number matching none of them is accepted). Without it only strict, distinctive formats
    (UPS 1Z, UPU S10, USPS IMpb) reject a number, and only when no other format accepts it.
    """
    compact = normalize(number)
    if not compact:
        raise InputError("tracking number is empty")
    fits = _fits(compact)
    if carrier is not None:
        fits = [f for f in fits if _carrier_of(f) == carrier or f.fmt.courier == carrier]
    elif any(f.check_ok is not False for f in fits):
        return compact
    else:
        fits = [f for f in fits if f.fmt.strict]
    if fits and all(f.check_ok is False for f in fits):
        names = ", ".join(f.fmt.name for f in fits)
        raise InputError(
            f"tracking number {compact!r} looks like {names} but its check digit is wrong"
        )
    return compact


def route(number: str, available: Collection[str], aggregator: str | None) -> str | None:
    """The adapter to poll ``number`` with: best detected carrier we have, else the aggregator."""
    for candidate in detect(number):
        if candidate.carrier in available:
            return candidate.carrier
    return aggregator
