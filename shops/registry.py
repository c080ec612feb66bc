"""Find shop adapters through the ``tracker.shops`` entry-point group (see tracker.plugins)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from importlib.metadata import EntryPoint

from shops.base import ShopAdapter
from tracker.plugins import PluginRegistry

GROUP = "tracker.shops"


class ShopRegistry(PluginRegistry[ShopAdapter]):
    """The shop adapters installed in this environment, loaded on demand and cached."""

    def __init__(self, source: Callable[[], Iterable[EntryPoint]] | None = None) -> None:
        super().__init__(GROUP, ShopAdapter, "shop", source)


@cache
def default_registry() -> ShopRegistry:
    """The process-wide registry over the installed entry points."""
    return ShopRegistry()
