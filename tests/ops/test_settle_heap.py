"""settle_heap freezes what start-up built and, called again after a reload, lets the parts the
reload replaced be freed (a daemon reloaded every day must not keep every old rule index)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from tracker.runtime.app import YOUNG_COLLECTION_THRESHOLD, settle_heap


class Part:
    """Stands for a part a reload replaces (a rule index, a renderer), in a reference cycle
    as such parts are, so only the collector can free it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_settled_objects_are_frozen_and_freed_after_the_next_settle() -> None:
    old = Part()
    gone = weakref.ref(old)
    settle_heap()
    assert gc.get_freeze_count() > 0
    del old
    gc.collect()
    assert gone() is not None  # frozen: the collector does not look at it
    settle_heap()  # what Service.reload does after swapping the new parts in
    assert gone() is None


def test_young_collections_come_less_often_once_settled() -> None:
    """The job's garbage is mostly freed by reference counting; the young generation is
    collected every YOUNG_COLLECTION_THRESHOLD allocations instead of CPython's 700, and the
    older generations' settings are kept (tests/conftest.py restores the thresholds)."""
    before = gc.get_threshold()
    settle_heap()
    assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, *before[1:])
    assert before[0] < YOUNG_COLLECTION_THRESHOLD
