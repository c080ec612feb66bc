"""Classification cost against ``json.loads`` of the same events, measured side by side in one run.

Run: ``.venv/bin/python bench/classify.py [N]``. Two workloads, each decoded and classified in
alternating rounds (the best round of each counts, on CPU time, so a busy machine skews neither):

* **repeated wording**: the wording of a few real events recurs (as across real parcels) while
  location and time differ; the normalizer's memo of (carrier, code, text, country) applies.
* **cold**: every event's text is new — a real phrase from the dev set, the labelled corpus or
  below (about 1,600 distinct wordings in 12 languages), with a place,
  a date or a courier name embedded as carriers do — and the memo is turned off (``cache_size=0``),
  so every event pays for the full phrase matching.

Each prints two ratios: ``classify`` (``Normalizer.classify`` on ready ``RawEvent`` objects, what
the issue's target is about) and ``RawEvent+classify`` (also building the event from the decoded
object, ``datetime.fromisoformat`` included).
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from tracker.model import RawEvent
from tracker.normalize import Normalizer, load_normalizer

TESTS = Path(__file__).resolve().parents[1] / "tests" / "normalize"
DEVSET = TESTS / "devset.jsonl"
#: about 1,570 real texts in 12 languages (tests/normalize/corpus/SOURCES.md)
CORPUS = TESTS / "corpus" / "corpus.jsonl"
ROUNDS = 5

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

PLACES = [
    "MOSCOW", "São Paulo", "Kraków", "Zürich", "LYON CEDEX 08", "Москва 101000",
    "Ekaterinburg", "Curitiba / PR", "Łódź", "Utrecht", "Milano", "Sevilla", "Köln",
]  # fmt: skip
CITIES_ZH = ["广州市", "深圳市", "上海", "义乌", "北京"]
COURIERS = ["Jan K.", "Maria S.", "李四", "Иванов И.", "J. Smith"]


def _wording() -> list[tuple[str | None, str | None, str, str | None]]:
    """(carrier, code, text, country): the list above, every dev-set and corpus row with text."""
    rows: list[tuple[str | None, str | None, str, str | None]]
    rows = [(c, code, text, None) for c, code, text in WORDING]
    for path in (DEVSET, CORPUS):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if row["text"]:
                    rows.append((row["carrier"], row["code"], row["text"], row.get("country")))
    return rows


def _unique_text(text: str, i: int, rng: random.Random) -> str:
    """``text`` with a place, date, number or courier embedded the way carriers do it."""
    if any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return f"【{rng.choice(CITIES_ZH)}{i}】{text}，投递员：{rng.choice(COURIERS)}"
    day = datetime(2024, 1, 1) + timedelta(minutes=17 * i)
    return rng.choice(
        [
            f"{text}, {rng.choice(PLACES)} {10000 + i}",
            f"{text} - {rng.choice(PLACES)} ({day:%d/%m/%Y %H:%M})",
            f"{rng.choice(PLACES)} {i}: {text}",
            f"{text} [{rng.choice(COURIERS)}, route {i}]",
        ]
    )


def build_lines(n: int, *, cold: bool, seed: int = 7) -> list[str]:
    """``n`` JSON lines; every event differs by location and time, cold ones by text too."""
    rng = random.Random(seed)
    wording = _wording() if cold else [(c, code, t, None) for c, code, t in WORDING]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    lines = []
    for i in range(n):
        carrier, code, text, country = rng.choice(wording)
        event = {
            "carrier": carrier,
            "code": code,
            "text": _unique_text(text, i, rng) if cold else text,
            "location": f"Office {rng.randint(1, 5000)}",
            "country": country or rng.choice(["CN", "RU", "BR", "DE", "FR", "US", None]),
            "occurred_at": (start + timedelta(minutes=i)).isoformat(),
        }
        lines.append(json.dumps(event, ensure_ascii=False))
    if cold:
        assert len({json.loads(line)["text"] for line in lines}) == n, "cold texts must be unique"
    return lines


def _raw(obj: dict[str, Any]) -> RawEvent:
    return RawEvent(
        datetime.fromisoformat(obj["occurred_at"]),
        obj["text"],
        obj["code"],
        obj["location"],
        obj["country"],
        obj["carrier"],
    )


def _classify(normalizer: Normalizer, raws: list[RawEvent]) -> None:
    for raw in raws:
        normalizer.classify(raw)


def _build_and_classify(normalizer: Normalizer, objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        normalizer.classify(_raw(obj))


def _cpu(action: Callable[[], object]) -> float:
    t0 = time.process_time()
    action()
    return time.process_time() - t0


def measure(lines: list[str], make: Callable[[], Normalizer]) -> dict[str, float]:
    """Best-of-rounds CPU seconds per event for decoding, classifying, and building+classifying.

    Every round gets a fresh normalizer, so with the memo on only wording repeated within the
    round is served from it, never wording remembered from an earlier round.
    """
    objects = [json.loads(line) for line in lines]
    raws = [_raw(obj) for obj in objects]
    best = {"json.loads": float("inf"), "classify": float("inf"), "RawEvent+classify": float("inf")}
    for _ in range(ROUNDS):
        best["json.loads"] = min(best["json.loads"], _cpu(lambda: [json.loads(x) for x in lines]))
        best["classify"] = min(best["classify"], _cpu(partial(_classify, make(), raws)))
        best["RawEvent+classify"] = min(
            best["RawEvent+classify"], _cpu(partial(_build_and_classify, make(), objects))
        )
    return {name: seconds / len(lines) for name, seconds in best.items()}


def report(title: str, per_event: dict[str, float]) -> None:
    """Print the per-event costs and both ratios against json.loads."""
    decode = per_event["json.loads"]
    print(f"{title}")
    print(f"  json.loads:        {decode * 1e6:6.2f} us/event")
    for name in ("classify", "RawEvent+classify"):
        cost = per_event[name]
        print(f"  {name + ':':18} {cost * 1e6:6.2f} us/event  ratio {cost / decode:5.2f}")


def main() -> None:
    """Both workloads, each with both ratios; the target is a classify ratio <= 2.0."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    print(f"events per round: {n}, best of {ROUNDS} rounds, CPU time; target ratio <= 2.0")
    report("repeated wording (memo on)", measure(build_lines(n, cold=False), load_normalizer))
    report(
        "cold: every text unique (memo off)",
        measure(build_lines(n, cold=True), lambda: load_normalizer(cache_size=0)),
    )


if __name__ == "__main__":
    main()
