"""``tracker classify``: JSON lines in, annotated JSON lines out, bad lines reported by number."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tracker.cli import main


def _run(stdin: str, *args: str) -> tuple[int, list[dict[str, object]], str]:
    result = CliRunner().invoke(main, ["classify", *args], input=stdin)
    out = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, out, result.stderr


def test_annotates_each_event_and_keeps_its_fields() -> None:
    line = {
        "carrier": "sandbox",
        "code": "EMD",
        "text": "Arrived",
        "location": "Frankfurt",
        "country": "DE",
        "occurred_at": "2024-03-05T10:00:00+00:00",
        "order": "A-1",
    }
    code, out, err = _run(
        json.dumps(line) + "\n" + json.dumps({"text": "Вручено"}) + "\n", "--lang", "de"
    )
    assert code == 0
    assert err == ""
    first, second = out
    assert first["order"] == "A-1"
    assert first["rule"] == "upu.EMD"
    assert (first["status"], first["detail"]) == ("in_transit", "arrived_destination_country")
    assert "Frankfurt" in str(first["explanation"])
    assert "5. März 2024" in str(first["explanation"])
    assert (second["status"], second["detail"]) == ("delivered", None)


def test_bad_lines_are_reported_and_the_rest_is_processed() -> None:
    stdin = "\n".join(['{"text": "Delivered"}', "not json", "[1, 2]", '{"text": 5.5}',
                       '{"occurred_at": "yesterday"}', '{"text": "Out for delivery"}'])  # fmt: skip
    code, out, err = _run(stdin)
    assert code == 1
    assert [o["status"] for o in out] == ["delivered", "out_for_delivery"]
    assert "line 2: not valid JSON" in err
    assert "line 3: expected a JSON object" in err
    assert "line 4: field 'text' must be a string" in err
    assert "line 5: field 'occurred_at'" in err


def test_unknown_and_empty_events_are_classified_unknown() -> None:
    code, out, _ = _run('{}\n{"text": "zzz"}\n')
    assert code == 0
    assert [(o["status"], o["rule"]) for o in out] == [("unknown", None), ("unknown", None)]


def test_broken_rule_file_is_a_clean_error(tmp_path: Path) -> None:
    rules = tmp_path / "r.toml"
    rules.write_text("[[text]]\nid = 'x'\nstatus = 'nope'\nphrases = ['a']\n", "utf-8")
    result = CliRunner().invoke(main, ["classify", "--rules", str(rules)], input="{}\n")
    assert result.exit_code == 1
    assert "r.toml" in result.stderr
    assert "'x'" in result.stderr
