"""The evaluation report: parsing labelled events, the numbers, held-out-carrier folds, the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker.cli import main
from tracker.errors import InputError
from tracker.model import Classification, RawEvent, Status
from tracker.normalize.evaluate import (
    LabelledEvent,
    evaluate,
    held_out_by_carrier,
    parse_labelled,
)

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
