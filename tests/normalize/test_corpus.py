"""The labelled corpus of real carrier wording: well formed, traceable to its sources, and the
accuracy floor the built-in rules keep on it (see tests/normalize/corpus/SOURCES.md)."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tracker.model import Detail, Status
from tracker.normalize import VALID_DETAILS, load_normalizer
from tracker.normalize.evaluate import evaluate, read_labelled

CORPUS = Path(__file__).parent / "corpus" / "corpus.jsonl"
KINDS = {"recorded response", "published code list", "aggregator status list"}


def _rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text("utf-8").splitlines() if line.strip()]


def test_every_row_is_labelled_and_names_its_source() -> None:
    rows = _rows()
    seen: set[tuple[str, str]] = set()
    for row in rows:
        assert row["text"].strip(), row
        assert all(row[name] for name in ("carrier", "lang", "source")), row
        assert row["kind"] in KINDS, row
        assert row.get("split", "A") in SPLIT_FLOORS, row
        status = Status(row["status"])
        if row["detail"] is not None:
            assert status in VALID_DETAILS[Detail(row["detail"])], row
        key = (row["carrier"], row["text"].casefold())
        assert key not in seen, f"duplicate row {key}"
        seen.add(key)


def test_corpus_breadth() -> None:
    rows = _rows()
    assert len(rows) >= 1500
    assert len({row["carrier"] for row in rows}) >= 30
    languages = Counter(row["lang"] for row in rows)
    assert len(languages) >= 12, languages
    assert {"uk", "ja", "ko"} <= languages.keys()


#: floors of the sources added in issue 17's fourth round and after, by split: A was read to write
#: rules from, B was held back and measured once, after them (SOURCES.md); each keeps its own floor
#: so that the floor of the rows before them stays what it was. PostNL: A, B; Total Express
#: (Portuguese): ptA, ptB; Kdniao (Chinese): zhA, zhB; CDEK (Russian): cdek-A, cdek-B; the sixth
#: round's French (La Poste's API, Mondial Relay), Spanish (Mondial Relay, Correos Express,
#: Envialia), Italian (BRT, Poste Italiane) and CTT (Portuguese): fr-A/B, es-A/B, it-A/B, pt-A/B;
#: Correos (Spain): es-correos-A/B;
#: Boxberry, PEC and FsDelivery (Russian): ru-A, ru-B; Nova Poshta and Ukrposhta: uk-A, uk-B;
#: Justin: uk2-A, uk2-B; InPost: pl-A, pl-B; DPD, DHL, FedEx, Geis and ORLEN Paczka in Poland:
#: pl2-A, pl2-B; Austrian Post and GLS (German): de-A, de-B; Korean, Japanese and Chinese
#: carriers: ko-A, ko-B, ja-A, ja-B, zh2-A, zh2-B; zh3-A, zh3-B (six Chinese couriers' scan names);
#: the sixth round's English sources (USPS codes, Cainiao, NZ Post...): en-A, en-B; Aras and Yurtiçi
#: (Turkish): tr-A, tr-B; the English second batch (Purolator, Aramex, DHL Global Mail, UPS...):
#: en2-A, en2-B; GLS Netherlands (Dutch): nl-A, nl-B; Belpost and Evropochta (Belarus, Russian):
#: ru2-A, ru2-B; GLS Italy and Poste Italiane (ha-poste-italiane): it2-A, it2-B; CTT in ha-ctt
#: (Portuguese): pt2-A, pt2-B; Kazpost (Russian): ru3-A, ru3-B; Estafeta, Correo Argentino and
#: Andreani (Spanish): es7-A, es7-B; TrackingMore's Italian page: it7-A, it7-B;
#: the seventh round's DPD Russia and Yandex Delivery (Russian): ru7-A, ru7-B; Poczta Polska:
#: pl7-A, pl7-B; PTT and MNG (Turkish): tr7-A, tr7-B; Ampère and Dynalogic (Dutch): nl7-A, nl7-B;
#: Swiss Post and Planzer (German): de7-A, de7-B;
#: Kolay Gelsin (Turkish): tr7b-A, tr7b-B; In Time (Ukrainian): uk7-A, uk7-B; Mandaê, Jadlog,
#: Intelipost and TNT Brasil (Portuguese, vnda-tracker): pt7-A, pt7-B
SPLIT_FLOORS = {
    "A": (0.91, 0.83),
    "B": (0.71, 0.63),
    "ptA": (0.96, 0.96),
    "ptB": (0.75, 0.72),
    "zhA": (1.0, 1.0),
    "zhB": (0.6, 0.6),
    "cdek-A": (1.0, 1.0),
    "cdek-B": (0.80, 0.76),
    "fr-A": (1.0, 1.0),
    "fr-B": (0.75, 0.75),
    "es-A": (1.0, 1.0),
    "es-B": (0.5, 0.41),
    "it-A": (0.95, 0.95),
    "it-B": (0.52, 0.47),
    "pt-A": (1.0, 1.0),
    "pt-B": (0.8, 0.8),
    "es-correos-A": (1.0, 1.0),
    "es-correos-B": (0.83, 0.83),
    "ru-A": (1.0, 1.0),
    "ru-B": (0.7, 0.7),
    "uk-A": (0.93, 0.93),
    "uk-B": (0.5, 0.42),
    "pl-A": (1.0, 1.0),
    "pl-B": (0.63, 0.63),
    "pl2-A": (1.0, 1.0),
    "pl2-B": (0.44, 0.44),
    "uk2-A": (1.0, 1.0),
    "uk2-B": (0.33, 0.33),
    "de-A": (0.98, 0.98),
    "de-B": (0.80, 0.73),
    "ko-A": (0.95, 0.92),
    "ko-B": (0.93, 0.87),
    "ja-A": (0.98, 0.98),
    "ja-B": (0.92, 0.92),
    "zh2-A": (1.0, 1.0),
    "zh2-B": (0.84, 0.84),
    "en-A": (1.0, 1.0),
    "en-B": (0.87, 0.82),
    "tr-A": (1.0, 1.0),
    "tr-B": (1.0, 1.0),
    "en2-A": (1.0, 0.93),
    "en2-B": (0.79, 0.69),
    "zh3-A": (1.0, 0.96),
    "zh3-B": (0.70, 0.70),
    "nl-A": (0.97, 0.97),
    "nl-B": (0.71, 0.71),
    "ru2-A": (0.91, 0.91),
    "ru2-B": (0.7, 0.7),
    "it2-A": (0.93, 0.93),
    "it2-B": (0.73, 0.66),
    "pt2-A": (1.0, 1.0),
    "pt2-B": (0.57, 0.57),
    "ru3-A": (1.0, 1.0),
    "ru3-B": (0.75, 0.65),
    "es7-A": (0.84, 0.84),
    "es7-B": (0.27, 0.27),
    "it7-A": (1.0, 1.0),
    "it7-B": (0.75, 0.75),
    "ru7-A": (0.95, 0.95),
    "ru7-B": (0.60, 0.60),
    "pl7-A": (1.0, 1.0),
    "pl7-B": (0.66, 0.66),
    "tr7-A": (1.0, 1.0),
    "tr7-B": (0.77, 0.72),
    "nl7-A": (1.0, 1.0),
    "nl7-B": (0.4, 0.4),
    "de7-A": (1.0, 1.0),
    "de7-B": (1.0, 1.0),
    "tr7b-A": (1.0, 0.85),
    "tr7b-B": (0.57, 0.57),
    "uk7-A": (1.0, 1.0),
    "uk7-B": (0.5, 0.5),
    "pt7-A": (0.93, 0.93),
    "pt7-B": (0.75, 0.66),
}
#: each split holds more rows than this, so that a floor is not kept on a handful by accident
SPLIT_MORE_THAN = {
    "A": 150,
    "B": 150,
    "ptA": 30,
    "ptB": 30,
    "zhA": 4,
    "zhB": 4,
    "cdek-A": 29,
    "cdek-B": 29,
    "fr-A": 12,
    "fr-B": 11,
    "es-A": 11,
    "es-B": 11,
    "it-A": 39,
    "it-B": 39,
    "pt-A": 4,
    "pt-B": 4,
    "es-correos-A": 7,
    "es-correos-B": 5,
    "ru-A": 20,
    "ru-B": 19,
    "uk-A": 15,
    "uk-B": 13,
    "pl-A": 21,
    "pl-B": 21,
    "pl2-A": 10,
    "pl2-B": 8,
    "uk2-A": 2,
    "uk2-B": 2,
    "de-A": 75,
    "de-B": 75,
    "ko-A": 90,
    "ko-B": 90,
    "ja-A": 50,
    "ja-B": 50,
    "zh2-A": 18,
    "zh2-B": 18,
    "en-A": 49,
    "en-B": 46,
    "tr-A": 12,
    "tr-B": 11,
    "en2-A": 47,
    "en2-B": 42,
    "zh3-A": 24,
    "zh3-B": 23,
    "nl-A": 34,
    "nl-B": 34,
    "ru2-A": 11,
    "ru2-B": 9,
    "it2-A": 15,
    "it2-B": 14,
    "pt2-A": 7,
    "pt2-B": 6,
    "ru3-A": 28,
    "ru3-B": 28,
    "es7-A": 18,
    "es7-B": 17,
    "it7-A": 4,
    "it7-B": 3,
    "ru7-A": 23,
    "ru7-B": 22,
    "pl7-A": 2,
    "pl7-B": 2,
    "tr7-A": 17,
    "tr7-B": 17,
    "nl7-A": 6,
    "nl7-B": 4,
    "de7-A": 3,
    "de7-B": 3,
    "tr7b-A": 6,
    "tr7b-B": 6,
    "uk7-A": 2,
    "uk7-B": 1,
    "pt7-A": 14,
    "pt7-B": 11,
}


@pytest.fixture(scope="module")
def report_inputs() -> tuple[Any, Any]:
    return load_normalizer(cache_size=0), read_labelled(CORPUS)


def _split(rows: list[Any], split: str | None) -> list[Any]:
    """The labelled rows of one split (None: the rows without one), in file order."""
    splits = [row.get("split") for row in _rows()]
    assert len(splits) == len(rows)
    return [row for row, found in zip(rows, splits, strict=True) if found == split]


def test_rules_keep_their_accuracy_floor(report_inputs: tuple[Any, Any]) -> None:
    normalizer, rows = report_inputs
    report = evaluate(normalizer.classify, _split(rows, None), normalizer.decided_by)
    print(report.render())
    # 0.95 / 0.94, not 0.97 / 0.95: two held-out sources (FedEx's code names, a freight carrier's
    # status list) stay in unfitted (SOURCES.md); fitting their misses would only dress up the floor
    assert report.overall.status_accuracy >= 0.95
    assert report.overall.detail_accuracy >= 0.94


@pytest.mark.parametrize("split", sorted(SPLIT_FLOORS))
def test_fresh_sources_keep_their_floors(report_inputs: tuple[Any, Any], split: str) -> None:
    normalizer, rows = report_inputs
    report = evaluate(normalizer.classify, _split(rows, split), normalizer.decided_by)
    status, detail = SPLIT_FLOORS[split]
    assert report.overall.total > SPLIT_MORE_THAN[split]
    assert report.overall.status_accuracy >= status
    assert report.overall.detail_accuracy >= detail


def test_no_false_delivered(report_inputs: tuple[Any, Any]) -> None:
    normalizer, rows = report_inputs
    report = evaluate(normalizer.classify, rows, normalizer.decided_by)
    precision, _, _ = report.precision_recall()[Status.DELIVERED]
    assert precision >= 0.995, "a false 'delivered' is the costliest error"


def test_nothing_awaiting_collection_is_called_delivered(report_inputs: tuple[Any, Any]) -> None:
    normalizer, rows = report_inputs
    wrong = [
        row.event.text
        for row in rows
        if row.status is Status.AVAILABLE_FOR_PICKUP
        and normalizer.classify(row.event).status is Status.DELIVERED
    ]
    assert wrong == []


@pytest.mark.shared_data
def test_rows_from_recorded_responses_appear_in_them(shared_data: Path) -> None:
    """A row citing a file under shared/data must quote it (spacing aside)."""
    texts: dict[str, str] = {}
    missing = []
    for row in _rows():
        found = re.search(r"\(shared/data/(carrier-responses/[^)\s]+)\)", row["source"])
        if found is None:
            continue
        base = shared_data / found.group(1)
        key = str(base)
        if key not in texts:
            files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
            joined = "\n".join(p.read_text("utf-8", errors="replace") for p in files)
            texts[key] = " ".join(html.unescape(joined).split())
        for part in row["text"].split(", ") if row["carrier"] == "russian_post" else [row["text"]]:
            if " ".join(part.split()) not in texts[key]:
                missing.append((row["carrier"], part))
    assert missing == []
