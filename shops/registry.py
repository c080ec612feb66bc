"""Find shop adapters through the ``tracker.shops`` entry-point group.

Built-in adapters register the same way a third-party package would. A plugin is imported on
first ``load``; one that is missing, fails to import or is not a ``ShopAdapter`` raises
``PluginError`` naming it and never stops the others from loading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from shops.base import ShopAdapter
from tracker.errors import PluginError

GROUP = "tracker.shops"


def _default_entry_points() -> Iterable[EntryPoint]:
    return entry_points(group=GROUP)


class ShopRegistry:
    """The shop adapters installed in this environment, loaded on demand and cached."""

    def __init__(self, source: Callable[[], Iterable[EntryPoint]] = _default_entry_points) -> None:
        self._source = source
        self._points: dict[str, EntryPoint] | None = None
        self._loaded: dict[str, type[ShopAdapter]] = {}
        self._failed: dict[str, str] = {}

    def available(self) -> list[str]:
        """Names of every registered shop adapter, loadable or not, sorted."""
        return sorted(self._entry_points())

    def load(self, name: str) -> type[ShopAdapter]:
        """The adapter class registered as ``name``; PluginError when missing or broken."""
        if name in self._loaded:
            return self._loaded[name]
        if name in self._failed:
            raise PluginError(self._failed[name])
        point = self._entry_points().get(name)
        if point is None:
            known = ", ".join(self.available()) or "none"
            raise PluginError(f"shop plugin {name!r} is not installed (installed: {known})")
        try:
            adapter = _import(point)
        except PluginError as exc:
            self._failed[name] = f"shop plugin {name!r} ({point.value}) is broken: {exc}"
            raise PluginError(self._failed[name]) from exc.__cause__
        self._loaded[name] = adapter
        return adapter

    def _entry_points(self) -> dict[str, EntryPoint]:
        if self._points is None:
            points: dict[str, EntryPoint] = {}
            for point in self._source():
                points.setdefault(point.name, point)  # first distribution on sys.path wins
            self._points = points
        return self._points


def _import(point: EntryPoint) -> type[ShopAdapter]:
    try:
        obj = point.load()
    except Exception as exc:  # a plugin may fail in any way while importing
        raise PluginError(f"import failed: {type(exc).__name__}: {exc}") from exc
    if not (isinstance(obj, type) and issubclass(obj, ShopAdapter)):
        raise PluginError(f"{obj!r} is not a ShopAdapter subclass")
    if getattr(obj, "name", None) != point.name:
        declared = getattr(obj, "name", None)
        raise PluginError(f"adapter declares name {declared!r}, registered as {point.name!r}")
    return obj


@cache
def default_registry() -> ShopRegistry:
    """The process-wide registry over the installed entry points."""
    return ShopRegistry()
