"""``check-config`` refuses what fails at run time, and ``tracker run`` refuses the same configs
with the same words (issue 13, item 8): both call ``check_runnable``.

The bad values themselves are the ``CONFIG_CASES`` of ``tests/reliability/test_bad_input.py``
(counted by the bad-input inventory); here each is also given to ``tracker run``, whose daemon
must never start.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.reliability.test_bad_input import CONFIG_CASES, Bad
from tracker.cli import main
from tracker.config import TrackerConfig, load_config
from tracker.runtime.config_values import MINIMUMS, minimum_for, value_problems

REPO = Path(__file__).resolve().parents[2]


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _problems(output: str) -> list[str]:
    """The indented lines under ``error:`` (a loopback server thread left by another test may
    print into the same captured stderr, so nothing else is read)."""
    lines = output.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("error: "))
    problems = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        problems.append(line.strip())
    return problems or [lines[start]]


@pytest.fixture
def never_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """A config the checks let through fails the test at once instead of running forever."""

    def started(*_: object) -> None:
        raise AssertionError("tracker run started a daemon for a config it should refuse")

    monkeypatch.setattr("tracker.commands.daemon.build_app", started)


@pytest.mark.parametrize("case", CONFIG_CASES, ids=lambda c: c.id)
def test_run_refuses_what_check_config_refuses_in_the_same_words(
    case: Bad, tmp_path: Path, never_start: None
) -> None:
    config = tmp_path / "tracker.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n' + case.value)
    checked = _invoke("check-config", str(config))
    ran = _invoke("run", "--config", str(config))
    assert checked.exit_code == 2, checked.output
    assert ran.exit_code == 2, ran.output
    # catch_exceptions=False: an exception from our code would have failed the test already
    assert _problems(ran.output) == _problems(checked.output)
    for word in case.expect:
        assert word in ran.output, f"{word!r} not in {ran.output!r}"


SECRETS = """
[carriers.dhl]
api_key_env = "TRACKER_TEST_DHL_KEY"
[carriers.usps]
client_id_env = "TRACKER_TEST_USPS_ID"
client_secret_env = "TRACKER_TEST_USPS_SECRET"
[carriers.aftership]
api_key_env = "TRACKER_TEST_AFTERSHIP_KEY"
webhook_secret_env = "TRACKER_TEST_AFTERSHIP_HOOK"
[mail]
transport = "smtp"
[mail.smtp]
username = "shop"
password_env = "TRACKER_TEST_SMTP_PASSWORD"
[refund]
notify_seller_webhook_env = "TRACKER_TEST_SELLER_HOOK"
[webhooks]
port = 0
"""
SECRET_VARIABLES = {
    "carriers.dhl.api_key_env": "TRACKER_TEST_DHL_KEY",
    "carriers.usps.client_id_env": "TRACKER_TEST_USPS_ID",
    "carriers.usps.client_secret_env": "TRACKER_TEST_USPS_SECRET",
    "carriers.aftership.api_key_env": "TRACKER_TEST_AFTERSHIP_KEY",
    "carriers.aftership.webhook_secret_env": "TRACKER_TEST_AFTERSHIP_HOOK",
    "mail.smtp.password_env": "TRACKER_TEST_SMTP_PASSWORD",
    "refund.notify_seller_webhook_env": "TRACKER_TEST_SELLER_HOOK",
}


def test_every_unset_secret_is_listed_at_once_then_setting_them_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, never_start: None
) -> None:
    for variable in SECRET_VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    config = tmp_path / "tracker.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n' + SECRETS)
    checked = _invoke("check-config", str(config))
    assert checked.exit_code == 2, checked.output
    assert sorted(_problems(checked.output)) == sorted(
        f"{key}: environment variable {variable} is not set"
        for key, variable in SECRET_VARIABLES.items()
    )
    assert _problems(_invoke("run", "--config", str(config)).output) == _problems(checked.output)
    for variable in SECRET_VARIABLES.values():
        monkeypatch.setenv(variable, "s3cret")
    checked = _invoke("check-config", str(config))
    assert checked.exit_code == 0, checked.output


def test_an_empty_secret_is_refused_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_TEST_DHL_KEY", "")
    config = tmp_path / "tracker.toml"
    config.write_text('[carriers.dhl]\napi_key_env = "TRACKER_TEST_DHL_KEY"\n')
    checked = _invoke("check-config", str(config))
    assert checked.exit_code == 2
    assert "carriers.dhl.api_key_env: environment variable TRACKER_TEST_DHL_KEY is empty" in (
        checked.output
    )


def test_a_secret_for_something_switched_off_is_only_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRACKER_TEST_DHL_KEY", raising=False)
    monkeypatch.delenv("TRACKER_TEST_SMTP_PASSWORD", raising=False)
    config = tmp_path / "tracker.toml"
    config.write_text(
        '[carriers.dhl]\nenabled = false\napi_key_env = "TRACKER_TEST_DHL_KEY"\n'
        '[mail.smtp]\npassword_env = "TRACKER_TEST_SMTP_PASSWORD"\n'
    )
    checked = _invoke("check-config", str(config))
    assert checked.exit_code == 0, checked.output
    assert (
        "warning: carriers.dhl.api_key_env: environment variable TRACKER_TEST_DHL_KEY is not "
        "set (not read while the carrier is disabled)" in checked.output
    )
    assert (
        "warning: mail.smtp.password_env: environment variable TRACKER_TEST_SMTP_PASSWORD is "
        "not set (not read while mail goes to the Maildir)" in checked.output
    )


def test_defaults_and_the_shipped_config_are_within_every_minimum() -> None:
    assert value_problems(TrackerConfig()) == []
    assert value_problems(load_config(REPO / "config" / "tracker.toml")) == []


def test_the_minimums_are_written_in_the_shipped_config() -> None:
    documented = (REPO / "config" / "tracker.toml").read_text("utf-8")
    assert "Shortest values that work" in documented
    for pattern, _, _ in MINIMUMS:
        if pattern != "*":
            key = pattern.split(".")[-1].replace("*", "")
            assert key in documented, f"{pattern} is not in config/tracker.toml"
    assert minimum_for("daemon.poll_every")[0] == timedelta(milliseconds=100)
    assert minimum_for("thresholds.country.BR.delay_grace")[0] == timedelta(0)
    assert minimum_for("carriers.dhl.timeout")[0] == timedelta(seconds=1)
