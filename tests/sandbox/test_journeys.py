"""Sandbox journeys: the shipped data tells the stories the demo needs; bad data is named."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carriers.sandbox.journeys import (
    Journey,
    journey_for_number,
    load_journeys,
    parse_journeys,
    sandbox_number,
)
from tests.sandbox.conftest import START
from tracker.errors import ConfigError

JOURNEYS = load_journeys()
#: UPU EMSEVT codes the journeys may use
EMSEVT = {
    "EMA", "EMB", "EMC", "EMD", "EME", "EMF", "EMG", "EMH", "EMI",
    "EDB", "EDC", "EDG", "EDH", "EXA", "EXC",
}  # fmt: skip


def _texts(journey: Journey) -> list[str]:
    return [step.text for step in journey.steps]


def _codes(journey: Journey) -> list[str | None]:
    return [step.code for step in journey.steps]


@pytest.mark.parametrize(
    ("name", "origin", "destination"),
    [
        ("normal", "CN", "US"),
        ("slow", "CN", "RU"),
        ("customs_hold", "CN", "BR"),
        ("failed_then_pickup", "CN", "FR"),
        ("lost", "CN", "DE"),
        ("returned", "CN", "ES"),
        ("express", "CN", "GB"),
        ("info_only", "CN", "US"),
    ],
)
def test_shipped_journeys_cover_every_lane(name: str, origin: str, destination: str) -> None:
    journey = JOURNEYS[name]
    assert (journey.origin, journey.destination) == (origin, destination)
    assert [s.after for s in journey.steps] == sorted(s.after for s in journey.steps)
    assert {c for c in _codes(journey) if c} <= EMSEVT


def test_normal_is_delivered_in_about_twelve_days() -> None:
    normal = JOURNEYS["normal"]
    assert normal.steps[-1].code == "EMI"
    assert timedelta(days=11) <= normal.duration <= timedelta(days=13)


def test_express_is_delivered_within_six_days() -> None:
    assert JOURNEYS["express"].steps[-1].code == "EMI"
    assert JOURNEYS["express"].duration <= timedelta(days=6)


def test_slow_goes_silent_for_more_than_twenty_days_then_delivers() -> None:
    steps = JOURNEYS["slow"].steps
    gaps = [later.after - earlier.after for earlier, later in itertools.pairwise(steps)]
    assert max(gaps) > timedelta(days=20)
    assert steps[-1].code == "EMI"


def test_customs_hold_asks_for_duties_then_is_released_and_delivered() -> None:
    texts = _texts(JOURNEYS["customs_hold"])
    hold = texts.index("Held by customs: documents required")
    duties = texts.index("Customs duties payable by recipient")
    released = next(i for i, t in enumerate(texts) if t.startswith("Released by customs"))
    assert hold < duties < released < len(texts) - 1
    assert JOURNEYS["customs_hold"].steps[-1].code == "EMI"


def test_failed_then_pickup_attempts_then_waits_at_a_pickup_point() -> None:
    codes = _codes(JOURNEYS["failed_then_pickup"])
    assert codes[-3:] == ["EMH", "EDH", "EMI"]
    assert "recipient not at home" in JOURNEYS["failed_then_pickup"].steps[-3].text


def test_lost_goes_silent_in_destination_then_is_declared_lost_at_40_days() -> None:
    lost = JOURNEYS["lost"]
    last, before = lost.steps[-1], lost.steps[-2]
    assert last.text == "Item declared lost"
    assert last.after == timedelta(days=40)
    assert before.country == "DE"
    assert last.after - before.after > timedelta(days=30)


def test_returned_has_an_address_issue_then_goes_back_to_the_sender() -> None:
    texts = _texts(JOURNEYS["returned"])
    assert texts[-2:] == ["Item is being returned to sender", "Item returned to sender"]
    assert any("address" in text for text in texts[:-2])
    assert JOURNEYS["returned"].steps[-1].country == "CN"


def test_info_only_never_reaches_the_carrier() -> None:
    steps = JOURNEYS["info_only"].steps
    assert len(steps) == 1
    assert steps[0].code is None


def test_visible_steps_are_those_whose_time_has_come() -> None:
    normal = JOURNEYS["normal"]
    assert [s.code for _, s in normal.visible_steps(START, START + timedelta(hours=9))] == [None]
    seen = normal.visible_steps(START, START + timedelta(days=3))
    assert [s.code for _, s in seen][-1] == "EMC"
    assert seen[-1][0] == START + timedelta(days=3)
    assert len(normal.visible_steps(START, START + timedelta(days=90))) == len(normal.steps)


GOOD_JOURNEY = """
[journeys.a]
tag = "AA"
origin = "CN"
destination = "US"
[[journeys.a.steps]]
after = "0h"
text = "Item accepted"
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[journeys.a\n", "not valid TOML"),
        ("", "journeys: Field required"),
        (GOOD_JOURNEY + 'colour = "red"\n', "journeys.a.steps[0].colour: Extra inputs"),
        (
            GOOD_JOURNEY.replace('"0h"', '"3 days"'),
            "journeys.a.steps[0].after: Value error, invalid",
        ),
        (GOOD_JOURNEY.replace('"0h"', "3"), "journeys.a.steps[0].after: Value error, must be a"),
        (GOOD_JOURNEY.replace('"US"', '"usa"'), "journeys.a.destination: String should match"),
        (GOOD_JOURNEY.replace('tag = "AA"', ""), "journeys.a.tag: Field required"),
        (GOOD_JOURNEY + 'code = "emi"\n', "journeys.a.steps[0].code: String should match"),
        (GOOD_JOURNEY + "[[journeys.a.steps]]\nafter = '1h'\n", "journeys.a.steps[1].text: Field"),
        (
            GOOD_JOURNEY + "[[journeys.a.steps]]\nafter = '0s'\ntext = 'x'\n"
            "[[journeys.a.steps]]\nafter = '-'\ntext = 'y'\n",
            "journeys.a.steps[2].after",
        ),
        (
            GOOD_JOURNEY.replace('"0h"', '"2d"')
            + "[[journeys.a.steps]]\nafter = '1d'\ntext = 'x'\n",
            "journeys.a.steps: Value error, step 1 comes before step 0",
        ),
        (
            '[journeys.a]\ntag = "AA"\norigin = "CN"\ndestination = "US"\nsteps = []\n',
            "journeys.a.steps: List should have at least 1 item",
        ),
        (
            GOOD_JOURNEY + GOOD_JOURNEY.replace("journeys.a", "journeys.b"),
            "journeys.b.tag: 'AA' is",
        ),
    ],
)
def test_bad_journey_data_names_the_file_and_the_key(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_journeys(text, "my/journeys.toml")
    message = str(caught.value)
    assert message.startswith("my/journeys.toml: ")
    assert expected in message


def test_good_journey_data_parses(tmp_path: Path) -> None:
    path = tmp_path / "journeys.toml"
    path.write_text(GOOD_JOURNEY + 'code = "EMA"\nlocation = "Yiwu"\ncountry = "CN"\n', "utf-8")
    (journey,) = load_journeys(path).values()
    assert journey.name == "a"
    assert journey.expected_delivery is None
    assert journey.steps[0].code == "EMA"
    assert journey.steps[0].location == "Yiwu"


def test_a_missing_journeys_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml: cannot read journeys file"):
        load_journeys(missing)


@pytest.mark.parametrize("name", sorted(JOURNEYS))
def test_sandbox_numbers_name_their_journey(name: str) -> None:
    number = sandbox_number(JOURNEYS[name], 42)
    assert number == f"SB{JOURNEYS[name].tag}00000042"
    assert journey_for_number(number, JOURNEYS).name == name
    assert journey_for_number(number.lower(), JOURNEYS).name == name


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=30))
def test_any_number_gets_the_same_journey_every_time(number: str) -> None:
    first = journey_for_number(number, JOURNEYS)
    assert first.name in JOURNEYS
    assert journey_for_number(number, dict(reversed(JOURNEYS.items()))) == first


def test_other_numbers_spread_over_several_journeys() -> None:
    names = {journey_for_number(f"LX{n:09d}CN", JOURNEYS).name for n in range(200)}
    assert len(names) >= 6
