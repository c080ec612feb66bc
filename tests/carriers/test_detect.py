"""Tracking-number detection: formats, check digits, routing, and the ``tracker detect`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from carriers import detect as d
from tracker.cli import main
from tracker.errors import InputError

# (number as a buyer might paste it, expected top carrier, expected format id, expected country)
TOP_CANDIDATES = [
    ("RB123456785GB", "post_gb", "upu_s10", "GB"),
    ("rb 1234 5678 5 ru", "russian_post", "upu_s10", "RU"),
    ("RB123456785BR", "correios", "upu_s10", "BR"),
    ("RB123456785CN", "china_post", "upu_s10", "CN"),
    ("RR473124829GB", "post_gb", "upu_s10", "GB"),
    ("1Z5R89390357567127", "ups", "ups_1z", None),
    ("1Z 8V92 A703 6720 3024", "ups", "ups_1z", None),
    ("9400111206206406260787", "usps", "usps_impb_n", None),
    ("420787459400111206206406260787", "usps", "usps_impb_n", None),
    ("9261292700768711948021", "usps", "usps_impb_c", None),
    ("1001921334250001000300779017972697", "fedex", "fedex_34", None),
    ("9622001900000000000000776632517510", "fedex", "fedex_ground_gsn_34", None),
    ("YT2229521272164446", "yunexpress", "yunexpress", None),
]


@pytest.mark.parametrize(("number", "carrier", "format_id", "country"), TOP_CANDIDATES)
def test_most_likely_candidate(
    number: str, carrier: str, format_id: str, country: str | None
) -> None:
    best = d.detect(number)[0]
    assert (best.carrier, best.format_id, best.country) == (carrier, format_id, country)


@pytest.mark.parametrize(
    "number",
    ["RB123456786US", "RB123456785XX", "1Z5R89390357567128", "hello", "", "12345"],
)
def test_no_candidate(number: str) -> None:
    assert d.detect(number) == []


def test_dhl_express_mod7_and_ranking_is_sorted() -> None:
    candidates = d.detect("3318810025")
    assert candidates[0].carrier == "dhl"
    assert [c.score for c in candidates] == sorted((c.score for c in candidates), reverse=True)
    assert not any(c.format_id == "dhl_express" for c in d.detect("3318810026"))


@pytest.mark.parametrize(
    ("number", "carrier", "fragment"),
    [
        ("RB123456786US", None, "UPU S10"),
        ("1Z5R89390357567128", "ups", "UPS 1Z"),
        ("9400111206206406260788", None, "USPS IMpb"),
        ("986578788856", "fedex", "FedEx Express (12)"),
    ],
)
def test_validate_rejects_wrong_check_digit(
    number: str, carrier: str | None, fragment: str
) -> None:
    with pytest.raises(InputError, match="check digit") as info:
        d.validate_number(number, carrier)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("number", "carrier"),
    [
        (" rb123456785gb ", None),
        ("1Z5R89390357567127", "ups"),
        ("ANYTHING-THE-SELLER-KNOWS", "fedex"),  # matches no FedEx format: the seller overrides
        ("986578788855", "fedex"),
        ("123456789012", None),  # fits no strict format
    ],
)
def test_validate_accepts(number: str, carrier: str | None) -> None:
    assert d.validate_number(number, carrier) == d.normalize(number)


def test_validate_empty() -> None:
    with pytest.raises(InputError, match="empty"):
        d.validate_number("  ")


def test_route_prefers_installed_adapter_then_aggregator() -> None:
    assert d.route("RB123456785RU", {"russian_post", "ups"}, "seventeentrack") == "russian_post"
    assert d.route("RB123456785CN", {"russian_post"}, "seventeentrack") == "seventeentrack"
    assert d.route("not a number", set(), None) is None


# --- check-digit algorithms ---------------------------------------------------------------------


def test_known_check_digits() -> None:
    assert d.s10("47312482") == 9  # RR473124829GB
    assert d.luhn("7992739871") == 3  # the classic Luhn example 79927398713
    assert d.mod7("331881002") == 5
    assert d.iso7064_mod37_36("09980000020033") == "F"


def _s10_number(serial: str, service: str, country: str) -> str:
    return f"{service}{serial}{d.s10(serial)}{country}"


serials = st.text(alphabet="0123456789", min_size=8, max_size=8)
services = st.sampled_from(["RA", "RB", "LP", "CP", "EE", "UA"])
countries = st.sampled_from(["CN", "RU", "BR", "FR", "US", "GB", "DE", "AU", "CA"])


@given(serials, services, countries)
def test_generated_s10_always_validates(serial: str, service: str, country: str) -> None:
    number = _s10_number(serial, service, country)
    assert d.validate_number(number) == number
    assert d.detect(number)[0].format_id == "upu_s10"
    assert d.detect(number)[0].country == country


@given(serials, services, countries, st.integers(1, 9))
def test_s10_changed_check_digit_fails(serial: str, service: str, country: str, delta: int) -> None:
    number = _s10_number(serial, service, country)
    broken = f"{number[:10]}{(int(number[10]) + delta) % 10}{number[11:]}"
    with pytest.raises(InputError, match="check digit"):
        d.validate_number(broken)


@given(serials, services, countries, st.integers(0, 7), st.integers(1, 9))
def test_s10_changed_serial_digit_fails_unless_check_collides(
    serial: str, service: str, country: str, position: int, delta: int
) -> None:
    # S10 folds remainders 0 and 6 onto the same check digit 5, so a few changes go unseen
    changed = serial[:position] + str((int(serial[position]) + delta) % 10) + serial[position + 1 :]
    broken = f"{service}{changed}{d.s10(serial)}{country}"
    if d.s10(changed) == d.s10(serial):
        assert d.validate_number(broken) == broken
    else:
        with pytest.raises(InputError, match="check digit"):
            d.validate_number(broken)


@given(st.text(alphabet="0123456789", min_size=10, max_size=30), st.integers(1, 9))
def test_mod10_and_luhn_catch_any_single_digit_change(payload: str, delta: int) -> None:
    for algorithm in (d.luhn, lambda s: d.mod10(s, (3, 1)), lambda s: d.mod10(s, (1, 3))):
        changed = str((int(payload[-1]) + delta) % 10)
        assert algorithm(payload) != algorithm(payload[:-1] + changed)


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_fedex_weighted_valid_number_is_detected(payload: str) -> None:
    weights = (3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1)
    number = payload + str(d.weighted_mod11_mod10(payload, weights))
    assert any(c.format_id == "fedex_12" for c in d.detect(number))


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=14, max_size=14))
def test_iso7064_check_character_validates(payload: str) -> None:
    check = d.iso7064_mod37_36(payload)
    assert check in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    others = [c for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c != check]
    assert all(d.iso7064_mod37_36(payload) != other for other in others)


# --- conformance against the published format data (../shared/data) -----------------------------


@pytest.mark.shared_data
def test_conformance_with_published_test_numbers(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = 0
    misses: list[str] = []
    for path in sorted((shared_data / "tracking-numbers" / "couriers").glob("*.json")):
        courier_data = json.loads(path.read_text("utf-8"))
        courier = courier_data["courier_code"]
        for fmt in courier_data["tracking_numbers"]:
            for kind in ("valid", "invalid"):
                for number in fmt["test_numbers"].get(kind, []):
                    found = any(c.courier == courier for c in d.detect(number))
                    judged += 1
                    if found != (kind == "valid"):
                        misses.append(
                            f"{kind} {courier}/{fmt['name']}: {number!r} -> {d.detect(number)}"
                        )
    ratio = 1 - len(misses) / judged
    with capsys.disabled():
        print(f"\ndetection conformance: {judged - len(misses)}/{judged} = {ratio:.2%}")
        for miss in misses:
            print("  miss:", miss)
    assert judged > 250
    assert ratio >= 0.99


# --- the command ----------------------------------------------------------------------------------


def test_cli_detect_prints_candidates_most_likely_first() -> None:
    result = CliRunner().invoke(main, ["detect", "RB123456785RU"])
    assert result.exit_code == 0
    first = result.output.splitlines()[0].split("\t")
    assert first == ["russian_post", "UPU S10", "0.99", "RU"]


def test_cli_detect_unknown_number_exits_1() -> None:
    result = CliRunner().invoke(main, ["detect", "hello"])
    assert result.exit_code == 1
    assert "no known tracking-number format" in result.output


def test_cli_detect_bad_check_digit_says_so() -> None:
    result = CliRunner().invoke(main, ["detect", "RB123456786US"])
    assert result.exit_code == 1
    assert "check digit is wrong" in result.output
