"""Where rules come from: shared UPU codes, codes shipped beside each adapter, phrase files."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime
from importlib import resources
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from tracker.errors import ConfigError
from tracker.model import Classification, Detail, RawEvent, Status
from tracker.normalize import Normalizer, fold, load_normalizer
from tracker.normalize.folding import fold_pattern
from tracker.normalize.loader import (
    carrier_codes_file,
    load_builtin_rules,
    merge_carrier_codes,
)
from tracker.normalize.rules import RuleSet


def _event(carrier: str, code: str, text: str = "") -> RawEvent:
    return RawEvent(datetime(2024, 1, 1, tzinfo=UTC), text, code, None, None, carrier)


def test_shared_codes_file_holds_only_upu_codes() -> None:
    data = tomllib.loads(resources.files("tracker.rules").joinpath("codes.toml").read_text("utf-8"))
    assert set(data) == {"upu"}


@pytest.mark.parametrize(
    ("carrier", "path"),
    [
        ("usps", "carriers/usps_codes.toml"),
        ("dhl", "carriers/dhl_codes.toml"),
        ("russian_post", "carriers/russian_post_codes.toml"),
        ("correios", "carriers/correios_codes.toml"),
    ],
)
def test_builtin_carrier_codes_ship_beside_their_adapter(carrier: str, path: str) -> None:
    point = EntryPoint(carrier, f"carriers.{carrier}:Adapter", "tracker.carriers")
    found = carrier_codes_file(point)
    assert found is not None
    assert found.as_posix().endswith(path)
    rules = load_builtin_rules()
    assert rules.carriers[carrier] == carrier
    assert rules.codes[carrier]


def test_aliases_in_a_code_file_share_its_family() -> None:
    rules = load_builtin_rules()
    assert rules.carriers["dhl_express"] == "dhl"
    assert rules.carriers["pochta"] == "russian_post"


def _third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codes: str) -> EntryPoint:
    # a package name of its own per test: an imported package is remembered in sys.modules
    name = f"acme_plugin_{tmp_path.name.replace('-', '_')}"
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text("", "utf-8")
    (package / "adapter.py").write_text("raise RuntimeError('must not be imported')\n", "utf-8")
    (package / "adapter_codes.toml").write_text(codes, "utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return EntryPoint("acme", f"{name}.adapter:AcmeAdapter", "tracker.carriers")


def test_third_party_adapter_ships_its_own_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point = _third_party(
        tmp_path,
        monkeypatch,
        'aliases = ["acme-express"]\n[codes]\n'
        'D1 = { status = "delivered" }\n'
        'X7 = { status = "exception", detail = "customs_hold", refine = true }\n',
    )
    rules = load_builtin_rules()
    merge_carrier_codes(rules, [point])  # found without importing the adapter module
    normalizer = Normalizer(rules, cache_size=0)
    assert normalizer.classify(_event("acme", "D1")) == Classification(
        Status.DELIVERED, None, "acme.D1"
    )
    assert normalizer.classify(_event("Acme Express", "X7")).detail is Detail.CUSTOMS_HOLD
    # a generic code of its own is refined by text, like a built-in one
    refined = normalizer.classify(_event("acme", "X7", "Customs duties payable"))
    assert refined.detail is Detail.CUSTOMS_DUTIES_DUE
    # UPU codes still apply to the new carrier
    assert normalizer.classify(_event("acme", "EMI")).rule == "upu.EMI"


def test_broken_third_party_code_file_names_the_carrier_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point = _third_party(tmp_path, monkeypatch, '[codes]\nD1 = { status = "arrived" }\n')
    with pytest.raises(
        ConfigError,
        match=r"acme codes \(acme_plugin_\w+/adapter: adapter_codes.toml\): rule 'acme.D1'",
    ):
        merge_carrier_codes(RuleSet(), [point])


def test_adapter_without_code_file_or_module_adds_nothing() -> None:
    rules = RuleSet()
    merge_carrier_codes(
        rules,
        [
            EntryPoint("webpage", "carriers.webpage:WebPageAdapter", "tracker.carriers"),
            EntryPoint("ghost", "no_such_package.adapter:Ghost", "tracker.carriers"),
        ],
    )
    assert rules.codes == {}


def test_every_builtin_phrase_compiles() -> None:
    # built-in phrases are not compiled at load time (that was most of the start-up cost)
    bad = []
    for rule in load_builtin_rules().text:
        for phrase in rule.phrases:
            try:
                re.compile(fold_pattern(phrase))
            except re.error as exc:
                bad.append((rule.rule_id, phrase, str(exc)))
    assert bad == []


def test_ops_phrases_are_still_checked_at_load(tmp_path: Path) -> None:
    ops = tmp_path / "rules.toml"
    ops.write_text('[[text]]\nid = "x"\nstatus = "delivered"\nphrases = ["(unclosed"]\n', "utf-8")
    with pytest.raises(ConfigError, match="bad phrase"):
        load_normalizer([ops])


def test_a_second_normalizer_reuses_the_built_index() -> None:
    first, second = load_normalizer(), load_normalizer(cache_size=0)
    assert first._phrases is second._phrases
    assert second.classify_text(fold("Delivered")).status is Status.DELIVERED


def test_ops_rules_get_an_index_of_their_own(tmp_path: Path) -> None:
    ops = tmp_path / "rules.toml"
    ops.write_text('[[text]]\nid = "acme.d"\nstatus = "delivered"\nphrases = ["zq9"]\n', "utf-8")
    plain, custom = load_normalizer(), load_normalizer([ops])
    assert plain._phrases is not custom._phrases
    assert custom.classify_text("zq9").rule == "acme.d"
    assert plain.classify_text("zq9").rule is None
