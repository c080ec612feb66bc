"""Classification throughput against ``json.loads`` of the same events, measured in one run.

Run: ``.venv/bin/python bench/classify.py [N]``. Events mix carriers, codes and languages, with a
unique location and time per event (wording repeats, as it does across real parcels).
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta

from tracker.model import RawEvent
from tracker.normalize import load_normalizer

WORDING = [
    ("sandbox", "EMA", "Item accepted at post office"),
    ("sandbox", "EME", "Held by customs: documents required"),
    ("sandbox", None, "Item is being returned to sender"),
    ("usps", "OF", "Out for Delivery"),
    ("usps", "01", "Delivered, In/At Mailbox"),
    ("ups", "I", "DESTINATION SCAN"),
    ("fedex", "AR", "At local FedEx facility"),
    ("russian_post", "8.2", "Прибыло в место вручения"),
    ("russian_post", None, "Покинуло сортировочный центр"),
    ("correios", "BDE.01", "Objeto entregue ao destinatário"),
    ("correios", None, "Objeto encaminhado de Unidade de Tratamento para Unidade de Distribuição"),
    ("china_post", None, "【广州市】已收寄，揽投员：李四"),
    ("laposte", None, "Votre colis est en cours d'acheminement."),
    ("dhl_de", None, "Die Sendung wurde im Start-Paketzentrum bearbeitet."),
    ("poste_italiane", None, "In consegna"),
    ("inpost", None, "Przesyłka gotowa do odbioru w paczkomacie"),
    ("postnl", None, "Zending is gesorteerd"),
    ("correos", None, "En tránsito"),
    ("unknown", None, "Shipment information received"),
    ("unknown", None, "Something nobody has a rule for"),
]


def build_lines(n: int, seed: int = 7) -> list[str]:
    """``n`` JSON lines; every event differs by location and time."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    lines = []
    for i in range(n):
        carrier, code, text = rng.choice(WORDING)
        event = {
            "carrier": carrier,
            "code": code,
            "text": text,
            "location": f"Office {rng.randint(1, 5000)}",
            "country": rng.choice(["CN", "RU", "BR", "DE", "FR", "US", None]),
            "occurred_at": (start + timedelta(minutes=i)).isoformat(),
        }
        lines.append(json.dumps(event, ensure_ascii=False))
    return lines


def main() -> None:
    """Time decoding, then classifying the decoded objects, and print both with their ratio."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    lines = build_lines(n)
    normalizer = load_normalizer()

    t0 = time.perf_counter()
    objects = [json.loads(line) for line in lines]
    decode = time.perf_counter() - t0

    t0 = time.perf_counter()
    for obj in objects:
        raw = RawEvent(
            datetime.fromisoformat(obj["occurred_at"]),
            obj["text"],
            obj["code"],
            obj["location"],
            obj["country"],
            obj["carrier"],
        )
        normalizer.classify(raw)
    classify = time.perf_counter() - t0

    print(f"events:            {n}")
    print(f"json.loads:        {decode:.3f}s  ({decode / n * 1e6:.2f} us/event)")
    print(f"RawEvent+classify: {classify:.3f}s  ({classify / n * 1e6:.2f} us/event)")
    print(f"ratio classify/json.loads: {classify / decode:.2f} (target <= 2.0)")
    _cold(objects[:5000], decode / n)


def _cold(objects: list[dict[str, str | None]], decode_per_event: float) -> None:
    """Worst case, for honesty: every event's wording is new, so the memo never helps."""
    normalizer = load_normalizer()
    t0 = time.perf_counter()
    for i, obj in enumerate(objects):
        text = f"{obj['text']} #{i}"  # unique wording defeats the cache
        normalizer.classify(
            RawEvent(datetime.now(UTC), text, obj["code"], None, None, obj["carrier"])
        )
    per_event = (time.perf_counter() - t0) / len(objects)
    ratio = per_event / decode_per_event
    print(f"uncached (all-new wording): {per_event * 1e6:.2f} us/event, ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
