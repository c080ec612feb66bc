"""The labelled development set: accuracy floor, and provenance of rows taken from recorded data."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tracker.model import RawEvent
from tracker.normalize import Normalizer, load_normalizer

DEVSET = Path(__file__).with_name("devset.jsonl")
WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DEVSET.read_text("utf-8").splitlines() if line.strip()]


def _predict(normalizer: Normalizer, row: dict[str, Any]) -> tuple[str, str | None]:
    raw = RawEvent(WHEN, row["text"], row["code"], country=row["country"], carrier=row["carrier"])
    result = normalizer.classify(raw)
    return result.status.value, result.detail.value if result.detail else None


def test_devset_rows_are_well_formed() -> None:
    rows = _rows()
    assert len(rows) >= 200
    for row in rows:
        assert {"carrier", "code", "text", "status", "detail", "origin", "source"} <= row.keys()
        assert row["text"] or row["code"], row


def test_devset_accuracy_meets_floor() -> None:
    normalizer = load_normalizer()
    rows = _rows()
    status_hits = detail_hits = 0
    misses = []
    for row in rows:
        status, detail = _predict(normalizer, row)
        status_ok = status == row["status"]
        status_hits += status_ok
        detail_ok = status_ok and detail == row["detail"]
        detail_hits += detail_ok
        if not detail_ok:
            misses.append(f"{row['carrier']} {row['code']} {row['text']!r}: {status}/{detail}")
    status_acc, detail_acc = status_hits / len(rows), detail_hits / len(rows)
    print(f"dev set: {len(rows)} rows, status {status_acc:.1%}, detail {detail_acc:.1%}")
    print("\n".join(f"MISS {m}" for m in misses))
    assert status_acc >= 0.97, misses
    assert detail_acc >= 0.90, misses


@pytest.mark.shared_data
def test_shared_rows_still_appear_in_recorded_responses(shared_data: Path) -> None:
    responses = shared_data / "carrier-responses"
    texts: dict[str, str] = {}
    for row in (r for r in _rows() if r["origin"] == "shared"):
        source = row["source"]
        if source not in texts:
            base = responses / source
            files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
            texts[source] = "\n".join(p.read_text("utf-8", errors="replace") for p in files)
        corpus = texts[source].replace("&amp;", "&")
        for part in row["text"].split(", ") if source.startswith("russian_post") else [row["text"]]:
            assert part in corpus, f"{part!r} not found under {source}"
