"""Adapters found through an entry-point group: carriers (``tracker.carriers``), shops.

Built-in adapters register the same way a third-party package would, so a package adds one
without touching this repo. A plugin is imported lazily, on first ``load``; one that is missing,
fails to import, is not a subclass of the group's base class or declares another name raises
``PluginError`` naming it, is remembered as broken, and never stops the others from loading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar, cast

from tracker.errors import PluginError

Adapter = TypeVar("Adapter")


@dataclass(frozen=True, slots=True)
class BrokenPlugin:
    """A plugin that could not be loaded, and why."""

    name: str
    target: str
    problem: str


class PluginRegistry(Generic[Adapter]):
    """The adapters of one entry-point group, loaded on demand and cached.

    ``kind`` names the plugins in messages ("carrier", "shop"); ``source`` replaces the installed
    entry points (tests, embedding).
    """

    def __init__(
        self,
        group: str,
        base: type,  # the Adapter class itself; abstract, so not typed type[Adapter]
        kind: str,
        source: Callable[[], Iterable[EntryPoint]] | None = None,
    ) -> None:
        self._group = group
        self._base = base
        self._kind = kind
        self._source = source or (lambda: entry_points(group=group))
        self._entry_points: dict[str, EntryPoint] | None = None
        self._loaded: dict[str, type[Adapter]] = {}
        self._failed: dict[str, BrokenPlugin] = {}

    def _points(self) -> dict[str, EntryPoint]:
        if self._entry_points is None:
            points: dict[str, EntryPoint] = {}
            for point in self._source():
                points.setdefault(point.name, point)  # first distribution on sys.path wins
            self._entry_points = points
        return self._entry_points

    def available(self) -> list[str]:
        """Names of every registered plugin, loadable or not, sorted."""
        return sorted(self._points())

    def load(self, name: str) -> type[Adapter]:
        """The adapter class registered as ``name``; PluginError when missing or broken."""
        if name in self._loaded:
            return self._loaded[name]
        if name in self._failed:
            raise PluginError(self._message(self._failed[name]))
        point = self._points().get(name)
        if point is None:
            known = ", ".join(self.available()) or "none"
            raise PluginError(f"{self._kind} plugin {name!r} is not installed (installed: {known})")
        try:
            adapter = self._import(point)
        except PluginError as exc:
            self._failed[name] = BrokenPlugin(name, point.value, str(exc))
            raise PluginError(self._message(self._failed[name])) from exc.__cause__
        self._loaded[name] = adapter
        return adapter

    def load_all(self) -> dict[str, type[Adapter]]:
        """Every adapter that loads; the broken ones are skipped and listed by ``broken``."""
        loaded: dict[str, type[Adapter]] = {}
        for name in self.available():
            try:
                loaded[name] = self.load(name)
            except PluginError:
                continue
        return loaded

    def broken(self) -> list[BrokenPlugin]:
        """Plugins that failed to load so far (call ``load_all`` first to try them all)."""
        return [self._failed[name] for name in sorted(self._failed)]

    def _import(self, point: EntryPoint) -> type[Adapter]:
        try:
            obj = point.load()
        except Exception as exc:  # a plugin may fail in any way while importing
            raise PluginError(f"import failed: {type(exc).__name__}: {exc}") from exc
        if not (isinstance(obj, type) and issubclass(obj, self._base)):
            raise PluginError(f"{obj!r} is not a {self._base.__name__} subclass")
        declared = getattr(obj, "name", None)
        if declared != point.name:
            raise PluginError(f"adapter declares name {declared!r}, registered as {point.name!r}")
        return cast("type[Adapter]", obj)

    def _message(self, broken: BrokenPlugin) -> str:
        return f"{self._kind} plugin {broken.name!r} ({broken.target}) is broken: {broken.problem}"
