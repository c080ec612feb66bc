"""quick_init replaces a frozen slotted dataclass's __init__: the class must behave exactly as the
dataclass it is, for the sample below and for every class on the hot path that uses it."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any

import pytest

from notices.payload import EventSummary, NoticePayload
from tracker.model import Classification, Status, TrackedEvent
from tracker.policy.assess import Assessment, PlannedNotice, ShipmentState, Timeline, _Slot
from tracker.policy.milestones import Decision, Due, ShipmentFacts, _Journey
from tracker.quickinit import quick_init


@quick_init
@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    count: int = 3
    tags: tuple[str, ...] = field(default_factory=tuple)
    seen: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Plain:
    name: str
    count: int = 3
    tags: tuple[str, ...] = field(default_factory=tuple)
    seen: list[int] = field(default_factory=list)


def _as_plain(sample: Sample) -> Plain:
    return Plain(sample.name, sample.count, sample.tags, sample.seen)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("a",), {}),
        (("a", 5), {}),
        (("a", 5, ("x",), [1]), {}),
        ((), {"name": "a", "seen": [2]}),
        (("a",), {"tags": ("y", "z")}),
    ],
)
def test_built_as_the_dataclass_builds_it(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    built, plain = Sample(*args, **kwargs), Plain(*args, **kwargs)  # type: ignore[arg-type]
    assert _as_plain(built) == plain
    assert repr(built) == repr(plain).replace("Plain", "Sample")
    assert built == Sample(*args, **kwargs)  # type: ignore[arg-type]
    assert dataclasses.replace(built, count=9).count == 9


def test_wrong_calls_fail_as_the_dataclass_fails() -> None:
    build: Any = Sample
    for args, kwargs in (((), {}), (("a",), {"nope": 1}), (("a", 1, (), [], 5), {})):
        with pytest.raises(TypeError):
            build(*args, **kwargs)
    with pytest.raises(TypeError, match="multiple values"):
        Sample("a", name="b")  # type: ignore[misc]


def test_still_frozen_and_hashable_by_value() -> None:
    sample = Sample("a", 1, ("x",), [])
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.count = 2  # type: ignore[misc]
    assert Sample("a", 1, ("x",)) == Sample("a", 1, ("x",))
    assert Sample("a", 1, ("x",)) != Sample("a", 2, ("x",))
    kinds = {
        Classification(Status.DELIVERED, None, "r"),
        Classification(Status.DELIVERED, None, "r"),
    }
    assert kinds == {Classification(Status.DELIVERED, None, "r")}


def test_a_default_factory_is_called_per_instance() -> None:
    first, second = Sample("a"), Sample("b")
    first.seen.append(1)
    assert second.seen == []
    assert first.seen is not second.seen


def test_refuses_what_it_cannot_run() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        name: str

    @dataclass(frozen=True, slots=True)
    class PostInit:
        name: str

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True, slots=True, kw_only=True)
    class KeywordOnly:
        name: str

    for cls in (NoSlots, PostInit, KeywordOnly):
        with pytest.raises(TypeError, match="quick_init"):
            quick_init(cls)


@pytest.mark.parametrize(
    "cls",
    [
        ShipmentState,
        Timeline,
        PlannedNotice,
        Assessment,
        _Slot,
        ShipmentFacts,
        Due,
        Decision,
        _Journey,
        EventSummary,
        NoticePayload,
        Classification,
        TrackedEvent,
    ],
)
def test_hot_path_classes_keep_their_parameters(cls: Any) -> None:
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert [p.name for p in parameters] == [f.name for f in dataclasses.fields(cls)]
    for parameter, declared in zip(parameters, dataclasses.fields(cls), strict=True):
        assert parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        if declared.default is not dataclasses.MISSING:
            assert parameter.default == declared.default
        elif declared.default_factory is dataclasses.MISSING:
            assert parameter.default is inspect.Parameter.empty
        else:
            assert parameter.default is not inspect.Parameter.empty
    assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"
