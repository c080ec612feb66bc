"""Find carrier adapters through the ``tracker.carriers`` entry-point group (tracker.plugins)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from importlib.metadata import EntryPoint

from carriers.base import CarrierAdapter
from tracker.plugins import BrokenPlugin, PluginRegistry

GROUP = "tracker.carriers"

__all__ = ["GROUP", "BrokenPlugin", "CarrierRegistry", "default_registry"]


class CarrierRegistry(PluginRegistry[CarrierAdapter]):
    """The carriers installed in this environment, loaded on demand and cached."""

    def __init__(self, source: Callable[[], Iterable[EntryPoint]] | None = None) -> None:
        super().__init__(GROUP, CarrierAdapter, "carrier", source)


@cache
def default_registry() -> CarrierRegistry:
    """The process-wide registry over the installed entry points."""
    return CarrierRegistry()
