"""RawEvent builds itself without the dataclass's generated __init__: it must still behave as the
frozen dataclass it is (tests/core/test_stored_text.py checks the control-character cleaning)."""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tracker.model import RawEvent

WHEN = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_positional_keyword_and_default_arguments() -> None:
    full = RawEvent(WHEN, "Delivered", "01", "Lyon", "FR", "laposte")
    named = RawEvent(
        occurred_at=WHEN, text="Delivered", code="01", location="Lyon", country="FR",
        carrier="laposte",
    )  # fmt: skip
    assert full == named
    assert (full.occurred_at, full.text, full.code, full.location, full.country, full.carrier) == (
        WHEN, "Delivered", "01", "Lyon", "FR", "laposte",
    )  # fmt: skip
    bare = RawEvent(WHEN, "Delivered")
    assert (bare.code, bare.location, bare.country, bare.carrier) == (None, None, None, None)
    with pytest.raises(TypeError):
        RawEvent(WHEN)  # type: ignore[call-arg]


def test_frozen_hashable_and_compared_by_value() -> None:
    event = RawEvent(WHEN, "Delivered", code="01")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.text = "Lost"  # type: ignore[misc]
    same = RawEvent(WHEN, "Delivered", code="01")
    assert event == same
    assert hash(event) == hash(same)
    assert event != RawEvent(WHEN, "Delivered", code="02")
    assert len({event, same}) == 1
    assert not hasattr(event, "__dict__")


def test_dataclass_tools_still_apply() -> None:
    event = RawEvent(WHEN, "Delivered", country="FR")
    names = [field.name for field in dataclasses.fields(RawEvent)]
    assert names == ["occurred_at", "text", "code", "location", "country", "carrier"]
    changed = dataclasses.replace(event, text="Held\x00 by customs")
    assert changed.text == "Held by customs"  # replace builds through __init__: cleaned too
    assert changed.country == "FR"
    assert pickle.loads(pickle.dumps(event)) == event
    assert repr(event).startswith("RawEvent(occurred_at=")


def test_only_the_carrier_text_fields_are_cleaned() -> None:
    event = RawEvent(
        WHEN, "A\x00B", code="C\x00", location="L\x00", country="F\x00R", carrier="x\x00"
    )
    assert (event.text, event.code, event.location, event.country) == ("AB", "C", "L", "FR")
    assert event.carrier == "x\x00"  # a registry name from our own code, never carrier text


def _fingerprint_as_first_written(raw: RawEvent) -> str:
    """The fingerprint's straightforward reading (stored fingerprints were made this way)."""
    parts = (
        raw.occurred_at.isoformat(),
        raw.code or "",
        " ".join(raw.text.split()).casefold(),
        (raw.location or "").casefold(),
    )
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


@pytest.mark.parametrize(
    "raw",
    [
        RawEvent(WHEN, "Arrived at facility", "EX", "LOS ANGELES CA", "US"),
        RawEvent(WHEN, "  Zugestellt \t an  den   Nachbarn ", None, None),
        RawEvent(WHEN.replace(microsecond=1200), "STRASSE", "", "Straße Süd"),
        RawEvent(datetime(2026, 7, 4, 2, 5, 7, tzinfo=timezone(timedelta(hours=-7))), "Доставлено"),
        RawEvent(WHEN, "text\x1fwith a separator", "A.1", "İstanbul"),
    ],
)
def test_fingerprint_is_the_stored_one(raw: RawEvent) -> None:
    assert raw.fingerprint() == _fingerprint_as_first_written(raw)
    assert raw.fingerprint() == raw.fingerprint()  # the shared empty state is never changed


def test_fingerprint_pinned() -> None:
    raw = RawEvent(WHEN, "Arrived  at facility", "EX", "Los Angeles CA", "US")
    assert (
        raw.fingerprint()
        == hashlib.blake2b(
            b"2026-03-01T09:30:00+00:00\x1fEX\x1farrived at facility\x1flos angeles ca",
            digest_size=16,
        ).hexdigest()
    )
