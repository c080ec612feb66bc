"""Many rows of one statement handed to the database driver's ``executemany`` directly.

SQLAlchemy's executemany builds and processes every row's parameters through its compiled
statement, which took longer than SQLite's own work inserting the rows (a profile of the store
thread during bench/pipeline.py's first poll: its events, notices and audit rows). Here the
statement is still SQLAlchemy's own, compiled once per dialect, and each value still goes
through its column type's own bind processor, so the driver receives exactly what SQLAlchemy
would have sent it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, update
from sqlalchemy.engine import Dialect

from tracker.store.models import Shipment, UTCDateTime


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    #: parameter names in the statement's order
    names: tuple[str, ...]
    #: for each of them, its position in the rows the caller gives (None: the same order)
    take: tuple[int, ...] | None
    #: the positions whose values need their type's bind processor, and whether it is a time
    processors: tuple[tuple[int, Callable[[Any], Any], bool], ...]
    #: whether the driver takes parameters by position (qmark, format) or by name
    positional: bool


_PLANS: dict[tuple[Any, ...], _Plan] = {}
_MISSING = object()


def insert_values(
    connection: Connection, table: Table, names: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> None:
    """``INSERT`` every row of ``rows`` (values in the order of the column ``names``) into
    ``table``. Columns that have a Python-side default must be given: nothing here fills them
    in. Rows as tuples, not dicts: a first poll inserts about ten per shipment."""
    if not rows:
        return
    key = ("insert", connection.dialect.name, connection.dialect.driver, table.name, names)
    plan = _PLANS.get(key)
    if plan is None:
        missing = [c.name for c in table.columns if c.default is not None and c.name not in names]
        if missing:
            raise ValueError(f"rows for {table.name} lack the defaulted columns {missing}")
        statement = insert(table).values({name: bindparam(name) for name in names})
        plan = _PLANS[key] = _compile(statement, table, connection.dialect, names)
    _executemany(connection, plan, rows)


def update_values(
    connection: Connection, table: Table, names: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> None:
    """``UPDATE table SET <names> WHERE id = ?`` for every row of ``rows``: the row's id, then
    its values in the order of ``names``."""
    if not rows:
        return
    key = ("update", connection.dialect.name, connection.dialect.driver, table.name, names)
    plan = _PLANS.get(key)
    if plan is None:
        key_name = "_row_id"
        statement = (
            update(table)
            .where(table.c.id == bindparam(key_name, type_=table.c.id.type))
            .values({name: bindparam(name) for name in names})
        )
        plan = _PLANS[key] = _compile(statement, table, connection.dialect, (key_name, *names))
    _executemany(connection, plan, rows)


def _compile(statement: Any, table: Table, dialect: Dialect, given: tuple[str, ...]) -> _Plan:
    """The statement compiled for ``dialect``, fed rows whose values come in ``given``'s order."""
    compiled = statement.compile(dialect=dialect)
    types = {name: bind.type for name, bind in compiled.binds.items()}
    order = list(compiled.positiontup or ()) if compiled.positional else list(types)
    if sorted(order) != sorted(given):
        raise ValueError(f"statement parameters {order} are not the given columns {given}")
    take = None if tuple(order) == given else tuple(given.index(name) for name in order)
    processors: list[tuple[int, Callable[[Any], Any], bool]] = []
    for position, name in enumerate(order):
        column = table.c.get(name)
        column_type = column.type if column is not None else types[name]
        is_time = isinstance(column_type, UTCDateTime)
        processor: Callable[[Any], Any] | None
        if is_time:
            processor = time_processor(dialect)
        else:
            processor = column_type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors.append((position, processor, is_time))
    return _Plan(compiled.string, tuple(order), take, tuple(processors), compiled.positional)


def _executemany(connection: Connection, plan: _Plan, rows: Sequence[Sequence[Any]]) -> None:
    names, take, processors = plan.names, plan.take, plan.processors
    # Rows of one batch share most of their times (the recording's ``now``): each distinct
    # time is converted once. Equal instants convert to the same value.
    times: dict[Any, Any] = {}
    parameters: list[Any] = []
    for row in rows:
        values = list(row) if take is None else [row[i] for i in take]
        for position, process, is_time in processors:
            value = values[position]
            if is_time:
                converted = times.get(value, _MISSING)
                if converted is _MISSING:
                    converted = times[value] = process(value)
                values[position] = converted
            else:
                values[position] = process(value)
        if plan.positional:
            parameters.append(values)
        else:
            parameters.append(dict(zip(names, values, strict=True)))
    # The driver's cursor, in the caller's transaction (SQLAlchemy's session began it).
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(plan.sql, parameters)
    finally:
        cursor.close()


_TIME_PROCESSORS: dict[tuple[str, str], Callable[[datetime | None], Any]] = {}
#: times the SQLite shortcut must write exactly as the column type does before it is used
_PROBES = (
    datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
    datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 7, 4, 2, 5, 7, 1200, tzinfo=timezone(timedelta(hours=-7))),
)


def time_processor(dialect: Dialect) -> Callable[[datetime | None], Any]:
    """How the store's time columns turn an aware datetime into the driver's value: the
    dialect's own implementation of the column type, as SQLAlchemy's statements use it (SQLite
    stores text with microseconds; the generic type would leave that to the driver, which
    writes ``09:00:00`` for ``09:00:00.000000``).

    On SQLite the same text comes from ``isoformat`` at a third of the cost (the hot path binds
    a time per shipment); it is used only after giving the same text as the column type for
    the probe times, so a changed storage format falls back to the type's own processor."""
    key = (dialect.name, dialect.driver)
    known = _TIME_PROCESSORS.get(key)
    if known is not None:
        return known
    processor = Shipment.__table__.c.next_poll_at.type.dialect_impl(dialect).bind_processor(dialect)
    if processor is None:  # pragma: no cover - UTCDateTime always has one
        raise TypeError("the time column has no bind processor")
    if dialect.name == "sqlite" and all(processor(t) == _sqlite_time(t) for t in _PROBES):
        processor = _sqlite_time
    _TIME_PROCESSORS[key] = processor
    return processor


def _sqlite_time(value: datetime | None) -> str | None:
    """An aware time as SQLite stores it: UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    if value is None:
        return None
    if value.tzinfo is UTC:  # most times: the text with its "+00:00" cut off, no naive copy
        return value.isoformat(" ", "microseconds")[:-6]  # (replace() cost a third of this)
    if value.tzinfo is None:  # as UTCDateTime refuses it
        raise ValueError(f"naive datetime {value!r} given to the store; use an aware one")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def fetch_all(connection: Connection, sql: str, parameters: Sequence[Any]) -> list[Any]:
    """The rows of one query run on the driver's cursor, in the caller's transaction, as the
    driver returns them (see :func:`column_reader` for values that need converting)."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, parameters)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def execute_many(connection: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> int:
    """Run ``sql`` once per row on the driver's cursor, in the caller's transaction; returns
    the rows it changed, summed over all (sqlite3 and psycopg both sum an executemany's
    counts, as SQLAlchemy's own ``rowcount`` reports them)."""
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(sql, rows)
        return int(cursor.rowcount)
    finally:
        cursor.close()


def marks(dialect: Dialect, count: int = 1) -> str:
    """``count`` positional parameter marks, comma-separated, in the driver's style."""
    return ", ".join(["?" if dialect.paramstyle == "qmark" else "%s"] * count)


_READERS: dict[tuple[str, str, str, str], Callable[[Any], Any] | None] = {}


def column_reader(dialect: Dialect, column: Any) -> Callable[[Any], Any] | None:
    """How SQLAlchemy turns the driver's value of ``column`` into the Python value (the column
    type's result processor: aware UTC times, JSON documents); None when it is taken as is."""
    key = (dialect.name, dialect.driver, column.table.name, column.key)
    if key not in _READERS:
        reader = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if reader is not None and dialect.name == "sqlite" and isinstance(column.type, UTCDateTime):
            reader = _sqlite_time_reader(reader)
        _READERS[key] = reader
    return _READERS[key]


#: stored texts the SQLite time reader must read as the column type does before it is used
_STORED_PROBES = (
    "2026-03-01 09:00:00.000000",
    "0999-12-31 23:59:59.999999",
    "2026-03-01 09:00:00",
    "2026-03-01 09:00:00.5",
    "2026-03-01",
)


def _sqlite_time_reader(own: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The store's time columns read on SQLite: their text is UTC without an offset, and the
    type's reader parses it and then attaches UTC with ``replace``, which costs seven times the
    parse (827 against 129 ns). ``fromisoformat`` of the text with "+00:00" added gives the same
    aware time at once; any text it cannot read so (one with an offset of its own, a date alone)
    goes to the type's reader. Used only if it reads the probe texts as the type's reader does.
    """
    parse = datetime.fromisoformat

    def read(value: Any) -> Any:
        if type(value) is str:
            try:
                parsed = parse(value + "+00:00")
            except ValueError:
                return own(value)
            if parsed.tzinfo is not None:  # a date alone is read without the offset
                return parsed
        return own(value)

    for probe in _STORED_PROBES:
        expected = own(probe)
        if read(probe) != expected or read(probe).tzinfo != expected.tzinfo:
            return own
    return read
