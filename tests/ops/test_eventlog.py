"""The structured log: every event name in the code is documented, and buyer emails never leak."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from tracker.eventlog import configure_logging, get_logger, redact_value

ROOT = Path(__file__).resolve().parents[2]
LOG_CALL = re.compile(
    r'\.(?:debug|info|warning|error|exception|critical)\(\s*"([a-z_]+(?:\.[a-z_]+)+)"'
)


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """configure_logging is process-wide; leave the next test the defaults."""
    yield
    structlog.reset_defaults()


def names_in_code() -> set[str]:
    found: set[str] = set()
    for package in ("tracker", "carriers", "notices", "shops"):
        for path in (ROOT / package).rglob("*.py"):
            found |= set(LOG_CALL.findall(path.read_text("utf-8")))
    return found


def test_every_event_name_in_the_code_is_in_the_table() -> None:
    documented = set(
        re.findall(r"^\| `([a-z_.]+)` \|", (ROOT / "docs/events.md").read_text(), re.M)
    )
    used = names_in_code()
    assert len(used) > 20
    assert used - documented == set(), "add these to docs/events.md"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jane.doe@example.com", "j***@example.com"),
        ({"to": ["a.b@x.org", "no email"]}, {"to": ["a***@x.org", "no email"]}),
        (("c@y.net",), ("c***@y.net",)),
        (
            {"deep": {"er": {"r": "550 <z@q.io> unknown"}}},
            {"deep": {"er": {"r": "550 <z***@q.io> unknown"}}},
        ),
        (42, 42),
    ],
)
def test_redaction_reaches_nested_values(value: object, expected: object) -> None:
    assert redact_value(value) == expected


def test_json_lines_redact_fields_nested_values_and_tracebacks() -> None:
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    log = get_logger(shipment_id=7)
    log.info("notice.sent", recipient="jane.doe@example.com", extra={"cc": ["bob@example.org"]})
    try:
        raise ValueError("mailbox jane.doe@example.com is full")
    except ValueError:
        log.exception("job.crashed", job="dispatch")
    text = out.getvalue()
    assert "jane.doe@" not in text
    assert "bob@" not in text
    first, second = (json.loads(line) for line in text.splitlines())
    assert first["recipient"] == "j***@example.com"
    assert first["extra"] == {"cc": ["b***@example.org"]}
    assert "mailbox j***@example.com is full" in second["exception"]


def test_redaction_can_be_turned_off() -> None:
    out = io.StringIO()
    configure_logging("json", "info", redact=False, stream=out)
    get_logger().info("notice.sent", recipient="jane.doe@example.com")
    assert json.loads(out.getvalue())["recipient"] == "jane.doe@example.com"


class _Structured:
    def __structlog__(self) -> dict[str, int]:
        return {"kept": 1}


def test_json_lines_are_structlogs_own_rendering() -> None:
    """The prebuilt encoder writes each line as structlog's JSONRenderer(ensure_ascii=False)
    does: non-ASCII kept, unknown types by repr, ``__structlog__`` honoured, order kept."""
    from datetime import UTC, datetime

    out = io.StringIO()
    configure_logging("json", "info", redact=False, stream=out)
    values = {
        "shipment_id": 7,
        "tracking_number": "RB123456785CN",
        "text": 'Доставлено — Zugestellt "ok"\n',
        "at": datetime(2026, 12, 3, 21, 0, tzinfo=UTC),
        "ratio": 0.25,
        "gone": None,
        "flags": (True, False),
        "nested": {"z": [1, "ü"], "a": _Structured()},
    }
    get_logger().info("poll.succeeded", **values)
    line = out.getvalue().rstrip("\n")
    written = json.loads(line)
    reference = structlog.processors.JSONRenderer(ensure_ascii=False)
    rendered = {
        **values,
        "event": "poll.succeeded",
        "level": "info",
        "timestamp": written["timestamp"],
    }
    assert list(written) == list(rendered)
    assert line == reference(None, "info", rendered)
    assert written["at"] == repr(values["at"])
    assert written["nested"] == {"z": [1, "ü"], "a": {"kept": 1}}
    assert "Доставлено" in line
