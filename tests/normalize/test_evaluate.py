"""The evaluation report: parsing labelled events, the numbers, held-out-carrier folds, the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker.cli import main
from tracker.errors import InputError
from tracker.model import Classification, RawEvent, Status
from tracker.normalize import Normalizer, RuleSet, TextRule
from tracker.normalize.evaluate import (
    LabelledEvent,
    evaluate,
    held_out_by_carrier,
    held_out_rules,
    parse_labelled,
    read_labelled,
)
from tracker.normalize.loader import (
    alternative_ids,
    load_builtin_rules,
    split_alternatives,
    without,
)

CORPUS = Path(__file__).parent / "corpus" / "corpus.jsonl"

ROWS: list[dict[str, object]] = [
    {"carrier": "a", "text": "Delivered", "status": "delivered", "detail": None},
    {"carrier": "a", "text": "Out for delivery", "status": "out_for_delivery", "detail": None},
    {"carrier": "b", "text": "Held by customs", "status": "exception", "detail": "customs_hold"},
    {"carrier": "b", "text": "Ready for pickup", "status": "available_for_pickup",
     "detail": "arrived_delivery_office"},
]  # fmt: skip


def _lines(rows: list[dict[str, object]]) -> list[str]:
    return [json.dumps(row) for row in rows]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "line 2: not valid JSON"),
        ('{"text": "x", "status": "arrived"}', "line 2: status 'arrived' is not one of"),
        ('{"text": "x", "status": "delivered", "detail": "customs_hold"}', "does not go with"),
        ('{"status": "delivered"}', "line 2: needs a text or a code"),
        ('{"text": 5, "status": "delivered"}', "field 'text' must be a string"),
    ],
)
def test_bad_rows_are_named_by_line(line: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        parse_labelled([_lines(ROWS)[0], line], "labels.jsonl")


def test_report_counts_accuracy_precision_recall_and_confusion() -> None:
    rows = parse_labelled(_lines(ROWS))

    def classify(event: RawEvent) -> Classification:
        if event.text == "Ready for pickup":  # the costly mistake, on purpose
            return Classification(Status.DELIVERED, None, "text.en.too_general")
        if event.text == "Held by customs":  # right status, wrong detail
            return Classification(Status.EXCEPTION)
        row = next(r for r in rows if r.event.text == event.text)
        return Classification(row.status, row.detail, "text.en.x")

    report = evaluate(classify, rows)
    assert report.overall.total == 4
    assert report.overall.status_accuracy == 0.75
    assert report.overall.detail_accuracy == 0.5
    precision, recall, expected = report.precision_recall()[Status.DELIVERED]
    assert (precision, recall, expected) == (0.5, 1.0, 1)
    assert report.confusion[(Status.AVAILABLE_FOR_PICKUP, Status.DELIVERED)] == 1
    assert report.by_carrier["b"].status_accuracy == 0.5
    text = report.render()
    assert "events 4: status 75.0%, detail 50.0%" in text
    assert "available_for_pickup/arrived_delivery_office -> delivered" in text
    # the rule that was wrong is named; rules that were always right and "no rule" are not
    assert report.by_rule["text.en.too_general"].total == 1
    assert "rules wrong most often" in text
    assert "   1 / 1     text.en.too_general" in text
    assert "text.en.x" not in text.split("rules wrong most often")[1].split("most common")[0]


def test_held_out_folds_never_train_on_the_carrier_they_test() -> None:
    rows = parse_labelled(_lines(ROWS))
    trained_on: list[set[str | None]] = []

    def make(training: Sequence[LabelledEvent]) -> Callable[[RawEvent], Classification]:
        carriers = {row.event.carrier for row in training}
        trained_on.append(carriers)

        def classify(event: RawEvent) -> Classification:
            assert event.carrier not in carriers
            return Classification(Status.UNKNOWN)

        return classify

    report = held_out_by_carrier(rows, make)
    assert trained_on == [{"b"}, {"a"}]
    assert report.overall.total == 4


def test_classify_evaluate_prints_the_report(tmp_path: Path) -> None:
    labelled = tmp_path / "mine.jsonl"
    labelled.write_text("\n".join(_lines(ROWS)) + "\n", "utf-8")
    result = CliRunner().invoke(main, ["classify", "--evaluate", str(labelled)])
    assert result.exit_code == 0, result.output
    assert "4 labelled events" in result.stdout
    assert "events 4: status 100.0%, detail 100.0%" in result.stdout
    assert "precision" in result.stdout
    assert "expected / got" in result.stdout


def test_classify_evaluate_names_a_bad_file(tmp_path: Path) -> None:
    labelled = tmp_path / "mine.jsonl"
    labelled.write_text('{"text": "x", "status": "shipped"}\n', "utf-8")
    result = CliRunner().invoke(main, ["classify", "--evaluate", str(labelled)])
    assert result.exit_code == 1
    assert "mine.jsonl, line 1: status 'shipped'" in result.output


def test_classify_says_what_decided(tmp_path: Path) -> None:
    ops = tmp_path / "rules.toml"
    ops.write_text('[[text]]\nid = "acme.z"\nstatus = "delivered"\nphrases = ["zq9"]\n', "utf-8")
    lines = [
        {"carrier": "usps", "code": "01", "text": "x"},
        {"text": "Shipment is out for delivery"},
        {"carrier": "sandbox", "code": "EME", "text": "Held by customs: documents required"},
        {"text": "zq9"},
        {"text": "nothing known"},
    ]
    result = CliRunner().invoke(
        main, ["classify", "--rules", str(ops)], input="\n".join(map(json.dumps, lines))
    )
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["decided_by"] for row in out] == ["code", "text", "code+text", "ops", "none"]


def _rule(
    rule_id: str, status: Status, *phrases: str, concepts: Sequence[Sequence[str]] = ()
) -> TextRule:
    return TextRule(
        rule_id, "en", status, None, phrases, concepts=tuple(tuple(c) for c in concepts)
    )


def _labelled(carrier: str, text: str, status: Status) -> LabelledEvent:
    return LabelledEvent(
        RawEvent(datetime(2026, 1, 1, tzinfo=UTC), text, carrier=carrier), status, None
    )


def test_split_alternatives_decide_as_the_rules_do_and_name_the_alternative() -> None:
    rules = load_builtin_rules()
    whole, split = (
        Normalizer(rules, cache_size=0),
        Normalizer(split_alternatives(rules), cache_size=0),
    )
    for row in read_labelled(CORPUS):
        a, b = whole.classify(row.event), split.classify(row.event)
        assert (a.status, a.detail) == (b.status, b.detail), row.event.text
        assert (a.rule or "").split("+")[-1] == (b.rule or "").split("+")[-1].partition("#")[0]


def test_without_drops_alternatives_rules_and_codes() -> None:
    rules = RuleSet(
        codes={"acme": {"01": Classification(Status.DELIVERED, None, "acme.01")}},
        text=[
            _rule("r.one", Status.DELIVERED, "handed over", concepts=[["parcel", "given"]]),
            _rule("r.two", Status.IN_TRANSIT, "moving"),
        ],
    )
    assert alternative_ids(rules.text[0]) == ["r.one#0", "r.one#1"]
    kept = without(rules, {"r.one#0", "r.two", "acme.01"})
    assert [(r.rule_id, r.phrases, r.concepts) for r in kept.text] == [
        ("r.one", (), (("parcel", "given"),))
    ]
    assert kept.codes == {"acme": {}}
    assert len(rules.text) == 2
    assert rules.codes["acme"]


def test_held_out_rules_switch_off_what_only_the_held_out_carrier_decides() -> None:
    rules = RuleSet(
        text=[
            _rule("r.delivered", Status.DELIVERED, "delivered", "handed to recipient"),
            _rule("r.pickup", Status.AVAILABLE_FOR_PICKUP, "ready for collection"),
            _rule("r.moving", Status.IN_TRANSIT, "collection", "moving"),
        ]
    )
    rows = [
        _labelled("a", "Delivered", Status.DELIVERED),
        _labelled("b", "Parcel delivered today", Status.DELIVERED),
        _labelled("c", "Handed to recipient", Status.DELIVERED),
        # "ready for collection" decides d alone; "collection" (shadowed there, matching only d's
        # row) would come forward with the wrong status: it goes too, the row is unknown
        _labelled("d", "Ready for collection", Status.AVAILABLE_FOR_PICKUP),
        _labelled("e", "Moving", Status.IN_TRANSIT),
    ]
    held = held_out_rules(rows, rules)
    assert held.credit["r.delivered#0"] == {"a", "b"}
    assert held.disabled["a"] == []
    assert held.disabled["c"] == ["r.delivered#1"]
    assert held.disabled["d"] == ["r.moving#0", "r.pickup#0"]
    assert held.disabled["e"] == ["r.moving#1"]
    carriers = held.report.by_carrier
    assert carriers["a"].status_hits == carriers["b"].status_hits == 1
    assert carriers["c"].status_hits == carriers["d"].status_hits == carriers["e"].status_hits == 0
    assert held.report.overall.status_accuracy == 2 / 5
    assert held.report.confusion[(Status.AVAILABLE_FOR_PICKUP, Status.UNKNOWN)] == 1
    # the report names whole rules, not alternatives
    assert set(held.report.by_rule) == {"r.delivered", "-"}
    assert [(row.event.carrier, result.rule) for row, result in held.results] == [
        ("a", "r.delivered"),
        ("b", "r.delivered"),
        ("c", None),
        ("d", None),
        ("e", None),
    ]


def test_classify_evaluate_holds_out_carriers(tmp_path: Path) -> None:
    labelled = tmp_path / "mine.jsonl"
    rows: list[dict[str, object]] = [
        {"carrier": "a", "text": "Delivered", "status": "delivered", "detail": None},
        {"carrier": "b", "text": "Delivered", "status": "delivered", "detail": None},
        {"carrier": "c", "text": "Delivered", "status": "delivered", "detail": None},
    ]
    labelled.write_text("\n".join(_lines(rows)) + "\n", "utf-8")
    args = ["classify", "--evaluate", str(labelled), "--hold-out-carriers"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "without the rules that only its own events decide" in result.stdout
    assert "events 3: status 100.0%, detail 100.0%" in result.stdout
    result = CliRunner().invoke(main, ["classify", "--hold-out-carriers"])
    assert result.exit_code == 2
    assert "--hold-out-carriers goes with --evaluate" in result.output
