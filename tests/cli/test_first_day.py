"""The first day (issue 13, items 12, 13, 15): one config found the same way by every command,
each command saying which store it used, and numbers routed only to configured carriers."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import tracker.commands.common as common
from tests.support.smtp import SmtpSink
from tracker.cli import main
from tracker.store.db import open_store
from tracker.store.models import AuditEntry, Notice, Shipment

ORDER = [
    "--email",
    "ana@example.com",
    "--name",
    "Ana Souza",
    "--country",
    "BR",
    "--order",
    "ORD-1",
    "--shipped",
    "2026-11-20",
]
CORREIOS_NUMBER = "RB473124829BR"


def invoke(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner(env=env).invoke(main, list(argv))
    return result.exit_code, result.stdout, result.stderr


def write_config(folder: Path, body: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tracker.toml"
    path.write_text(f'[store]\nurl = "sqlite:///state/tracker.sqlite3"\n{body}')
    return path


@pytest.fixture
def no_default_configs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither /etc/tracker/tracker.toml nor ./config/tracker.toml of this machine count."""
    monkeypatch.setattr(common, "SYSTEM_CONFIG", tmp_path / "absent" / "etc.toml")
    monkeypatch.setattr(common, "LOCAL_CONFIG", tmp_path / "absent" / "local.toml")
    monkeypatch.delenv("TRACKER_CONFIG", raising=False)


# -- item 12: one config, one store, said out loud ------------------------------------------


@pytest.mark.usefixtures("no_default_configs")
def test_every_command_finds_the_system_config_and_says_which_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path / "etc", "[carriers.correios]\n")
    monkeypatch.setattr(common, "SYSTEM_CONFIG", config)
    store = tmp_path / "etc" / "state" / "tracker.sqlite3"
    said = f"store: {store} (config {config})"
    monkeypatch.chdir(tmp_path)  # another folder than the config's: paths follow the config
    code, out, err = invoke("add", CORREIOS_NUMBER, *ORDER)
    assert (code, said in err.splitlines()) == (0, True), (out, err)
    for argv in (("show", CORREIOS_NUMBER), ("events",), ("unclassified",)):
        code, out, err = invoke(*argv)
        assert (code, said in err.splitlines()) == (0, True), (argv, out, err)
    code, _, err = invoke("status")
    assert code in (0, 1)  # no daemon heartbeat yet: unhealthy is the honest answer
    assert said in err.splitlines()
    for argv in (("status", "--json"), ("events", "--json")):
        assert "store:" not in invoke(*argv)[2]  # scripts get JSON only
    code, out, err = invoke("check-config")
    assert code == 0
    assert out == f"{config}: OK\n"
    assert said in err


@pytest.mark.usefixtures("no_default_configs")
def test_tracker_config_variable_wins_over_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "SYSTEM_CONFIG", write_config(tmp_path / "system"))
    mine = write_config(tmp_path / "mine", "[carriers.correios]\n")
    code, _, err = invoke("add", CORREIOS_NUMBER, *ORDER, env={"TRACKER_CONFIG": str(mine)})
    assert code == 0, err
    assert f"(config {mine})" in err
    assert (tmp_path / "mine" / "state" / "tracker.sqlite3").is_file()
    assert not (tmp_path / "system" / "state").exists()


@pytest.mark.usefixtures("no_default_configs")
def test_without_any_config_the_store_is_in_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke("show", CORREIOS_NUMBER)
    assert code == 2
    assert f"store: {tmp_path / 'var' / 'tracker.sqlite3'} (no config file: built-in" in err
    assert f"store {tmp_path / 'var' / 'tracker.sqlite3'} does not exist" in err
    assert not (tmp_path / "var").exists()
    code, _, err = invoke("check-config")
    assert code == 2
    assert "no config file found (looked at --config, else $TRACKER_CONFIG" in err


def test_the_shipped_config_keeps_state_where_the_service_keeps_it() -> None:
    """A copy of config/tracker.toml in /etc/tracker must not put the store in /etc/var."""
    shipped = Path(__file__).resolve().parents[2] / "config" / "tracker.toml"
    from tracker.config import load_config

    config = load_config(shipped)
    assert config.store.url == "sqlite:////var/lib/tracker/tracker.sqlite3"
    assert config.mail.maildir == Path("/var/lib/tracker/mail")


# -- item 13: routing ------------------------------------------------------------------------


def test_auto_routes_to_the_aggregator_when_the_detected_carrier_is_not_configured(
    tmp_path: Path,
) -> None:
    config = write_config(
        tmp_path, '[carriers.aftership]\napi_key_env = "K"\n[routing]\naggregator = "aftership"\n'
    )
    code, out, err = invoke(
        "add", CORREIOS_NUMBER, "--carrier", "auto", *ORDER, "--config", str(config)
    )
    assert code == 0, err
    assert f"{CORREIOS_NUMBER} via aftership" in out


def test_auto_prefers_a_configured_carrier_over_the_aggregator(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        '[carriers.correios]\n[carriers.aftership]\napi_key_env = "K"\n'
        '[routing]\naggregator = "aftership"\n',
    )
    code, out, err = invoke("add", CORREIOS_NUMBER, *ORDER, "--config", str(config))
    assert code == 0, err
    assert f"{CORREIOS_NUMBER} via correios" in out


def test_a_number_nothing_configured_can_track_is_refused_with_what_to_do(tmp_path: Path) -> None:
    """China Post is detected; DHL is configured but is not a candidate: refused, not DHL."""
    config = write_config(tmp_path, "[carriers.dhl]\n")
    code, _, err = invoke("add", "RR123456785CN", *ORDER, "--config", str(config))
    assert code == 2
    assert "'RR123456785CN' looks like china_post, which is not configured" in err
    assert "add [carriers.china_post], set an aggregator, or name the carrier" in err
    assert not (tmp_path / "state").exists()


def test_an_aggregator_without_its_table_does_not_count(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[routing]\naggregator = "seventeentrack"\n')
    code, _, err = invoke("add", CORREIOS_NUMBER, *ORDER, "--config", str(config))
    assert code == 2
    assert "[routing] aggregator 'seventeentrack' has no [carriers.seventeentrack] table" in err


def test_a_named_carrier_must_be_configured(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[carriers.correios]\n")
    code, _, err = invoke(
        "add", "1Z999AA10123456784", "--carrier", "ups", *ORDER, "--config", str(config)
    )
    assert code == 2
    assert "carrier: 'ups' is not configured (configured: correios, sandbox)" in err


def test_the_same_number_under_a_second_carrier_is_refused_unless_asked(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, '[carriers.correios]\n[carriers.aftership]\napi_key_env = "K"\n'
    )
    with_config = ["--config", str(config)]
    assert invoke("add", CORREIOS_NUMBER, *ORDER, *with_config)[0] == 0
    again = ["add", CORREIOS_NUMBER, "--carrier", "aftership", *ORDER, *with_config]
    code, _, err = invoke(*again)
    assert code == 2
    assert f"{CORREIOS_NUMBER} is already tracked under correios" in err
    code, out, err = invoke(*again, "--also-under-another-carrier")
    assert code == 0, err
    assert f"{CORREIOS_NUMBER} via aftership" in out


def test_import_refuses_a_row_tracked_under_another_carrier(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, '[carriers.correios]\n[carriers.aftership]\napi_key_env = "K"\n'
    )
    assert invoke("add", CORREIOS_NUMBER, *ORDER, "--config", str(config))[0] == 0
    csv_file = tmp_path / "orders.csv"
    csv_file.write_text(
        "tracking_number,carrier,buyer_email,buyer_name,buyer_language,destination_country,"
        "order_reference,shipped_date\n"
        f"{CORREIOS_NUMBER},aftership,ana@example.com,Ana,pt,BR,O-2,2026-11-20\n"
    )
    code, out, err = invoke("import", str(csv_file), "--config", str(config))
    assert code == 1
    assert (
        f"{csv_file}:2: tracking_number: '{CORREIOS_NUMBER}' is already tracked under correios"
        in err
    )
    assert "imported 0 shipment(s), rejected 1 row(s)" in out


# -- item 15: a local folder is no way to reach buyers ---------------------------------------


def test_check_config_warns_while_mail_goes_to_a_local_folder(tmp_path: Path) -> None:
    maildir = write_config(tmp_path / "a")
    code, _, err = invoke("check-config", str(maildir))
    assert code == 0
    assert 'warning: [mail] transport is "maildir": buyers get no email' in err
    smtp = write_config(tmp_path / "b", '[mail]\ntransport = "smtp"\n')
    code, _, err = invoke("check-config", str(smtp))
    assert code == 0
    assert "warning" not in err


@pytest.mark.integration
def test_send_test_reaches_a_real_smtp_server(tmp_path: Path, smtp_server: SmtpSink) -> None:
    config = write_config(
        tmp_path,
        f'[mail]\ntransport = "smtp"\n[mail.smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\n',
    )
    code, out, err = invoke("send-test", "owner@example.com", "--config", str(config))
    assert code == 0, err
    assert f"test message to owner@example.com accepted by 127.0.0.1:{smtp_server.port}" in out
    (received,) = smtp_server.messages
    assert received.rcpt_tos == ["owner@example.com"]
    assert "test message" in str(received.message["Subject"])


@pytest.mark.integration
def test_send_test_names_an_unreachable_server(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[mail]\ntransport = "smtp"\n[mail.smtp]\nport = 1\n')
    code, _, err = invoke("send-test", "owner@example.com", "--config", str(config))
    assert code == 2
    assert "error: the test message was not sent:" in err


def test_send_test_refuses_a_malformed_address(tmp_path: Path) -> None:
    code, _, err = invoke("send-test", "not an address", "--config", str(write_config(tmp_path)))
    assert code == 2
    assert "send-test:" in err


def test_send_test_names_every_mail_problem_by_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SEND_TEST_UNSET_PW", raising=False)
    config = write_config(
        tmp_path,
        '[seller]\nsender = "shop@@example"\n[mail]\ntransport = "smtp"\n'
        '[mail.smtp]\nport = 1\nusername = "u"\npassword_env = "SEND_TEST_UNSET_PW"\n',
    )
    code, _, err = invoke("send-test", "owner@example.com", "--config", str(config))
    assert code == 2
    assert "no email can be sent" in err
    assert "mail.smtp.password_env: environment variable SEND_TEST_UNSET_PW is not set" in err
    assert "seller.sender: 'shop@@example' is not one email address" in err
    # refused before any connection: port 1 would have said "was not sent"
    assert "was not sent" not in err


# -- item 14: correct, stop, poll now --------------------------------------------------------


@pytest.fixture
def tracked(tmp_path: Path) -> Path:
    """A config (correios and AfterShip configured) whose store tracks CORREIOS_NUMBER."""
    config = write_config(
        tmp_path, '[carriers.correios]\n[carriers.aftership]\napi_key_env = "K"\n'
    )
    assert invoke("add", CORREIOS_NUMBER, *ORDER, "--config", str(config))[0] == 0
    return config


def stored(config: Path) -> Shipment:
    with open_store(f"sqlite:///{config.parent / 'state' / 'tracker.sqlite3'}")() as session:
        return session.scalars(select(Shipment)).one()


def test_edit_corrects_and_checks_like_add(tracked: Path) -> None:
    with_config = ["--config", str(tracked)]
    code, out, err = invoke(
        "edit",
        CORREIOS_NUMBER,
        "--email",
        "ana.souza@example.com",
        "--language",
        "es",
        *with_config,
    )
    assert code == 0, err
    assert f"{CORREIOS_NUMBER}: buyer_email ana@example.com -> ana.souza@example.com" in out
    assert (stored(tracked).buyer_email, stored(tracked).buyer_language) == (
        "ana.souza@example.com",
        "es",
    )
    code, _, err = invoke("edit", CORREIOS_NUMBER, "--email", "not-an-email", *with_config)
    assert code == 2
    assert "buyer_email: 'not-an-email' is not a valid email address" in err
    code, _, err = invoke("edit", CORREIOS_NUMBER, "--carrier", "dhl", *with_config)
    assert code == 2
    assert "carrier: 'dhl' is not configured" in err
    assert stored(tracked).buyer_email == "ana.souza@example.com"


def test_edit_moves_a_shipment_to_another_carrier_and_polls_it_soon(tracked: Path) -> None:
    code, out, err = invoke(
        "edit", CORREIOS_NUMBER, "--carrier", "aftership", "--config", str(tracked)
    )
    assert code == 0, err
    assert f"{CORREIOS_NUMBER}: carrier correios -> aftership" in out
    after = stored(tracked)
    assert after.carrier == "aftership"
    assert after.next_poll_at is not None
    assert after.next_poll_at <= datetime.now(UTC)


def test_stop_ends_polls_and_notices_but_keeps_history(tracked: Path) -> None:
    url = f"sqlite:///{tracked.parent / 'state' / 'tracker.sqlite3'}"
    now = datetime.now(UTC)
    with open_store(url).begin() as session:
        shipment = session.scalars(select(Shipment)).one()
        session.add(
            Notice(
                shipment_id=shipment.id,
                kind="in_transit",
                idempotency_key="k1",
                created_at=now,
                not_before=now,
            )
        )
    code, out, err = invoke("stop", CORREIOS_NUMBER, "--config", str(tracked))
    assert code == 0, err
    assert f"{CORREIOS_NUMBER}: stopped; 1 pending notice(s) skipped; history kept" in out
    with open_store(url)() as session:
        shipment = session.scalars(select(Shipment)).one()
        assert (shipment.next_poll_at, shipment.next_timer_at) == (None, None)
        assert session.scalars(select(Notice.state)).all() == ["skipped"]
        kinds = session.scalars(select(AuditEntry.kind)).all()
    assert "shipment.stopped" in kinds
    assert len(kinds) >= 2  # the rows before the stop stay


def test_poll_makes_it_due_now_with_back_off_forgotten(tracked: Path) -> None:
    url = f"sqlite:///{tracked.parent / 'state' / 'tracker.sqlite3'}"
    later = datetime.now(UTC) + timedelta(hours=12)
    with open_store(url).begin() as session:
        shipment = session.scalars(select(Shipment)).one()
        shipment.next_poll_at, shipment.poll_failures = later, 6
    code, out, err = invoke("poll", CORREIOS_NUMBER, "--config", str(tracked))
    assert code == 0, err
    assert f"{CORREIOS_NUMBER}: due now under correios" in out
    shipment = stored(tracked)
    assert shipment.next_poll_at is not None
    assert shipment.next_poll_at <= datetime.now(UTC)
    assert shipment.poll_failures == 0
    code, out, _ = invoke("show", CORREIOS_NUMBER, "--config", str(tracked))
    assert code == 0
    assert re.search(r"next poll \d{4}-\d\d-\d\d \d\d:\d\d UTC\n", out), out  # no microseconds
    code, out, _ = invoke("events", "--config", str(tracked))
    assert code == 0
    header, *lines = out.splitlines()
    assert header == "time (UTC)\ttracking number\tcarrier\tkind\tdetails"
    assert lines[-1].split("\t")[1:4] == [CORREIOS_NUMBER, "correios", "shipment.poll_requested"]


def test_corrections_name_an_unknown_number(tracked: Path) -> None:
    for argv in (("stop",), ("poll",), ("edit", "--email", "a@example.com")):
        code, _, err = invoke(argv[0], "RR123456785CN", *argv[1:], "--config", str(tracked))
        assert code == 2
        assert "tracking number 'RR123456785CN' is not tracked" in err


# -- item 17: small things -------------------------------------------------------------------


def test_the_demo_summary_keeps_its_commands_on_one_line(tmp_path: Path) -> None:
    from rich.console import Console

    from tracker.commands.daemon import _print_summary
    from tracker.runtime.demo import DemoResult

    maildir = tmp_path / "a-rather-long-folder-name-for-the-demo" / "mail"
    result = DemoResult(tmp_path, maildir, {"delivered": 1}, {"shipped": 1}, 1, 60, "SBNM00000001")
    out = io.StringIO()
    _print_summary(Console(file=out, width=40), result)
    text = out.getvalue()
    assert f"open one with: less {maildir}/new/$(ls {maildir}/new | head -n1)\n" in text
    assert f"tracker show SBNM00000001 --store sqlite:///{tmp_path / 'tracker.sqlite3'}" in text


def test_failed_window_has_help() -> None:
    code, out, _ = invoke("status", "--help")
    assert code == 0
    words = " ".join(out.split())
    assert "--failed-window TEXT How far back failed notices count towards" in words
