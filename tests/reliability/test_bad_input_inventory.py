"""The bad-input inventory: every kind of bad input the project knows of, tried once, with the
outcome of each counted (issue 13).

Each probe feeds one bad input to the real code (the CLI on a real SQLite store, the carrier
client with its redirect rule, the event model, the template sandbox, the log redaction...) and
reports what happened in a few words; the test fails on any probe whose outcome is not the safe
one (a clear refusal naming the input, text cleaned, a value capped, a secret withheld), and
prints the inventory: how many inputs of each kind were tried and with which outcome.
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from carriers.http import MAX_RETRY_AFTER, parse_retry_after, send_for_reply
from carriers.redirects import guard_redirect
from notices.message import build_message, format_address, message_id_for
from notices.render import NoticeRenderer
from tests.carriers.test_retry_after import CASES as RETRY_AFTERS
from tests.cli.test_read_only_store import READ_ONLY
from tests.core.test_csv_import import MALFORMED
from tests.core.test_stored_text import CLEANED, HOSTILE
from tests.notices import test_address_rule as address_rule
from tests.notices.conftest import make_context
from tests.notices.test_template_sandbox import ESCAPES
from tests.ops.test_redaction import CASES as REDACTIONS
from tests.reliability.test_bad_input import (
    ADD_CASES,
    CONFIG_CASES,
    GOOD,
    IMPORT_CASES,
    RULE_CASES,
    add_options,
    count_rows,
    invoke,
)
from tracker.errors import CarrierUnavailable, NoticeError
from tracker.eventlog import redact_value
from tracker.model import RawEvent
from tracker.safetext import for_terminal, has_controls
from tracker.store.db import open_store
from tracker.store.readonly import SCHEMA_REVISIONS

SECRET = "s3cret-key-value"
NOW = 1_767_225_600.0

#: add and import route only to configured carriers (issue 13, item 13)
CONFIGURED_CARRIERS = "".join(
    f"[carriers.{name}]\n" for name in ("correios", "russian_post", "ups", "usps")
)


@dataclass(frozen=True)
class Outcome:
    """What one bad input did: ``safe`` when it is what the project promises for its kind."""

    kind: str
    id: str
    what: str
    safe: bool


Probe = Callable[[Path], Iterator[Outcome]]


def _store(tmp_path: Path, name: str) -> tuple[Path, str]:
    """A config and SQLite store holding one shipment, fresh for each probe that writes."""
    folder = tmp_path / name
    folder.mkdir()
    url = f"sqlite:///{folder / 'tracker.sqlite3'}"
    config = folder / "tracker.toml"
    config.write_text(f'[store]\nurl = "{url}"\n' + CONFIGURED_CARRIERS)
    added = invoke("add", "RA123456785RU", *add_options(GOOD), "--config", str(config))
    assert added.exit_code == 0, added.output
    return config, url


def _refusal(output: str, code: int, expect: tuple[str, ...], unchanged: bool) -> tuple[str, bool]:
    first = next((line for line in output.splitlines() if line.strip()), "")
    safe = code != 0 and "Traceback" not in output and unchanged
    safe = safe and all(word in output for word in expect)
    return f"refused (exit {code}): {first[:90]}", safe


def orders_added(tmp_path: Path) -> Iterator[Outcome]:
    config, url = _store(tmp_path, "add")
    for case in ADD_CASES:
        before = count_rows(url)
        row, number = dict(GOOD), GOOD["tracking_number"]
        if case.field == "tracking_number":
            number = case.value
            row["carrier"] = "ups" if case.id == "ups-check-digit" else row["carrier"]
        else:
            row[case.field] = case.value
        result = CliRunnerResult.of("add", number, *add_options(row), "--config", str(config))
        what, safe = _refusal(result.output, result.code, case.expect, count_rows(url) == before)
        yield Outcome("tracker add: order field", case.id, what, safe)


def orders_imported(tmp_path: Path) -> Iterator[Outcome]:
    cases: list[tuple[str, str | bytes, tuple[str, ...], int]] = [
        (case.id, case.value, case.expect, case.stored) for case in IMPORT_CASES
    ]
    cases += [(name, content, (message,), 0) for name, (content, message) in MALFORMED.items()]
    for n, (name, content, expect, stored) in enumerate(cases):
        config, url = _store(tmp_path, f"import-{n}")
        before = count_rows(url)
        orders = config.parent / "orders.csv"
        orders.write_bytes(content if isinstance(content, bytes) else content.encode())
        result = CliRunnerResult.of("import", str(orders), "--config", str(config))
        after = (before[0] + stored, before[1], before[2], before[3] + stored)
        what, safe = _refusal(result.output, result.code, expect, count_rows(url) == after)
        yield Outcome("tracker import: CSV file", name, what, safe)


def config_files(tmp_path: Path) -> Iterator[Outcome]:
    for case in CONFIG_CASES + RULE_CASES:
        folder = tmp_path / f"config-{case.id}"
        folder.mkdir()
        config = folder / "tracker.toml"
        if case.id.startswith("rule-"):
            (folder / "rules.toml").write_text(case.value)
            config.write_text("[normalization]\nrule_files = ['rules.toml']\n")
        else:
            config.write_text(case.value)
        result = CliRunnerResult.of("check-config", str(config))
        what, safe = _refusal(result.output, result.code, case.expect, unchanged=True)
        kind = "check-config: rule file" if case.id.startswith("rule-") else "check-config: config"
        yield Outcome(kind, case.id, what, safe and result.code == 2)


def email_addresses(tmp_path: Path) -> Iterator[Outcome]:
    """Each address the rule refuses is refused by every door: add/import/edit (parse_order),
    the config's sender check, the message builder and the SMTP transport (issue 13, item 9)."""
    doors = {
        "orders": address_rule._accepted_by_orders,
        "config": address_rule._accepted_by_config,
        "builder": address_rule._accepted_by_builder,
        "smtp": address_rule._accepted_by_transport,
    }
    for address, accepted in address_rule.ADDRESSES:
        if accepted:
            continue
        letting_in = [door for door, accepts in doors.items() if accepts(address)]
        what = f"let in by {letting_in}" if letting_in else f"refused by all {len(doors)} doors"
        yield Outcome("email address", address[:40], what, not letting_in)


def long_names(tmp_path: Path) -> Iterator[Outcome]:
    """A buyer or store name of any length never makes a header line over 998 octets."""
    for label, name in address_rule.NAMES.items():
        message = build_message(
            address_rule.NOTICE,
            sender=format_address(name, "orders@shop.example"),
            recipient=format_address(name, "ana@example.com"),
            reply_to=None,
            message_id=message_id_for("k", "shop.example"),
        )
        longest = max(len(line) for line in message.as_bytes().split(b"\n"))
        yield Outcome(
            "name in a mail header", label, f"longest line {longest} octets", longest <= 998
        )


def read_only_stores(tmp_path: Path) -> Iterator[Outcome]:
    """Read-only commands given a store that is missing, not a tracker's, or at an older schema
    revision: a clear refusal naming the store, and nothing created or changed."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    foreign = folder / "foreign.sqlite3"
    sqlite3.connect(foreign).close()
    older = folder / "older.sqlite3"
    open_store(f"sqlite:///{older}").kw["bind"].dispose()
    connection = sqlite3.connect(older)
    with connection:  # commits; closing below moves the write-ahead log into the file now,
        connection.execute("UPDATE alembic_version SET version_num = ?", (SCHEMA_REVISIONS[-2],))
    connection.close()  # not later, between a command's before and after bytes
    stores = {
        "missing": (folder / "missing" / "tracker.sqlite3", "does not exist"),
        "foreign": (foreign, "has no tracker schema"),
        "older": (older, f"is at schema revision {SCHEMA_REVISIONS[-2]}"),
    }
    for argv in READ_ONLY:
        for name, (path, expect) in stores.items():
            before = path.read_bytes() if path.exists() else None
            result = CliRunnerResult.of(*argv, "--store", f"sqlite:///{path}")
            after = path.read_bytes() if path.exists() else None
            what, safe = _refusal(result.output, result.code, (str(path), expect), before == after)
            yield Outcome("read-only command: store", f"{argv[0]} {name}", what, safe)


def carrier_text(tmp_path: Path) -> Iterator[Outcome]:
    when = datetime(2026, 3, 1, tzinfo=UTC)
    for n, (raw, _) in enumerate([*CLEANED, (HOSTILE, "")]):
        event = RawEvent(when, raw, code=f"E{raw[:2]}", location=raw, country="BR")
        fields = [event.text, event.code or "", event.location or ""]
        safe = not any(has_controls(f) for f in fields)
        yield Outcome("carrier event text", f"text-{n}", f"stored as {event.text[:40]!r}", safe)


def retry_after_values(tmp_path: Path) -> Iterator[Outcome]:
    for header, _ in RETRY_AFTERS:
        seconds = parse_retry_after(header, now=NOW)
        safe = seconds is None or 0 <= seconds <= MAX_RETRY_AFTER
        what = "ignored" if seconds is None else f"wait {seconds:.0f} s"
        yield Outcome("carrier Retry-After", repr(header)[:30], what, safe)


REDIRECTS = {
    "302 to another origin": ("GET", 302, "https://elsewhere.example/x", "credential withheld"),
    "307 to another origin": ("GET", 307, "https://elsewhere.example/x", "credential withheld"),
    "307 form to another origin": ("POST", 307, "https://elsewhere.example/t", "refused"),
    "308 form to another origin": ("POST", 308, "https://elsewhere.example/t", "refused"),
    "301 https to http": ("GET", 301, "http://carrier.example/x", "refused"),
    "302 https to http, same host": ("POST", 302, "http://carrier.example/t", "refused"),
}


async def _redirect(method: str, status: int, location: str) -> tuple[str, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "carrier.example" and request.url.scheme == "https":
            return httpx.Response(status, headers={"Location": location})
        return httpx.Response(200, text="landed")

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(handler),
        follow_redirects=True,
        event_hooks={"request": [guard_redirect]},
    ) as client:
        headers = {"X-API-Key": SECRET, "Authorization": f"Bearer {SECRET}"}
        data = {"client_secret": SECRET} if method == "POST" else None
        request = client.build_request(
            method, "https://carrier.example/api", headers=headers, data=data
        )
        try:
            await send_for_reply(client, request, carrier="probe", numbers=())
        except CarrierUnavailable as exc:
            return f"refused: {str(exc)[:70]}", seen
    return "followed", seen


async def redirects(tmp_path: Path) -> list[Outcome]:
    found = []
    for name, (method, status, location, promise) in REDIRECTS.items():
        what, seen = await _redirect(method, status, location)
        elsewhere = seen[1:]
        leaked = any(SECRET in str(r.headers) or SECRET.encode() in r.content for r in elsewhere)
        if promise == "refused":
            safe = what.startswith("refused") and not elsewhere
        else:
            safe = what == "followed" and bool(elsewhere) and not leaked
            what = "followed, credential withheld" if safe else what
        found.append(Outcome("carrier redirect", name, what, safe))
    return found


def templates(tmp_path: Path) -> Iterator[Outcome]:
    for name, template in ESCAPES.items():
        folder = tmp_path / f"template-{len(name)}-{abs(hash(name)) % 10_000}"
        folder.mkdir()
        (folder / "shipped.txt.j2").write_text(template, "utf-8")
        try:
            NoticeRenderer(overrides_dir=folder).render(make_context())
        except NoticeError as exc:
            yield Outcome("seller template", name, str(exc)[:80], "sandbox" in str(exc))
        else:
            yield Outcome("seller template", name, "rendered", False)


MARKUP = ["[/bold]", "[link=https://evil.example]click[/link]", "[red]alarm", "\\[b]", "[/]"]


def terminal_markup(tmp_path: Path) -> Iterator[Outcome]:
    for text in MARKUP:
        out = io.StringIO()
        try:
            Console(file=out, highlight=False, width=200).print(f"order {for_terminal(text)}")
        except Exception as exc:  # rich's MarkupError on "[/bold]" was the bug
            yield Outcome("stored text on a terminal", text, f"{type(exc).__name__}", False)
            continue
        printed = out.getvalue().strip()
        yield Outcome(
            "stored text on a terminal", text, f"printed {printed!r}", printed == f"order {text}"
        )


def redaction(tmp_path: Path) -> Iterator[Outcome]:
    for text, shown in REDACTIONS:
        got = redact_value(text)
        yield Outcome("log redaction", text[:30], f"logged as {got[:40]!r}", got == shown)


class CliRunnerResult:
    """A CLI run's exit code and combined output."""

    def __init__(self, code: int, output: str) -> None:
        self.code, self.output = code, output

    @classmethod
    def of(cls, *args: str) -> CliRunnerResult:
        result = invoke(*args)
        return cls(result.exit_code, result.output)


PROBES: list[Probe] = [
    orders_added,
    orders_imported,
    config_files,
    email_addresses,
    long_names,
    read_only_stores,
    carrier_text,
    retry_after_values,
    templates,
    terminal_markup,
    redaction,
]


@pytest.mark.integration  # a hundred CLI runs on real SQLite stores: not for the fast run
async def test_every_bad_input_has_a_safe_outcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = [outcome for probe in PROBES for outcome in probe(tmp_path)]
    outcomes += await redirects(tmp_path)
    counts = Counter((o.kind, "safe" if o.safe else "UNSAFE") for o in outcomes)
    lines = [f"{n:4d}  {outcome:6s}  {kind}" for (kind, outcome), n in sorted(counts.items())]
    inventory = tmp_path / "inventory.jsonl"
    inventory.write_text("".join(json.dumps(o.__dict__) + "\n" for o in outcomes))
    with capsys.disabled():
        print(f"\nbad-input inventory: {len(outcomes)} inputs tried\n" + "\n".join(lines))
    unsafe = [o for o in outcomes if not o.safe]
    assert unsafe == [], "\n".join(f"{o.kind} / {o.id}: {o.what}" for o in unsafe)
    kinds = Counter(o.kind for o in outcomes)
    assert len(kinds) == 13, kinds
    assert len(outcomes) >= 200, len(outcomes)
