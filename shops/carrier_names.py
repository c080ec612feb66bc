"""Carrier names across systems, from data files sellers can extend: a shop's label for a
carrier to our adapter name, and our adapter name to PayPal's carrier code."""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib import resources

from tracker.errors import ConfigError

OTHER = "OTHER"


@cache
def _table(file: str, section: str) -> dict[str, str]:
    path = resources.files("shops").joinpath("data", file)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"shops/data/{file}: not valid TOML ({exc})") from exc
    table = data.get(section)
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise ConfigError(f"shops/data/{file}: [{section}] must map names to strings")
    return {str(k): str(v) for k, v in table.items()}


def _key(label: str) -> str:
    return re.sub(r"[\s.\-_]+", " ", label).strip().lower()


@cache
def _labels() -> dict[str, str]:
    return {_key(k): v for k, v in _table("carrier_labels.toml", "labels").items()}


def carrier_for_label(label: str | None) -> str | None:
    """Our carrier for a shop's carrier label; None when unknown (number detection decides)."""
    if not label:
        return None
    return _labels().get(_key(label))


def paypal_carrier(carrier: str | None, label: str | None) -> tuple[str, str | None]:
    """PayPal's carrier code and, for ``OTHER``, the carrier's name to send with it."""
    code = _table("paypal_carriers.toml", "carriers").get(carrier or "")
    if code is not None:
        return code, None
    return OTHER, (label or carrier or "unknown")[:64]
