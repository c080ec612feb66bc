"""``tracker preview KIND --journey NAME``: any journey's notice, rehearsed through the policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.journeys import spec
from tracker.cli import main


def _preview(tmp_path: Path, *args: str) -> tuple[int, str]:
    out = tmp_path / "notice.html"
    result = CliRunner().invoke(main, ["preview", *args, "--out", str(out)])
    text = out.with_suffix(".txt").read_text("utf-8") if out.exists() else ""
    return result.exit_code, text + result.output


@pytest.mark.parametrize(
    ("args", "lang", "must", "never"),
    [
        (["refund_offer", "--journey", "info_only"], "pl", "not_received", "sent_on"),
        (["refund_offer", "--journey", "lost"], "de", "lost", "keep_waiting"),
        (
            ["arrived_locally", "--journey", "not_collected", "--situation", "pickup_reminder"],
            "it",
            "until",
            "delay",
        ),
        (["refund_offer", "--journey", "returned"], "ru", "returning", "keep_waiting"),
        (["delayed", "--journey", "stalled_origin"], "fr", "delay", "carrier_has_it"),
    ],
)
def test_a_journeys_notice_is_rendered_as_the_daemon_would_send_it(
    tmp_path: Path, args: list[str], lang: str, must: str, never: str
) -> None:
    code, text = _preview(tmp_path, *args, "--lang", lang)
    assert code == 0, text
    assert spec.makes(text, lang, must)
    assert not spec.makes(text, lang, never)


def test_an_unknown_journey_is_named_with_the_known_ones(tmp_path: Path) -> None:
    code, output = _preview(tmp_path, "shipped", "--journey", "teleport")
    assert code == 2
    assert "'teleport': no such journey" in output
    assert "normal" in output


def test_a_notice_the_journey_never_sends_is_a_clear_error(tmp_path: Path) -> None:
    code, output = _preview(tmp_path, "delivered", "--journey", "lost")
    assert code == 2
    assert "journey 'lost' sends no delivered notice" in output
