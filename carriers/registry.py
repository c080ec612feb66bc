"""Find carrier adapters through the ``tracker.carriers`` entry-point group.

Built-in adapters are registered the same way as third-party ones, so a package adds a carrier
without touching this repo. Plugins are imported lazily, on first ``load``; a plugin that is
missing, fails to import or is not a ``CarrierAdapter`` raises ``PluginError`` naming it, and
never stops the other plugins from loading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from carriers.base import CarrierAdapter
from tracker.errors import PluginError

GROUP = "tracker.carriers"


@dataclass(frozen=True, slots=True)
class BrokenPlugin:
    """A plugin that could not be loaded, and why."""

    name: str
    target: str
    problem: str


def _default_entry_points() -> Iterable[EntryPoint]:
    return entry_points(group=GROUP)


class CarrierRegistry:
    """The carriers installed in this environment, loaded on demand and cached."""

    def __init__(self, source: Callable[[], Iterable[EntryPoint]] = _default_entry_points) -> None:
        self._source = source
        self._entry_points: dict[str, EntryPoint] | None = None
        self._loaded: dict[str, type[CarrierAdapter]] = {}
        self._failed: dict[str, BrokenPlugin] = {}

    def _points(self) -> dict[str, EntryPoint]:
        if self._entry_points is None:
            points: dict[str, EntryPoint] = {}
            for point in self._source():
                points.setdefault(point.name, point)  # first distribution on sys.path wins
            self._entry_points = points
        return self._entry_points

    def available(self) -> list[str]:
        """Names of every registered carrier, loadable or not, sorted."""
        return sorted(self._points())

    def load(self, name: str) -> type[CarrierAdapter]:
        """The adapter class registered as ``name``; PluginError when missing or broken."""
        if name in self._loaded:
            return self._loaded[name]
        if name in self._failed:
            raise PluginError(_message(self._failed[name]))
        point = self._points().get(name)
        if point is None:
            known = ", ".join(self.available()) or "none"
            raise PluginError(f"carrier plugin {name!r} is not installed (installed: {known})")
        try:
            adapter = _import(point)
        except PluginError as exc:
            self._failed[name] = BrokenPlugin(name, point.value, str(exc))
            raise PluginError(_message(self._failed[name])) from exc.__cause__
        self._loaded[name] = adapter
        return adapter

    def load_all(self) -> dict[str, type[CarrierAdapter]]:
        """Every adapter that loads; the broken ones are skipped and listed by ``broken``."""
        loaded: dict[str, type[CarrierAdapter]] = {}
        for name in self.available():
            try:
                loaded[name] = self.load(name)
            except PluginError:
                continue
        return loaded

    def broken(self) -> list[BrokenPlugin]:
        """Plugins that failed to load so far (call ``load_all`` first to try them all)."""
        return [self._failed[name] for name in sorted(self._failed)]


def _import(point: EntryPoint) -> type[CarrierAdapter]:
    try:
        obj = point.load()
    except Exception as exc:  # a plugin may fail in any way while importing
        raise PluginError(f"import failed: {type(exc).__name__}: {exc}") from exc
    if not (isinstance(obj, type) and issubclass(obj, CarrierAdapter)):
        raise PluginError(f"{obj!r} is not a CarrierAdapter subclass")
    if getattr(obj, "name", None) != point.name:
        declared = getattr(obj, "name", None)
        raise PluginError(f"adapter declares name {declared!r}, registered as {point.name!r}")
    return obj


def _message(broken: BrokenPlugin) -> str:
    return f"carrier plugin {broken.name!r} ({broken.target}) is broken: {broken.problem}"


@cache
def default_registry() -> CarrierRegistry:
    """The process-wide registry over the installed entry points."""
    return CarrierRegistry()
