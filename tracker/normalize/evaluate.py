"""Measuring a classifier on labelled events: accuracy, per-status precision and recall, confusion.

``held_out_rules`` does the same for hand-written rules, which learn nothing per fold: each rule
alternative (one phrase or one concept) is credited to the carriers whose rows it decides, and
while a carrier is held out, whatever only its own rows decide is switched off (it could only
have been written from them).

A labelled file is JSON lines, one event each: ``text`` and/or ``code``, optional ``carrier`` and
``country``, and the expected ``status`` (and ``detail``, null when none). Rows are grouped by
carrier, so a report shows how each carrier's wording fares, and ``held_out_by_carrier`` measures
a trained fallback on every carrier in turn with that carrier left out of its training.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tracker.errors import InputError
from tracker.model import Classification, Detail, RawEvent, Status
from tracker.normalize.classifier import Normalizer
from tracker.normalize.loader import ALTERNATIVE, alternative_ids, split_alternatives, without
from tracker.normalize.rules import VALID_DETAILS, RuleSet

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class LabelledEvent:
    """One event and the status and detail a person gave it."""

    event: RawEvent
    status: Status
    detail: Detail | None
    lang: str | None = None


def read_labelled(path: Path) -> list[LabelledEvent]:
    """Every row of a JSON-lines file; InputError naming the file and line of a bad row."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read labelled events: {exc.strerror or exc}") from exc
    return parse_labelled(lines, str(path))


def parse_labelled(lines: Iterable[str], where: str = "<input>") -> list[LabelledEvent]:
    """Labelled events from JSON lines (blank lines skipped)."""
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(_labelled(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}, line {number}: not valid JSON: {exc.msg}") from None
        except InputError as exc:
            raise InputError(f"{where}, line {number}: {exc}") from None
    if not rows:
        raise InputError(f"{where}: no labelled events")
    return rows


def _labelled(record: object) -> LabelledEvent:
    if not isinstance(record, dict):
        raise InputError("expected a JSON object")
    values = {}
    for name in ("text", "code", "carrier", "country", "lang"):
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            raise InputError(f"field {name!r} must be a string")
        values[name] = value
    if not values["text"] and not values["code"]:
        raise InputError("needs a text or a code")
    try:
        status = Status(str(record.get("status")))
    except ValueError:
        choices = ", ".join(s.value for s in Status)
        raise InputError(f"status {record.get('status')!r} is not one of: {choices}") from None
    detail = None
    if record.get("detail") is not None:
        try:
            detail = Detail(record["detail"])
        except ValueError:
            raise InputError(f"unknown detail {record['detail']!r}") from None
        if status not in VALID_DETAILS[detail]:
            raise InputError(f"detail {detail.value!r} does not go with status {status.value!r}")
    event = RawEvent(
        _EPOCH,
        values["text"] or "",
        values["code"] or None,
        country=values["country"],
        carrier=values["carrier"],
    )
    return LabelledEvent(event, status, detail, values["lang"])


@dataclass(slots=True)
class Tally:
    """Counts for one group of events."""

    total: int = 0
    status_hits: int = 0
    detail_hits: int = 0

    def add(self, status_ok: bool, detail_ok: bool) -> None:
        self.total += 1
        self.status_hits += status_ok
        self.detail_hits += status_ok and detail_ok

    @property
    def status_accuracy(self) -> float:
        return self.status_hits / self.total if self.total else 0.0

    @property
    def detail_accuracy(self) -> float:
        return self.detail_hits / self.total if self.total else 0.0


@dataclass(slots=True)
class Report:
    """What a classifier got right and wrong on a set of labelled events."""

    overall: Tally = field(default_factory=Tally)
    by_carrier: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_lang: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    #: (expected status, predicted status) -> count
    confusion: Counter[tuple[Status, Status]] = field(default_factory=Counter)
    #: (expected, predicted) as "status/detail" -> count, for the misses only
    misses: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: which kind of rule decided ("code", "text", "code+text", "ops", "none") -> count
    deciders: Counter[str] = field(default_factory=Counter)
    #: rule id ("-" for none) -> how often it decided and how often it was right
    by_rule: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    examples: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, row: LabelledEvent, got: Classification, decided_by: str = "rules") -> None:
        status_ok = got.status is row.status
        detail_ok = got.detail is row.detail
        carrier = row.event.carrier or "-"
        self.overall.add(status_ok, detail_ok)
        self.by_carrier[carrier].add(status_ok, detail_ok)
        self.by_lang[row.lang or "-"].add(status_ok, detail_ok)
        self.by_rule[got.rule or "-"].add(status_ok, detail_ok)
        self.confusion[(row.status, got.status)] += 1
        self.deciders[decided_by] += 1
        if not (status_ok and detail_ok):
            key = (_label(row.status, row.detail), _label(got.status, got.detail))
            self.misses[key] += 1
            if len(self.examples[key]) < 3:
                self.examples[key].append(f"{carrier}: {row.event.text or row.event.code}")

    def precision_recall(self) -> dict[Status, tuple[float, float, int]]:
        """Per status: precision, recall and how many events were expected to have it."""
        result = {}
        for status in Status:
            expected = sum(n for (e, _), n in self.confusion.items() if e is status)
            predicted = sum(n for (_, p), n in self.confusion.items() if p is status)
            if not expected and not predicted:
                continue
            hits = self.confusion[(status, status)]
            precision = hits / predicted if predicted else 1.0
            recall = hits / expected if expected else 1.0
            result[status] = (precision, recall, expected)
        return result

    def render(self, *, title: str = "", top: int = 10) -> str:
        """The report as text."""
        lines = [title] if title else []
        o = self.overall
        lines.append(
            f"events {o.total}: status {o.status_accuracy:.1%}, detail {o.detail_accuracy:.1%}"
        )
        deciders = ", ".join(f"{k} {v}" for k, v in self.deciders.most_common())
        lines.append(f"decided by: {deciders}")
        lines.append("")
        lines.append(f"{'carrier':24} {'events':>6} {'status':>8} {'detail':>8}")
        for carrier, tally in sorted(self.by_carrier.items()):
            lines.append(
                f"{carrier:24} {tally.total:6d} {tally.status_accuracy:8.1%} "
                f"{tally.detail_accuracy:8.1%}"
            )
        if len(self.by_lang) > 1:
            lines.append("")
            lines.append(f"{'language':24} {'events':>6} {'status':>8} {'detail':>8}")
            for lang, tally in sorted(self.by_lang.items()):
                lines.append(
                    f"{lang:24} {tally.total:6d} {tally.status_accuracy:8.1%} "
                    f"{tally.detail_accuracy:8.1%}"
                )
        lines.append("")
        lines.append(f"{'status':22} {'precision':>9} {'recall':>8} {'events':>7}")
        for status, (precision, recall, events) in self.precision_recall().items():
            lines.append(f"{status.value:22} {precision:9.1%} {recall:8.1%} {events:7d}")
        lines.append("")
        lines.append(self._confusion_table())
        lines.extend(self._wrong_rules(top))
        if self.misses:
            lines.append("")
            lines.append(f"most common misses (expected -> got), top {top}:")
            for (expected, predicted), count in self.misses.most_common(top):
                example = "; ".join(self.examples[(expected, predicted)])
                lines.append(f"  {count:4d}  {expected} -> {predicted}   e.g. {example}")
        return "\n".join(lines)

    def _wrong_rules(self, top: int) -> list[str]:
        """The rules that decided wrongly most often: where a rule needs a more specific one."""
        wrong = sorted(
            ((t.total - t.detail_hits, rule, t) for rule, t in self.by_rule.items() if rule != "-"),
            key=lambda item: (-item[0], item[1]),
        )
        wrong = [item for item in wrong if item[0]][:top]
        if not wrong:
            return []
        lines = ["", f"rules wrong most often (wrong / decided), top {top}:"]
        lines += [f"  {misses:4d} / {t.total:<5d} {rule}" for misses, rule, t in wrong]
        return lines

    def _confusion_table(self) -> str:
        statuses = [s for s in Status if any(s in pair for pair in self.confusion)]
        short = {s: s.value[:8] for s in statuses}
        header = f"{'expected / got':22}" + "".join(f"{short[s]:>9}" for s in statuses)
        rows = [header]
        for expected in statuses:
            cells = "".join(f"{self.confusion[(expected, got)] or '.':>9}" for got in statuses)
            rows.append(f"{expected.value:22}{cells}")
        return "\n".join(rows)


def _label(status: Status, detail: Detail | None) -> str:
    return status.value + (f"/{detail.value}" if detail else "")


def evaluate(
    classify: Callable[[RawEvent], Classification],
    rows: Sequence[LabelledEvent],
    decided_by: Callable[[Classification], str] = lambda result: "rules",
) -> Report:
    """Classify every row and tally the results (``decided_by`` names what decided each)."""
    report = Report()
    for row in rows:
        got = classify(row.event)
        report.add(row, got, decided_by(got))
    return report


def held_out_by_carrier(
    rows: Sequence[LabelledEvent],
    make: Callable[[Sequence[LabelledEvent]], Callable[[RawEvent], Classification]],
) -> Report:
    """For every carrier, build a classifier from the other carriers' rows and test on its own.

    ``make`` gets the training rows and returns a classify function; rule-only classifiers can
    ignore them (their rules are fixed), a trained fallback must learn from them alone.
    """
    by_carrier: dict[str, list[LabelledEvent]] = defaultdict(list)
    for row in rows:
        by_carrier[row.event.carrier or "-"].append(row)
    report = Report()
    for carrier, held_out in sorted(by_carrier.items()):
        training = [row for row in rows if (row.event.carrier or "-") != carrier]
        classify = make(training)
        for row in held_out:
            report.add(row, classify(row.event))
    return report


@dataclass(slots=True)
class HeldOutRules:
    """The held-out-carrier report of hand-written rules, and what each fold switched off."""

    report: Report
    #: carrier -> the alternatives and code rules switched off while it was held out
    disabled: dict[str, list[str]]
    #: alternative or code rule -> the carriers whose rows it decides with every rule on
    credit: dict[str, frozenset[str]]
    #: every row with what its fold decided, in carrier order
    results: list[tuple[LabelledEvent, Classification]] = field(default_factory=list)


def held_out_rules(
    rows: Sequence[LabelledEvent], rules: RuleSet, ops_rule_ids: Iterable[str] = ()
) -> HeldOutRules:
    """Classify every carrier's rows without the rule alternatives only its own rows decide.

    Credit goes to the alternative that decides a row (the first in priority order that
    matches; with a refinable code, the code and the text alternative both). An alternative
    that decides no row at all, but comes forward once a fold's own ones are off, is switched
    off too when it matches that carrier's rows alone: it was shadowed there, not written for
    another carrier. A carrier's own code table decides only its own rows, so it goes too.
    """
    split = split_alternatives(rules)
    ops = frozenset(ops_rule_ids)
    ops_split = [
        name for rule in rules.text if rule.rule_id in ops for name in alternative_ids(rule)
    ]
    everything = Normalizer(split, ops_split, cache_size=0)
    by_carrier: dict[str, list[LabelledEvent]] = defaultdict(list)
    decided: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        carrier = row.event.carrier or "-"
        by_carrier[carrier].append(row)
        for name in _deciders(everything.classify(row.event)):
            decided[name].add(carrier)
    text_rules = {rule.rule_id: rule for rule in split.text}
    matched: dict[str, frozenset[str]] = {}

    def matching_carriers(name: str) -> frozenset[str]:
        found = matched.get(name)
        if found is None:
            alone = Normalizer(RuleSet(text=[text_rules[name]]), ops_split, cache_size=0)
            found = matched[name] = frozenset(
                row.event.carrier or "-"
                for row in rows
                if row.event.text
                and alone.classify_text(row.event.text, row.event.country).status
                is not Status.UNKNOWN
            )
        return found

    report = Report()
    decided_rows: list[tuple[LabelledEvent, Classification]] = []
    switched_off: dict[str, list[str]] = {}
    for carrier, held_out in sorted(by_carrier.items()):
        off = {name for name, carriers in decided.items() if carriers == {carrier}}
        while True:
            normalizer = (
                Normalizer(without(split, off), ops_split, cache_size=0) if off else everything
            )
            results = [normalizer.classify(row.event) for row in held_out]
            shadowed = {
                name
                for result in results
                for name in _deciders(result)
                if name not in decided
                and name in text_rules
                and matching_carriers(name) <= {carrier}
            }
            if not shadowed:
                break
            off |= shadowed
        for row, result in zip(held_out, results, strict=True):
            whole = _whole_rule(result)
            report.add(row, whole, normalizer.decided_by(result))
            decided_rows.append((row, whole))
        switched_off[carrier] = sorted(off)
    credit = {name: frozenset(carriers) for name, carriers in decided.items()}
    return HeldOutRules(report, switched_off, credit, decided_rows)


def _deciders(result: Classification) -> list[str]:
    """The rules (code rules, text alternatives) that made ``result``."""
    return result.rule.split("+") if result.rule else []


def _whole_rule(result: Classification) -> Classification:
    """``result`` named by its whole rule rather than the alternative that decided."""
    if not result.rule or ALTERNATIVE not in result.rule:
        return result
    parts = (part.partition(ALTERNATIVE)[0] for part in result.rule.split("+"))
    return Classification(result.status, result.detail, "+".join(parts))


def to_json(report: Report) -> dict[str, Any]:
    """The headline numbers, for machines."""
    return {
        "events": report.overall.total,
        "status_accuracy": report.overall.status_accuracy,
        "detail_accuracy": report.overall.detail_accuracy,
        "precision_recall": {
            status.value: {"precision": p, "recall": r, "events": n}
            for status, (p, r, n) in report.precision_recall().items()
        },
    }
