"""``tracker classify``: classify JSON-lines events from stdin, for ops and rule authors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click

from notices.explain import explain
from notices.languages import supported_languages
from tracker.errors import ConfigError, InputError
from tracker.model import RawEvent
from tracker.normalize import Normalizer, load_normalizer, load_rules
from tracker.normalize.evaluate import evaluate, held_out_rules, read_labelled

_FIELDS = ("carrier", "code", "text", "location", "country")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@click.command()
@click.option(
    "--lang",
    default="en",
    show_default=True,
    help=f"Language of the explanations ({', '.join(supported_languages())}; else en).",
)
@click.option(
    "--rules",
    "rule_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Extra ops rule file (TOML); may be repeated, later files win.",
)
@click.option(
    "--evaluate",
    "labelled",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Instead: classify a JSON-lines file of labelled events (text/code, carrier, status, "
    "detail) and print accuracy per carrier, per-status precision and recall, the confusion "
    "matrix and the commonest misses.",
)
@click.option(
    "--hold-out-carriers",
    "hold_out",
    is_flag=True,
    help="With --evaluate: classify each carrier's events without the rule phrases and concepts "
    "that only that carrier's events decide (they could only have been written from them): how "
    "the rules fare on wording they were not written for. Slower: one classifier per carrier.",
)
def classify(
    lang: str, rule_files: tuple[Path, ...], labelled: Path | None, hold_out: bool
) -> None:
    """Read JSON-lines events on stdin; write them back with status, detail, explanation, rule.

    Each output line also says what decided: "code", "text", "code+text" (a generic code
    refined by the text), "ops" (a rule from --rules) or "none" (unknown).
    """
    if hold_out and labelled is None:
        raise click.UsageError("--hold-out-carriers goes with --evaluate FILE")
    if labelled is not None:
        _evaluate(labelled, rule_files, hold_out)
        return
    try:
        normalizer = load_normalizer(rule_files)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    bad = run(normalizer, sys.stdin, sys.stdout, sys.stderr, lang)
    if bad:
        raise SystemExit(1)


def _evaluate(labelled: Path, rule_files: tuple[Path, ...], hold_out: bool) -> None:
    try:
        rules, ops_ids = load_rules(rule_files)
        rows = read_labelled(labelled)
    except (ConfigError, InputError) as exc:
        raise click.ClickException(str(exc)) from exc
    title = f"{labelled}: {len(rows)} labelled events"
    if hold_out:
        report = held_out_rules(rows, rules, ops_ids).report
        title += ", each carrier without the rules that only its own events decide"
    else:
        normalizer = Normalizer(rules, ops_ids)
        report = evaluate(normalizer.classify, rows, normalizer.decided_by)
    click.echo(report.render(title=title))


def run(normalizer: Normalizer, lines: Iterable[str], out: TextIO, err: TextIO, lang: str) -> int:
    """Classify every line; report bad ones on ``err`` and return how many were bad."""
    bad = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = _parse_line(line)
            raw = _raw_event(record)
        except InputError as exc:
            bad += 1
            err.write(f"line {number}: {exc}\n")
            continue
        out.write(json.dumps(_annotate(normalizer, record, raw, lang), ensure_ascii=False) + "\n")
    return bad


def _parse_line(line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(record, dict):
        raise InputError(f"expected a JSON object, got {type(record).__name__}")
    return record


def _raw_event(record: dict[str, Any]) -> RawEvent:
    values: dict[str, str | None] = {}
    for name in _FIELDS:
        value = record.get(name)
        if value is not None and not isinstance(value, str | int):
            raise InputError(f"field {name!r} must be a string, got {type(value).__name__}")
        values[name] = None if value is None else str(value)
    return RawEvent(
        occurred_at=_occurred_at(record.get("occurred_at")),
        text=values["text"] or "",
        code=values["code"] or None,
        location=values["location"],
        country=values["country"],
        carrier=values["carrier"],
    )


def _occurred_at(value: object) -> datetime:
    if value is None:
        return _EPOCH
    if not isinstance(value, str):
        raise InputError("field 'occurred_at' must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"field 'occurred_at' is not an ISO 8601 date-time: {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _annotate(
    normalizer: Normalizer, record: dict[str, Any], raw: RawEvent, lang: str
) -> dict[str, Any]:
    result = normalizer.classify(raw)
    when = raw.occurred_at if record.get("occurred_at") is not None else None
    place = raw.location or raw.country
    return {
        **record,
        "status": result.status.value,
        "detail": result.detail.value if result.detail else None,
        "explanation": explain(result.status, result.detail, lang, place=place, when=when),
        "rule": result.rule,
        "decided_by": normalizer.decided_by(result),
    }


commands = [classify]
