"""Secrets and addresses kept out of logs, errors and ``tracker events`` (issue 13, item 5)."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from structlog.testing import capture_logs

from tests.notices_e2e.conftest import T0, notices, queue, shipment, smtp_config
from tests.notices_e2e.conftest import stored as store_shipments
from tests.support.loopback import LoopbackHTTPServer, Reply
from tests.support.smtp import SmtpSink
from tracker.cli import main
from tracker.clock import SimulatedClock
from tracker.eventlog import configure_logging, get_logger, redact_secrets, redact_value
from tracker.jobs.dispatch import dispatch_due
from tracker.runtime.app import build_app

MESSAGE_ID = "<0123456789abcdef0123456789abcdef.notice@shop.example>"

CASES = [
    ("jane.doe@example.com", "j***@example.com"),
    ("bob~@example.com", "b***@example.com"),  # was logged whole
    ("maria#smith@example.com", "m***@example.com"),  # was maria#s***@
    ("o'brien@example.ie", "o***@example.ie"),
    ("'ann@x.org'", "'***@x.org'"),  # a repr: the quote is taken in, which hides more, not less
    ("маша@пример.рф", "м***@пример.рф"),
    ('"ana souza"@example.com', '"a***"@example.com'),
    ("Ana Souza <ana@buyers.example>", "Ana Souza <a***@buyers.example>"),
    ("550 5.1.1 <ana@buyers.example>: unknown", "550 5.1.1 <a***@buyers.example>: unknown"),
    ("to=bob@x.com,cc=al@y.org", "to=b***@x.com,cc=a***@y.org"),
    ("path/ann@x.org", "path/a***@x.org"),
    (MESSAGE_ID, MESSAGE_ID),  # our Message-IDs are not addresses: left whole
    (f"sent {MESSAGE_ID} to ana@b.example", f"sent {MESSAGE_ID} to a***@b.example"),
    ("postgresql://tracker:hunter2@db:5432/t", "postgresql://tracker:***@db:5432/t"),
    ("postgresql://u:p@ss@db/t", "postgresql://u:***@db/t"),  # an @ in the password
    ("https://tok3n@hooks.example/x", "https://***@hooks.example/x"),
    ("no secrets here", "no secrets here"),
]


@pytest.mark.parametrize(("text", "shown"), CASES)
def test_redaction(text: str, shown: str) -> None:
    assert redact_value(text) == shown
    assert redact_value({"error": [text]}) == {"error": [shown]}


def test_url_passwords_are_hidden_even_when_emails_are_shown() -> None:
    out = io.StringIO()
    configure_logging("json", redact=False, stream=out)
    try:
        get_logger().error("store.failed", url="postgresql://app:hunter2@db/t", to="ana@b.example")
    finally:
        configure_logging("json", stream=io.StringIO())
    line = json.loads(out.getvalue())
    assert line["url"] == "postgresql://app:***@db/t"
    assert line["to"] == "ana@b.example"
    assert redact_secrets("ana@b.example") == "ana@b.example"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://tracker:hunter2@localhost:notaport/tracker",
        "postgresql+nodriver://tracker:hunter2@localhost/tracker",
    ],
)
def test_a_store_url_in_an_error_keeps_its_password(url: str) -> None:
    result = CliRunner().invoke(main, ["show", "--store", url, "SBNM00000001"])
    assert result.exit_code != 0
    assert "hunter2" not in result.output
    assert "tracker:***@localhost" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


async def test_the_seller_webhook_url_comes_from_the_environment_and_is_never_shown(
    tmp_path: Path,
    smtp_server: SmtpSink,
    loopback_http: LoopbackHTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hook = "/hooks/k7Qz-private-path"
    loopback_http.route("POST", hook, lambda request: Reply(500, "busy"))
    monkeypatch.setenv("SELLER_HOOK", f"{loopback_http.base_url.replace('//', '//t0k3n@')}{hook}")
    config = smtp_config(tmp_path, smtp_server)
    config = config.model_copy(
        update={
            "refund": config.refund.model_copy(update={"notify_seller_webhook_env": "SELLER_HOOK"})
        }
    )
    url = config.store.url
    (shipment_id,) = store_shipments(url, shipment())
    queue(url, shipment_id, "refund_offer")
    clock = SimulatedClock(T0)
    app = build_app(config, clock)
    try:
        with capture_logs() as logs:
            await dispatch_due(app)  # the buyer's offer; queues the seller's webhook copy
            await dispatch_due(app)  # the webhook answers 500: retried later
            loopback_http.route("POST", hook, lambda request: Reply(204))
            clock.advance(timedelta(hours=1))
            await dispatch_due(app)
    finally:
        await app.close()

    assert [r.path for r in loopback_http.requests] == [hook, hook]
    assert loopback_http.requests[0].headers["authorization"].startswith("Basic ")
    rows = notices(url)
    assert [n.state for n in rows] == ["sent", "sent"]
    result = CliRunner().invoke(main, ["events", "--store", url, "--json"])
    assert result.exit_code == 0, result.output
    shown = (
        [json.dumps(e) for e in logs]
        + [result.output]
        + [f"{n.subject} {n.last_error}" for n in rows]
    )
    assert any("seller webhook: HTTP 500" in text for text in shown)
    for text in shown:
        assert "t0k3n" not in text
        assert "k7Qz" not in text
