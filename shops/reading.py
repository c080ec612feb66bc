"""Small readers for shop JSON: bodies, optional strings and timestamps, with errors that name
the shop and the field instead of a bare KeyError."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from shops.base import ShopError


def json_object(body: bytes, where: str) -> dict[str, Any]:
    """The body as a JSON object; ShopError naming ``where`` otherwise."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ShopError(f"{where}: body is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ShopError(f"{where}: body is JSON but not an object")
    return data


def text(value: Any) -> str | None:
    """A non-empty stripped string (numbers become their decimal text), else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    return stripped or None


def required(data: dict[str, Any], key: str, where: str) -> str:
    """``data[key]`` as text; ShopError naming the field when missing or empty."""
    value = text(data.get(key))
    if value is None:
        raise ShopError(f"{where}: field {key!r} is missing or empty")
    return value


def timestamp(value: Any) -> datetime | None:
    """An ISO 8601 timestamp (``Z`` allowed) as an aware datetime; None when absent or unreadable
    (a shop's timestamp only refines the shipped date, it never rejects an order)."""
    raw = text(value)
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def objects(value: Any) -> list[dict[str, Any]]:
    """The JSON objects in a list (anything else in it is skipped); [] when not a list."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def full_name(*parts: Any) -> str | None:
    """Non-empty parts joined by a space, or None."""
    words = [t for p in parts if (t := text(p))]
    return " ".join(words) or None
