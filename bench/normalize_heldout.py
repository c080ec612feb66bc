"""The held-out-carrier report, and whether a statistical fallback would earn its place.

Run: ``.venv/bin/python bench/normalize_heldout.py [CORPUS.jsonl]`` (default: the labelled
corpus in tests/normalize/corpus). For every carrier in turn, its events are classified by a
classifier that never learnt from them, and the script prints these reports side by side:

* **rules, held out**: the built-in rules without every phrase or concept that only the held-out
  carrier's rows decide (``held_out_rules``: it could only have been written from them);
* **rules, as shipped**: all the built-in rules (learn nothing per fold, so this is their score
  on the whole corpus, which they were written from: a regression floor, not generalization);
* **model**: a naive Bayes model over character n-grams, trained on the other carriers' events;
* **rules + model**: the shipped rules, the model asked only where no rule matches, above a
  confidence threshold.

Then the precision of the model's answers where rules found nothing, for several thresholds:
the number that decides whether the fallback ships (a wrong status is worse than ``unknown``).
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tracker.model import Classification, Detail, RawEvent, Status
from tracker.normalize import Normalizer, fold, load_normalizer
from tracker.normalize.evaluate import (
    HeldOutRules,
    LabelledEvent,
    Report,
    held_out_by_carrier,
    held_out_rules,
    read_labelled,
)
from tracker.normalize.loader import load_builtin_rules

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "normalize" / "corpus" / "corpus.jsonl"
UNKNOWN = Classification(Status.UNKNOWN)

#: n-gram lengths: short ones carry Chinese and Japanese, long ones carry Latin-script words
NGRAM_SIZES = (1, 2, 3, 4)
#: Laplace smoothing; small, since many classes have few examples
ALPHA = 0.1
#: the least probability of the best class that the model answers with
THRESHOLD = 0.90
#: ``delivered`` tells the buyer the parcel arrived: the model must be surer still
DELIVERED_THRESHOLD = 0.99
RULE_ID = "model.ngram_nb"


@dataclass(frozen=True, slots=True)
class Prediction:
    """The model's best class and how sure it is (probability among the classes it knows)."""

    classification: Classification
    confidence: float


def ngrams(folded: str) -> Counter[str]:
    """Character n-grams of ``folded``, with word boundaries marked by spaces."""
    text = f" {' '.join(folded.split())} "
    grams: Counter[str] = Counter()
    for size in NGRAM_SIZES:
        for start in range(len(text) - size + 1):
            gram = text[start : start + size]
            if gram != " " * size:
                grams[gram] += 1
    return grams


class NgramModel:
    """Multinomial naive Bayes; built from (text, status, detail) examples."""

    def __init__(self, examples: Iterable[tuple[str, Status, Detail | None]]) -> None:
        counts: dict[tuple[Status, Detail | None], Counter[str]] = {}
        docs: Counter[tuple[Status, Detail | None]] = Counter()
        for text, status, detail in examples:
            if not text:
                continue
            label = (status, detail)
            docs[label] += 1
            counts.setdefault(label, Counter()).update(ngrams(fold(text)))
        total_docs = sum(docs.values())
        vocabulary = {gram for grams in counts.values() for gram in grams}
        self._labels = list(counts)
        self._log_prior = [math.log(docs[label] / total_docs) for label in self._labels]
        size = len(vocabulary)
        self._log_likelihood: list[dict[str, float]] = []
        self._log_unseen: list[float] = []
        for label in self._labels:
            grams = counts[label]
            denominator = math.log(sum(grams.values()) + ALPHA * size)
            self._log_likelihood.append(
                {gram: math.log(n + ALPHA) - denominator for gram, n in grams.items()}
            )
            self._log_unseen.append(math.log(ALPHA) - denominator)
        self._vocabulary = frozenset(vocabulary)
        self._results = [Classification(status, detail, RULE_ID) for status, detail in self._labels]

    def predict(self, text: str) -> Prediction | None:
        """The best class for ``text`` and its probability; None without a known n-gram."""
        grams = {g: n for g, n in ngrams(fold(text)).items() if g in self._vocabulary}
        if not grams or not self._labels:
            return None
        scores = []
        for index, prior in enumerate(self._log_prior):
            table = self._log_likelihood[index]
            unseen = self._log_unseen[index]
            scores.append(prior + sum(n * table.get(g, unseen) for g, n in grams.items()))
        best = max(range(len(scores)), key=scores.__getitem__)
        top = scores[best]
        total = sum(math.exp(score - top) for score in scores)
        return Prediction(self._results[best], 1.0 / total)

    def decide(self, text: str) -> Prediction | None:
        """``predict``, kept only when it clears its class's threshold."""
        found = self.predict(text)
        if found is None:
            return None
        needed = (
            DELIVERED_THRESHOLD if found.classification.status is Status.DELIVERED else THRESHOLD
        )
        return found if found.confidence >= needed else None


def _train(rows: Iterable[LabelledEvent]) -> NgramModel:
    return NgramModel((row.event.text, row.status, row.detail) for row in rows)


def _rules(
    normalizer: Normalizer,
) -> Callable[[Sequence[LabelledEvent]], Callable[[RawEvent], Classification]]:
    return lambda _training: normalizer.classify


def _model(training: Sequence[LabelledEvent]) -> Callable[[RawEvent], Classification]:
    model = _train(training)

    def classify(event: RawEvent) -> Classification:
        found = model.decide(event.text)
        return found.classification if found else UNKNOWN

    return classify


def _both(
    normalizer: Normalizer,
) -> Callable[[Sequence[LabelledEvent]], Callable[[RawEvent], Classification]]:
    def make(training: Sequence[LabelledEvent]) -> Callable[[RawEvent], Classification]:
        model = _train(training)

        def classify(event: RawEvent) -> Classification:
            result = normalizer.classify(event)
            if result.status is Status.UNKNOWN and event.text:
                found = model.decide(event.text)
                if found is not None:
                    return found.classification
            return result

        return classify

    return make


def _fallback_precision(rows: Sequence[LabelledEvent], normalizer: Normalizer) -> None:
    """How often the model is right where the rules found nothing, by confidence threshold."""
    by_carrier: dict[str, list[LabelledEvent]] = defaultdict(list)
    for row in rows:
        by_carrier[row.event.carrier or "-"].append(row)
    answers: list[tuple[float, bool]] = []
    for carrier, held_out in by_carrier.items():
        model = _train(r for r in rows if (r.event.carrier or "-") != carrier)
        for row in held_out:
            if row.event.text and normalizer.classify(row.event).status is Status.UNKNOWN:
                found = model.predict(row.event.text)
                if found is not None:
                    answers.append((found.confidence, found.classification.status is row.status))
    print(f"model answers where no rule matched (held-out carriers): {len(answers)}")
    for threshold in (0.5, 0.9, 0.99, 0.999):
        kept = [ok for confidence, ok in answers if confidence >= threshold]
        share = sum(kept) / len(kept) if kept else 0.0
        print(f"  confidence >= {threshold:<6} answers {len(kept):4d}  status right {share:6.1%}")


def _fallback_precision_held_out(rows: Sequence[LabelledEvent], held_out: HeldOutRules) -> None:
    """The same where the rules held out with credit find nothing: the nearest thing to a carrier
    never seen. A false ``delivered`` is counted apart (the costliest error)."""
    unknown: dict[str, list[LabelledEvent]] = defaultdict(list)
    for row, result in held_out.results:
        if row.event.text and result.status is Status.UNKNOWN:
            unknown[row.event.carrier or "-"].append(row)
    answers: list[tuple[float, bool, bool]] = []
    for carrier, missed in unknown.items():
        model = _train(r for r in rows if (r.event.carrier or "-") != carrier)
        for row in missed:
            found = model.predict(row.event.text)
            if found is not None:
                status = found.classification.status
                false_delivered = status is Status.DELIVERED and row.status is not Status.DELIVERED
                answers.append((found.confidence, status is row.status, false_delivered))
    total = sum(len(missed) for missed in unknown.values())
    print(f"model answers where the rules held out with credit found nothing ({total}):")
    for threshold in (0.5, 0.9, 0.99, 0.999):
        kept = [(ok, bad) for confidence, ok, bad in answers if confidence >= threshold]
        share = sum(ok for ok, _ in kept) / len(kept) if kept else 0.0
        false = sum(bad for _, bad in kept)
        print(
            f"  confidence >= {threshold:<6} answers {len(kept):4d}  status right {share:6.1%}"
            f"  false delivered {false}"
        )


def _headline(name: str, report: Report) -> str:
    o = report.overall
    delivered = report.precision_recall().get(Status.DELIVERED, (0.0, 0.0, 0))[0]
    return (
        f"{name:18} status {o.status_accuracy:6.1%}  detail {o.detail_accuracy:6.1%}  "
        f"delivered precision {delivered:6.1%}"
    )


def _single_carrier_rules(held_out: HeldOutRules) -> None:
    """Which rules stand on one carrier's rows: where a general rule should replace phrases."""
    by_rule: dict[str, Counter[str]] = defaultdict(Counter)
    for name, carriers in held_out.credit.items():
        if len(carriers) == 1 and "#" in name:
            by_rule[name.partition("#")[0]][next(iter(carriers))] += 1
    alone = sum(1 for carriers in held_out.credit.values() if len(carriers) == 1)
    print(
        f"alternatives and code rules that decide rows: {len(held_out.credit)}, "
        f"of one carrier only: {alone}"
    )
    print("carrier                  switched off while held out")
    for carrier, names in sorted(held_out.disabled.items(), key=lambda item: -len(item[1])):
        if names:
            print(f"  {carrier:22} {len(names):4d}")
    print("rules with the most one-carrier alternatives:")
    ranked = sorted(by_rule.items(), key=lambda item: -sum(item[1].values()))[:15]
    for rule, counts in ranked:
        spread = ", ".join(f"{c} {n}" for c, n in counts.most_common())
        print(f"  {sum(counts.values()):4d}  {rule}  ({spread})")


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS
    rows = read_labelled(path)
    normalizer = load_normalizer(cache_size=0)
    started = time.perf_counter()
    honest = held_out_rules(rows, load_builtin_rules())
    rules_elapsed = time.perf_counter() - started
    shipped = held_out_by_carrier(rows, _rules(normalizer))
    model = held_out_by_carrier(rows, _model)
    both = held_out_by_carrier(rows, _both(normalizer))
    elapsed = time.perf_counter() - started
    carriers = len({row.event.carrier for row in rows})
    print(
        f"{path}: {len(rows)} events, {carriers} carriers held out in turn "
        f"({elapsed:.1f} s, {rules_elapsed:.1f} s of it the rules held out)"
    )
    reports = (
        ("rules, held out", honest.report),
        ("rules, as shipped", shipped),
        ("model", model),
        ("rules + model", both),
    )
    for name, report in reports:
        print(_headline(name, report))
    print()
    _fallback_precision(rows, normalizer)
    _fallback_precision_held_out(rows, honest)
    print()
    _single_carrier_rules(honest)
    print()
    print(
        honest.report.render(
            title="held-out-carrier report, rules without what only the held-out carrier's "
            "rows decide:"
        )
    )


if __name__ == "__main__":
    main()
