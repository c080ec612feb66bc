"""`check-config` and `run` share one validation: a config one accepts the other runs, and one
it refuses the other refuses with the same key named. The webhook server mounts exactly the
receivers of the aggregators given a webhook secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker.cli import main
from tracker.clock import SimulatedClock
from tracker.config import load_config
from tracker.errors import ConfigError
from tracker.runtime.app import build_app
from tracker.runtime.preflight import check_runnable, push_routes
from tracker.web.site import DaemonSite

from .test_aggregator_pushes import START


def config_file(tmp_path: Path, *sections: str) -> Path:
    text = "\n".join(
        [
            "[store]",
            f'url = "sqlite:///{tmp_path / "tracker.sqlite3"}"',
            "[mail]",
            f'maildir = "{tmp_path / "mail"}"',
            *sections,
        ]
    )
    path = tmp_path / "tracker.toml"
    path.write_text(text + "\n", encoding="utf-8")
    return path


AFTERSHIP_ONLY = (
    "[carriers.aftership]",
    'api_key_env = "TEST_AS_KEY"',
    'webhook_secret_env = "TEST_AS_WEBHOOK"',
    "[routing]",
    'aggregator = "aftership"',
    "[webhooks]",
    "port = 0",
)


def check_config(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check-config", str(path)])
    return result.exit_code, result.output


def run(path: Path) -> tuple[int, str]:
    """``tracker run`` up to the point it would start the daemon: only refusals return."""
    result = CliRunner().invoke(main, ["run", "--config", str(path)])
    return result.exit_code, result.output


@pytest.fixture
def aftership_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_AS_KEY", "api-key")
    monkeypatch.setenv("TEST_AS_WEBHOOK", "secret")


@pytest.mark.integration
@pytest.mark.usefixtures("aftership_env")
async def test_aftership_alone_with_a_port_is_accepted_and_served(tmp_path: Path) -> None:
    path = config_file(tmp_path, *AFTERSHIP_ONLY)
    code, output = check_config(path)
    assert (code, output.splitlines()[0]) == (0, f"{path}: OK")
    config = load_config(path)
    check_runnable(config)  # what `run` calls before anything starts
    app = build_app(config, SimulatedClock(START))
    server = DaemonSite(app)
    try:
        await server.start()
        assert [(r.adapter, r.receiver.path) for r in server.routes] == [
            ("aftership", "/webhooks/aftership")
        ]
        assert server.routes[0].carriers == {"aftership"}
    finally:
        await server.stop()
        await app.close()


REFUSED = {
    "webhook secret variable unset": (
        (*AFTERSHIP_ONLY[:2], 'webhook_secret_env = "TEST_UNSET_WEBHOOK"', *AFTERSHIP_ONLY[3:]),
        "carriers.aftership.webhook_secret_env: environment variable TEST_UNSET_WEBHOOK is not set",
    ),
    "api key variable unset": (
        ("[carriers.aftership]", 'api_key_env = "TEST_UNSET_KEY"'),
        "carriers.aftership.api_key_env: environment variable TEST_UNSET_KEY is not set",
    ),
    "aggregator without a key": (
        ("[carriers.china_post_17]", 'adapter = "seventeentrack"'),
        "carriers.china_post_17.api_key_env: the seventeentrack adapter needs its api_key",
    ),
    "port with nothing to serve": (
        ("[webhooks]", "port = 0"),
        "webhooks.port is set but no carrier has a webhook secret",
    ),
    "secret for an adapter that takes no pushes": (
        ("[carriers.sandbox]", 'webhook_secret_env = "TEST_AS_WEBHOOK"'),
        "carriers.sandbox.webhook_secret_env: the sandbox adapter takes no pushes",
    ),
    "two secrets for one webhook": (
        (
            *AFTERSHIP_ONLY[:3],
            "[carriers.usps_via_aftership]",
            'adapter = "aftership"',
            'api_key_env = "TEST_AS_KEY"',
            'webhook_secret_env = "TEST_AS_KEY"',
        ),
        "name different variables for one aftership webhook",
    ),
    "aggregator not configured": (
        ("[routing]", 'aggregator = "ship24"'),
        "routing.aggregator: 'ship24' has no [carriers.ship24] table",
    ),
    "unknown adapter": (
        ("[carriers.parcelpal]", 'api_key_env = "TEST_AS_KEY"'),
        "carriers.parcelpal: carrier plugin 'parcelpal' is not installed",
    ),
}


@pytest.mark.usefixtures("aftership_env")
@pytest.mark.parametrize(("sections", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_check_config_and_run_refuse_the_same_config_naming_the_key(
    tmp_path: Path, sections: tuple[str, ...], message: str
) -> None:
    path = config_file(tmp_path, *sections)
    checked, checked_output = check_config(path)
    ran, ran_output = run(path)
    assert (checked, ran) == (2, 2)
    assert message in checked_output
    assert message in ran_output
    assert not (tmp_path / "tracker.sqlite3").exists()  # run stopped before opening the store


def test_older_17track_key_still_mounts_its_receiver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_17_PUSH", "key")
    path = config_file(
        tmp_path,
        "[carriers.china_post_17]",
        'adapter = "seventeentrack"',
        'api_key_env = "TEST_17_PUSH"',
        "[webhooks]",
        "port = 0",
        'seventeentrack_key_env = "TEST_17_PUSH"',
    )
    (route,) = push_routes(load_config(path))
    assert route.receiver.path == "/webhooks/seventeentrack"
    assert route.secret_key == "webhooks.seventeentrack_key_env"
    assert route.carriers == {"seventeentrack", "china_post_17"}


def test_an_empty_secret_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_AS_KEY", "api-key")
    monkeypatch.setenv("TEST_AS_WEBHOOK", "")
    with pytest.raises(ConfigError, match="TEST_AS_WEBHOOK is empty"):
        push_routes(load_config(config_file(tmp_path, *AFTERSHIP_ONLY)))
