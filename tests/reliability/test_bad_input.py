"""Bad input: malformed orders (``tracker add``, ``tracker import``), config files and rule files
(``tracker check-config``) each get a clear error that names the input, and nothing is written.

Table-driven through the real CLI (click's runner, real SQLite store); carrier payloads with
markup, line breaks and impossible dates are covered in ``test_bad_payloads.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from tracker.cli import main
from tracker.store.db import open_store
from tracker.store.models import AuditEntry, Notice, Shipment, TrackingEvent

GOOD = {
    "tracking_number": "RR123456785BR",
    "carrier": "correios",
    "buyer_email": "ana@example.com",
    "buyer_name": "Ana Souza",
    "buyer_language": "pt",
    "destination_country": "BR",
    "origin_country": "CN",
    "order_reference": "GC-1001",
    "shipped_date": "2026-01-10",
}
OPTION = {
    "carrier": "--carrier",
    "buyer_email": "--email",
    "buyer_name": "--name",
    "buyer_language": "--language",
    "destination_country": "--country",
    "origin_country": "--origin",
    "order_reference": "--order",
    "shipped_date": "--shipped",
}

#: add and import route only to configured carriers (issue 13, item 13)
CONFIGURED_CARRIERS = "".join(
    f"[carriers.{name}]\n" for name in ("correios", "russian_post", "ups", "usps")
)


@dataclass(frozen=True)
class Bad:
    """One malformed input and the words its error must contain."""

    id: str
    value: str
    expect: tuple[str, ...]
    field: str = ""
    #: good rows in the same file, which import stores while it reports the bad ones
    stored: int = 0


def count_rows(url: str) -> tuple[int, ...]:
    store = open_store(url)
    try:
        with store() as session:
            return tuple(
                session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Shipment, TrackingEvent, Notice, AuditEntry)
            )
    finally:
        store.kw["bind"].dispose()


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, str]:
    """A config whose SQLite store already holds one shipment (so duplicates can be tried)."""
    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    config = tmp_path / "tracker.toml"
    config.write_text(f'[store]\nurl = "{url}"\n' + CONFIGURED_CARRIERS)
    result = invoke("add", "RA123456785RU", *add_options(GOOD), "--config", str(config))
    assert result.exit_code == 0, result.output
    return config, url


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def add_options(row: dict[str, str]) -> list[str]:
    return [part for key, flag in OPTION.items() for part in (flag, row[key])]


def assert_rejected(
    result: Result, expect: tuple[str, ...], before: tuple[int, ...], url: str
) -> None:
    output = result.output
    assert result.exit_code != 0, output
    assert "Traceback" not in output
    for word in expect:
        assert word in output, f"{word!r} not in {output!r}"
    assert count_rows(url) == before, "a rejected input changed the store"


# -- tracker add -------------------------------------------------------------------------------

ADD_CASES = [
    Bad("s10-check-digit", "RR123456784BR", ("RR123456784BR", "check digit"), "tracking_number"),
    Bad(
        "ups-check-digit",
        "1Z999AA10123456785",
        ("1Z999AA10123456785", "check digit"),
        "tracking_number",
    ),
    Bad("too-short", "AB12", ("tracking_number", "AB12"), "tracking_number"),
    Bad("script-number", "<script>alert(1)</script>", ("tracking_number",), "tracking_number"),
    Bad("crlf-number", "RR123456785BR\r\nX", ("tracking_number", "line breaks"), "tracking_number"),
    Bad("email-no-at", "ana.example.com", ("buyer_email", "ana.example.com"), "buyer_email"),
    Bad("email-crlf-bcc", "ana@example.com\r\nBcc: all@evil.test", ("buyer_email",), "buyer_email"),
    Bad("email-two", "a@example.com, b@example.com", ("buyer_email",), "buyer_email"),
    Bad("email-no-tld", "ana@localhost", ("buyer_email", "ana@localhost"), "buyer_email"),
    Bad("email-html", "<a@example.com>", ("buyer_email",), "buyer_email"),
    # the sender used to refuse these after add had stored them (issue 13, item 9)
    Bad("email-local-70", "a" * 70 + "@example.com", ("buyer_email", "64"), "buyer_email"),
    Bad(
        "email-over-254",
        "a" * 64 + "@" + ".".join(c * 60 for c in "bcde") + ".com",
        ("buyer_email", "254"),
        "buyer_email",
    ),
    Bad("email-double-dot", "ana..souza@example.com", ("buyer_email", "dots"), "buyer_email"),
    Bad("email-label-64", "ana@" + "b" * 64 + ".com", ("buyer_email", "63"), "buyer_email"),
    Bad("email-hyphen-label", "ana@-example.com", ("buyer_email", "hyphens"), "buyer_email"),
    Bad("email-numeric-tld", "ana@10.0.0.1", ("buyer_email", "ends in a number"), "buyer_email"),
    Bad("email-non-ascii", "anã@example.com", ("buyer_email", "ASCII"), "buyer_email"),
    Bad(
        "name-crlf-header", "Ana\r\nBcc: all@evil.test", ("buyer_name", "line breaks"), "buyer_name"
    ),
    Bad("name-lf", "Ana\nSouza", ("buyer_name", "line breaks"), "buyer_name"),
    Bad("name-nul", "Ana\x00", ("buyer_name", "control"), "buyer_name"),
    Bad("name-blank", "   ", ("buyer_name", "missing"), "buyer_name"),
    Bad("name-too-long", "A" * 201, ("buyer_name", "200"), "buyer_name"),
    Bad("order-too-long", "X" * 101, ("order_reference", "100"), "order_reference"),
    Bad("language-unknown", "klingon", ("buyer_language", "klingon"), "buyer_language"),
    Bad("language-digits", "12", ("buyer_language", "12"), "buyer_language"),
    Bad("country-unknown", "XQ", ("destination_country", "XQ"), "destination_country"),
    Bad("country-name", "Brazil", ("destination_country",), "destination_country"),
    Bad("origin-unknown", "ZZ", ("origin_country", "ZZ"), "origin_country"),
    Bad("date-feb-30", "2026-02-30", ("shipped_date", "2026-02-30"), "shipped_date"),
    Bad("date-month-13", "2026-13-01", ("shipped_date", "2026-13-01"), "shipped_date"),
    Bad("date-words", "yesterday", ("shipped_date", "yesterday"), "shipped_date"),
    Bad("date-future", "2099-01-01", ("shipped_date", "future"), "shipped_date"),
    Bad("date-ancient", "1999-12-31", ("shipped_date", "2000-01-01"), "shipped_date"),
    Bad("carrier-unknown", "pigeon_post", ("carrier", "pigeon_post"), "carrier"),
]


@pytest.mark.parametrize("case", ADD_CASES, ids=lambda c: c.id)
def test_add_rejects(case: Bad, store: tuple[Path, str]) -> None:
    config, url = store
    before = count_rows(url)
    row = dict(GOOD)
    number = row["tracking_number"]
    if case.field == "tracking_number":
        number = case.value
        if case.id == "ups-check-digit":
            row["carrier"] = "ups"
    else:
        row[case.field] = case.value
    result = invoke("add", number, *add_options(row), "--config", str(config))
    assert_rejected(result, case.expect, before, url)


def test_add_rejects_a_number_already_tracked(store: tuple[Path, str]) -> None:
    config, url = store
    before = count_rows(url)
    result = invoke("add", "RA123456785RU", *add_options(GOOD), "--config", str(config))
    assert_rejected(result, ("already tracked", "RA123456785RU"), before, url)


# -- tracker import ----------------------------------------------------------------------------

HEADER = ",".join(GOOD)


def csv_line(**changes: str) -> str:
    row = {**GOOD, **changes}
    return ",".join(f'"{v}"' if any(c in v for c in ',"\r\n') else v for v in row.values())


CRLF_NAME = "Ana\r\nBcc: x@evil.test"
GOOD_LINE = csv_line(tracking_number="RR000000014BR", order_reference="GC-2")
IMPORT_CASES = [
    Bad(
        "missing-column",
        "tracking_number,buyer_email\nRR123456785BR,a@example.com\n",
        ("orders.csv", "missing column", "buyer_name"),
    ),
    Bad(
        "unknown-column",
        HEADER + ",coupon\n" + GOOD_LINE + ",X\n",
        ("orders.csv", "unknown column", "coupon"),
    ),
    Bad("extra-field", f"{HEADER}\n{GOOD_LINE},surprise\n", ("orders.csv:2", "more fields")),
    Bad(
        "bad-email-row",
        f"{HEADER}\n{GOOD_LINE}\n{csv_line(buyer_email='nope')}\n",
        ("orders.csv:3", "buyer_email", "nope"),
        stored=1,
    ),
    Bad(
        "long-local-part-row",
        f"{HEADER}\n{GOOD_LINE}\n{csv_line(buyer_email='x' * 70 + '@example.com')}\n",
        ("orders.csv:3", "buyer_email", "64"),
        stored=1,
    ),
    Bad(
        "crlf-name-row",
        f"{HEADER}\n{GOOD_LINE}\n{csv_line(buyer_name=CRLF_NAME)}\n",
        ("orders.csv:3", "buyer_name", "line breaks"),
        stored=1,
    ),
    Bad(
        "check-digit-row",
        f"{HEADER}\n{csv_line(tracking_number='RR123456784BR')}\n{GOOD_LINE}\n",
        ("orders.csv:2", "check digit"),
        stored=1,
    ),
    Bad(
        "country-row",
        f"{HEADER}\n{GOOD_LINE}\n{csv_line(destination_country='QQ')}\n",
        ("orders.csv:3", "destination_country", "QQ"),
        stored=1,
    ),
    Bad(
        "date-row",
        f"{HEADER}\n{GOOD_LINE}\n{csv_line(shipped_date='2026-02-31')}\n",
        ("orders.csv:3", "shipped_date", "2026-02-31"),
        stored=1,
    ),
    Bad(
        "language-row",
        f"{HEADER}\n{GOOD_LINE}\n{csv_line(buyer_language='xx-yy')}\n",
        ("orders.csv:3", "buyer_language", "xx-yy"),
        stored=1,
    ),
    Bad(
        "duplicate-rows",
        f"{HEADER}\n{GOOD_LINE}\n{GOOD_LINE}\n",
        ("orders.csv:3", "repeats line 2"),
        stored=1,
    ),
    Bad(
        "already-tracked",
        f"{HEADER}\n{GOOD_LINE}\n{csv_line(tracking_number='RA123456785RU')}\n",
        ("orders.csv:3", "already tracked"),
        stored=1,
    ),
    Bad("empty-file", "", ("orders.csv", "missing column")),
]


@pytest.mark.parametrize("case", IMPORT_CASES, ids=lambda c: c.id)
def test_import_rejects_and_stores_nothing(
    case: Bad, store: tuple[Path, str], tmp_path: Path
) -> None:
    config, url = store
    before = count_rows(url)
    orders = tmp_path / "orders.csv"
    orders.write_bytes(case.value.encode())
    result = invoke("import", str(orders), "--config", str(config))
    # good rows are kept, bad ones reported by line; a bad row itself never reaches the store
    after = (before[0] + case.stored, before[1], before[2], before[3] + case.stored)
    assert_rejected(result, case.expect, after, url)


def test_import_rejects_a_file_that_is_not_utf8(store: tuple[Path, str], tmp_path: Path) -> None:
    config, url = store
    before = count_rows(url)
    orders = tmp_path / "orders.csv"
    orders.write_bytes(f"{HEADER}\n{csv_line(buyer_name='Lucía García')}\n".encode("latin-1"))
    result = invoke("import", str(orders), "--config", str(config))
    assert_rejected(result, ("orders.csv", "UTF-8"), before, url)


# -- tracker check-config: config files and rule files -------------------------------------------

CONFIG_CASES = [
    Bad("unknown-top-key", "[stroe]\nurl = 'x'\n", ("stroe", "unknown key")),
    Bad("unknown-nested-key", "[daemon]\npol_every = '5m'\n", ("daemon.pol_every", "unknown key")),
    Bad(
        "duration-words", "[daemon]\npoll_every = '5 minutes'\n", ("daemon.poll_every", "5 minutes")
    ),
    Bad("duration-bare-number", "[daemon]\npoll_every = 300\n", ("daemon.poll_every", "unit")),
    Bad("not-toml", "[daemon\npoll_every = '5m'\n", ("not valid TOML",)),
    Bad("port-range", "[mail.smtp]\nport = 70000\n", ("mail.smtp.port",)),
    Bad("transport", "[mail]\ntransport = 'pigeon'\n", ("mail.transport",)),
    Bad(
        "country-key",
        "[thresholds.country.Brazil]\nstalled_after = '10d'\n",
        ("Brazil", "ISO 3166"),
    ),
    Bad("one-choice", "[refund]\nchoices = ['refund']\n", ("refund.choices", "two")),
    Bad("batch-zero", "[daemon]\nbatch_size = 0\n", ("daemon.batch_size",)),
    Bad("quiet-hour-25", "[quiet_hours]\nstart = '25:00'\n", ("quiet_hours.start",)),
    Bad(
        "negative-rate",
        "[carriers.sandbox]\nrequests_per_second = -1\n",
        ("carriers.sandbox.requests_per_second",),
    ),
    Bad(
        "carrier-unknown-key",
        "[carriers.sandbox]\nbase_uri = 'http://x'\n",
        ("carriers.sandbox.base_uri", "unknown key"),
    ),
    Bad("milestone-unknown", "[notices]\ndisabled = ['shippped']\n", ("notices.disabled",)),
    Bad("log-level", "[logging]\nlevel = 'loud'\n", ("logging.level",)),
    # values that parse but fail at run time; check-config and run refuse them alike (item 8)
    Bad("poll-zero", "[daemon]\npoll_every = '0s'\n", ("daemon.poll_every", "too short")),
    Bad("dispatch-1ms", "[daemon]\ndispatch_every = '1ms'\n", ("daemon.dispatch_every", "100ms")),
    Bad("http-timeout-zero", "[daemon]\nhttp_timeout = '0s'\n", ("daemon.http_timeout", "1s")),
    Bad("smtp-timeout-ms", "[mail.smtp]\ntimeout = '500ms'\n", ("mail.smtp.timeout", "1s")),
    Bad("grace-zero", "[daemon]\nshutdown_grace = '0s'\n", ("daemon.shutdown_grace",)),
    Bad("backoff-zero", "[mail]\nretry_backoff = '0s'\n", ("mail.retry_backoff",)),
    Bad(
        "carrier-timeout-zero",
        "[carriers.sandbox]\ntimeout = '0s'\n",
        ("carriers.sandbox.timeout", "too short"),
    ),
    Bad(
        "threshold-zero",
        "[thresholds.country.BR]\nstalled_after = '0s'\n",
        ("thresholds.country.BR.stalled_after",),
    ),
    Bad("link-ttl-hour", "[web]\nlink_ttl = '1h'\n", ("web.link_ttl", "1d")),
    Bad(
        "lease-under-timeout",
        "[daemon]\nlease = '15s'\nhttp_timeout = '20s'\n",
        ("daemon.lease", "daemon.http_timeout"),
    ),
    Bad(
        "duration-overflow",
        "[thresholds.default]\nstalled_after = '99999999999d'\n",
        ("thresholds.default.stalled_after", "99999999999d", "100 years"),
    ),
    Bad(
        "duration-400-digits",
        f"[daemon]\npoll_every = '{'9' * 400}s'\n",
        ("daemon.poll_every", "100 years"),
    ),
    Bad("sender-words", "[seller]\nsender = 'Example Store'\n", ("seller.sender", "name@")),
    Bad(
        "sender-local-70",
        f"[seller]\nsender = 'Shop <{'o' * 70}@example.com>'\n",
        ("seller.sender", "64"),
    ),
    Bad(
        "reply-to-two",
        "[seller]\nreply_to = 'a@example.com, b@example.com'\n",
        ("seller.reply_to", "not one email address"),
    ),
    Bad(
        "message-id-domain",
        "[seller]\nmessage_id_domain = 'mail..example.com'\n",
        ("seller.message_id_domain", "bad part"),
    ),
    Bad(
        "message-id-domain-url",
        "[seller]\nmessage_id_domain = 'https://example.com'\n",
        ("seller.message_id_domain",),
    ),
    Bad(
        "seller-email",
        "[refund]\nnotify_seller_email = 'owner'\n",
        ("refund.notify_seller_email", "owner"),
    ),
    Bad(
        "default-language",
        "[seller]\ndefault_language = 'klingon'\n",
        ("seller.default_language", "klingon", "pt-PT"),
    ),
    Bad(
        "seller-language-table",
        "[seller.languages.br]\nsignature = 'Equipe'\n",
        ("seller.languages.br",),
    ),
    Bad(
        "time-zone",
        "[quiet_hours.timezone_by_country]\nBR = 'America/Atlantis'\n",
        ("quiet_hours.timezone_by_country.BR", "America/Atlantis"),
    ),
    Bad(
        "time-zone-path",
        "[quiet_hours.timezone_by_country]\nBR = '../../etc/passwd'\n",
        ("quiet_hours.timezone_by_country.BR", "time zone"),
    ),
    Bad(
        "time-zone-country",
        "[quiet_hours.timezone_by_country]\nBrazil = 'America/Sao_Paulo'\n",
        ("quiet_hours.timezone_by_country.Brazil", "ISO 3166"),
    ),
    Bad(
        "secrets-unset",
        "[carriers.dhl]\napi_key_env = 'TRACKER_TEST_UNSET_DHL'\n"
        "[carriers.ups]\nclient_id_env = 'TRACKER_TEST_UNSET_UPS_ID'\n"
        "client_secret_env = 'TRACKER_TEST_UNSET_UPS_SECRET'\n"
        "[mail]\ntransport = 'smtp'\n[mail.smtp]\nusername = 'shop'\n"
        "password_env = 'TRACKER_TEST_UNSET_SMTP'\n",
        (
            "carriers.dhl.api_key_env",
            "TRACKER_TEST_UNSET_DHL",
            "TRACKER_TEST_UNSET_UPS_ID",
            "TRACKER_TEST_UNSET_UPS_SECRET",
            "mail.smtp.password_env",
            "TRACKER_TEST_UNSET_SMTP",
        ),
    ),
    Bad(
        "missing-rule-file",
        "[normalization]\nrule_files = ['nope.toml']\n",
        ("nope.toml", "cannot read"),
    ),
]

RULE_CASES = [
    Bad("rule-not-toml", "[[text]\n", ("rules.toml", "not valid TOML")),
    Bad("rule-unknown-key", "[texts]\n", ("rules.toml", "unknown top-level", "texts")),
    Bad(
        "rule-status",
        "[[text]]\nid = 'x'\nstatus = 'teleported'\nphrases = ['beam']\n",
        ("rules.toml", "teleported"),
    ),
    Bad(
        "rule-detail-mismatch",
        "[[text]]\nid = 'x'\nstatus = 'delivered'\ndetail = 'customs_hold'\nphrases = ['a']\n",
        ("rules.toml", "customs_hold", "delivered"),
    ),
    Bad(
        "rule-detail-unknown",
        "[[text]]\nid = 'x'\nstatus = 'exception'\ndetail = 'eaten'\nphrases = ['a']\n",
        ("rules.toml", "eaten"),
    ),
    Bad(
        "rule-no-id",
        "[[text]]\nstatus = 'delivered'\nphrases = ['left at door']\n",
        ("rules.toml", "id"),
    ),
    Bad(
        "rule-no-phrases",
        "[[text]]\nid = 'x'\nstatus = 'delivered'\nphrases = []\n",
        ("rules.toml", "phrases"),
    ),
    Bad(
        "rule-empty-phrase",
        "[[text]]\nid = 'x'\nstatus = 'delivered'\nphrases = ['  ']\n",
        ("rules.toml", "empty phrase"),
    ),
    Bad(
        "rule-bad-regex",
        "[[text]]\nid = 'x'\nstatus = 'delivered'\nphrases = ['(unclosed']\n",
        ("rules.toml", "bad phrase"),
    ),
    Bad(
        "rule-named-group",
        "[[text]]\nid = 'x'\nstatus = 'delivered'\nphrases = ['(?P<a>x)']\n",
        ("rules.toml", "named groups"),
    ),
    Bad(
        "rule-fallback",
        "[[text]]\nid = 'x'\nstatus = 'delivered'\nphrases = ['a']\nfallback = 'yes'\n",
        ("rules.toml", "fallback"),
    ),
    Bad("rule-codes-not-table", "codes = 5\n", ("rules.toml", "codes")),
    Bad(
        "rule-code-status",
        "[codes.upu]\nEMZ = { status = 'lost_in_space' }\n",
        ("rules.toml", "upu.EMZ", "lost_in_space"),
    ),
]


@pytest.mark.parametrize("case", CONFIG_CASES + RULE_CASES, ids=lambda c: c.id)
def test_check_config_rejects(case: Bad, tmp_path: Path) -> None:
    config = tmp_path / "tracker.toml"
    if case.id.startswith("rule-"):
        (tmp_path / "rules.toml").write_text(case.value)
        config.write_text("[normalization]\nrule_files = ['rules.toml']\n")
    else:
        config.write_text(case.value)
    result = invoke("check-config", str(config))
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    assert any(name in output for name in ("tracker.toml", "rules.toml", "nope.toml")), output
    for word in case.expect:
        assert word in output, f"{word!r} not in {output!r}"


def test_there_are_at_least_fifty_bad_inputs() -> None:
    assert len(ADD_CASES) + len(IMPORT_CASES) + len(CONFIG_CASES) + len(RULE_CASES) + 2 >= 50
