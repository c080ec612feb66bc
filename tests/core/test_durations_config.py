"""Durations with units and config validation that names the exact key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker.config import TrackerConfig, load_config, parse_config
from tracker.durations import format_duration, parse_duration
from tracker.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("36h", timedelta(hours=36)),
        ("25d", timedelta(days=25)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(days=1, hours=12)),
        (" 1.5h ", timedelta(minutes=90)),
        ("250ms", timedelta(milliseconds=250)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "10", "3x", "d", "1d-2h", "-5m", "1 day"])
def test_bad_durations_are_rejected_with_the_value(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["99999999999d", "36501d", "5300w", "9" * 400 + "s"])
def test_durations_past_a_century_are_refused_not_overflowed(text: str) -> None:
    # an OverflowError traceback from timedelta, or a date past year 9999 at run time, before
    with pytest.raises(ValueError, match="longer than 100 years"):
        parse_duration(text)
    assert parse_duration("36500d") == timedelta(days=36_500)


@given(st.integers(min_value=0, max_value=10**8))
def test_format_round_trips(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


def test_shipped_example_config_is_valid_and_documents_every_section() -> None:
    path = REPO / "config" / "tracker.toml"
    config = load_config(path)
    text = path.read_text("utf-8")
    for section in TrackerConfig.model_fields:
        assert f"[{section}" in text, f"config/tracker.toml does not document [{section}]"
    assert config.thresholds.for_shipment("sandbox", "RU").stalled_after == timedelta(days=21)


def test_errors_name_the_file_and_each_bad_key() -> None:
    data = {
        "daemon": {"poll_evry": "5m", "batch_size": 0},
        "thresholds": {"default": {"stalled_after": "3x"}, "country": {"brazil": {}}},
        "refund": {"choices": ["refund"]},
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "shop.toml")
    message = str(caught.value)
    assert message.startswith("shop.toml: invalid configuration")
    assert "daemon.poll_evry: unknown key" in message
    assert "daemon.batch_size:" in message
    assert "thresholds.default.stalled_after: invalid duration '3x'" in message
    assert "thresholds.country:" in message
    assert "'brazil'" in message
    assert "refund.choices: offer at least two" in message


def test_overrides_carrier_beats_country_beats_default() -> None:
    config = parse_config(
        {
            "thresholds": {
                "default": {"stalled_after": "10d", "late_after": "30d"},
                "country": {"BR": {"stalled_after": "20d", "late_after": "40d"}},
                "carrier": {"ups": {"stalled_after": "3d"}},
            }
        },
        "t",
    )
    ups_br = config.thresholds.for_shipment("ups", "BR")
    assert (ups_br.stalled_after, ups_br.late_after) == (timedelta(days=3), timedelta(days=40))
    post_fr = config.thresholds.for_shipment("la_poste", "FR")
    assert post_fr.stalled_after == timedelta(days=10)


def test_unreadable_and_invalid_toml_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[store\nurl = 1\n")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_config(broken)


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "tracker.toml"
    path.parent.mkdir()
    path.write_text('[store]\nurl = "sqlite:///state/t.db"\n[mail]\nmaildir = "mail"\n')
    config = load_config(path)
    assert config.store.url == f"sqlite:///{tmp_path / 'conf' / 'state' / 't.db'}"
    assert config.mail.maildir == tmp_path / "conf" / "mail"
