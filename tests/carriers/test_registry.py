"""The carrier registry over real entry points, including broken third-party plugins."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from carriers.base import CarrierAdapter
from carriers.registry import CarrierRegistry
from tracker.errors import PluginError

PLUGIN_MODULE = textwrap.dedent(
    """
    from carriers.base import CarrierAdapter, CarrierReply

    class GoodAdapter(CarrierAdapter):
        name = "zz_good"
        display_name = "Good test carrier"

        async def fetch(self, client, numbers):
            return CarrierReply(numbers=tuple(numbers), status_code=200, body=b"")

        def parse(self, reply):
            return []

    class NotAnAdapter:
        name = "zz_wrong_type"

    class MisnamedAdapter(GoodAdapter):
        name = "something_else"
    """
)

ENTRY_POINTS = textwrap.dedent(
    """
    [tracker.carriers]
    zz_good = zz_test_plugin:GoodAdapter
    zz_wrong_type = zz_test_plugin:NotAnAdapter
    zz_missing_module = zz_no_such_module:Adapter
    zz_missing_attr = zz_test_plugin:NoSuchClass
    zz_import_error = zz_exploding_plugin:Adapter
    zz_misnamed = zz_test_plugin:MisnamedAdapter
    """
)


@pytest.fixture
def plugin_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real installed distribution (dist-info on sys.path) declaring good and broken plugins."""
    (tmp_path / "zz_test_plugin.py").write_text(PLUGIN_MODULE)
    (tmp_path / "zz_exploding_plugin.py").write_text("raise RuntimeError('boom at import')\n")
    info = tmp_path / "zz_test_plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zz-test-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for module in ("zz_test_plugin", "zz_exploding_plugin"):
        sys.modules.pop(module, None)


def test_good_plugin_loads_beside_broken_ones(plugin_dist: Path) -> None:
    registry = CarrierRegistry()
    names = registry.available()
    assert {"zz_good", "zz_wrong_type", "zz_missing_module", "zz_import_error"} <= set(names)
    loaded = registry.load_all()
    assert issubclass(loaded["zz_good"], CarrierAdapter)
    assert loaded["zz_good"].display_name == "Good test carrier"
    broken = {b.name: b.problem for b in registry.broken()}
    assert set(broken) == {
        "zz_wrong_type",
        "zz_missing_module",
        "zz_missing_attr",
        "zz_import_error",
        "zz_misnamed",
    }
    assert "not a CarrierAdapter subclass" in broken["zz_wrong_type"]
    assert "ModuleNotFoundError" in broken["zz_missing_module"]
    assert "AttributeError" in broken["zz_missing_attr"]
    assert "boom at import" in broken["zz_import_error"]
    assert "'something_else'" in broken["zz_misnamed"]


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("zz_wrong_type", "zz_test_plugin:NotAnAdapter"),
        ("zz_import_error", "RuntimeError: boom at import"),
        ("zz_not_registered", "is not installed"),
    ],
)
def test_load_names_the_plugin_and_problem(plugin_dist: Path, name: str, fragment: str) -> None:
    registry = CarrierRegistry()
    with pytest.raises(PluginError, match=name) as info:
        registry.load(name)
    assert fragment in str(info.value)
    assert isinstance(info.value, LookupError)
    with pytest.raises(PluginError, match=name):  # the failure is remembered, not retried
        registry.load(name)


def test_loading_is_lazy(plugin_dist: Path) -> None:
    registry = CarrierRegistry()
    registry.available()
    assert "zz_test_plugin" not in sys.modules
    registry.load("zz_good")
    assert "zz_test_plugin" in sys.modules
    assert registry.load("zz_good") is registry.load("zz_good")


BUILT_IN = ["aftership", "dhl", "fedex", "seventeentrack", "ups", "usps"]


@pytest.mark.parametrize("name", BUILT_IN)
def test_built_in_adapters_are_registered(name: str) -> None:
    adapter = CarrierRegistry().load(name)
    assert adapter.name == name
    assert adapter.max_numbers_per_request >= 1
    assert adapter.requests_per_second > 0
