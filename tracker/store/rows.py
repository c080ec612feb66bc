"""Shipment rows as plain objects for the recording hot path (issue 16).

Recording a batch loaded every leased shipment as an ORM object, set a dozen attributes on each
through the ORM's instrumentation and then took them out of the session again: about a sixth of
a first poll's CPU, for rows that are read once and written once. Here the same columns are read
on the driver through each column type's own result processor (so every value is what the ORM
would hand back) into a slotted object, and written back with the driver's ``executemany``
(``tracker.store.shipments.write_assessed``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from tracker.store.driver import column_reader, fetch_all, marks
from tracker.store.models import Shipment


@dataclass(slots=True, eq=False)
class ShipmentRow:
    """One stored shipment, every column in the table's order, detached from any session."""

    id: int
    tracking_number: str
    carrier: str
    buyer_email: str
    buyer_name: str
    buyer_language: str | None
    destination_country: str
    origin_country: str | None
    order_reference: str
    shipped_at: datetime
    created_at: datetime
    status: str
    detail: str | None
    last_event_at: datetime | None
    delivered_at: datetime | None
    expected_delivery: datetime | None
    expected_delivery_source: str | None
    expected_delivery_given_at: datetime | None
    carrier_holder: str | None
    last_polled_at: datetime | None
    next_poll_at: datetime | None
    unchanged_polls: int
    poll_failures: int
    next_timer_at: datetime | None
    opted_out: bool
    stopped_at: datetime | None
    lease_owner: str | None
    lease_until: datetime | None
    reply_digest: str | None
    #: the values as loaded, in column order: a write finds the columns that were set here
    loaded: tuple[Any, ...] = field(default=(), repr=False)

    def assigned(self) -> list[str]:
        """The columns given another value object since the row was loaded. Identity, not
        equality, as the ORM writes every attribute that was set: a column set to an equal
        new value is written again, one never touched is not."""
        return [
            name
            for name, before, now in zip(COLUMNS, self.loaded, _CURRENT(self), strict=True)
            if now is not before
        ]


#: Shipment's columns, in the table's order (checked against the model when a load is planned)
COLUMNS = tuple(f.name for f in fields(ShipmentRow) if f.name != "loaded")
_CURRENT = attrgetter(*COLUMNS)

#: a stored shipment as the recording reads and changes it: an ORM row where a shop push needs
#: one (shops.push), otherwise a plain one
ShipmentLike = Shipment | ShipmentRow


@dataclass(frozen=True, slots=True)
class _LoadPlan:
    select: str
    #: positions whose driver value goes through the column type's result processor
    readers: tuple[tuple[int, Callable[[Any], Any]], ...]


_LOAD_PLANS: dict[tuple[str, str], _LoadPlan] = {}


def _load_plan(dialect: Dialect) -> _LoadPlan:
    key = (dialect.name, dialect.driver)
    plan = _LOAD_PLANS.get(key)
    if plan is not None:
        return plan
    table = Shipment.__table__
    names = tuple(column.key for column in table.columns)
    if names != COLUMNS:  # a column added to the model must be added to ShipmentRow too
        raise TypeError(f"ShipmentRow's fields {COLUMNS} are not the shipments columns {names}")
    quote = dialect.identifier_preparer.quote
    readers = []
    for position, column in enumerate(table.columns):
        reader = column_reader(dialect, column)
        if reader is not None:
            readers.append((position, reader))
    plan = _LOAD_PLANS[key] = _LoadPlan(
        select=f"SELECT {', '.join(quote(name) for name in names)} FROM shipments",
        readers=tuple(readers),
    )
    return plan


def leased_rows(session: Session, shipment_ids: Sequence[int], owner: str) -> list[ShipmentRow]:
    """``tracker.store.shipments.leased_shipments`` as plain rows: the shipments among
    ``shipment_ids`` whose lease ``owner`` still holds, by id, locked on PostgreSQL so no other
    daemon can change them before this transaction ends."""
    if not shipment_ids:
        return []
    connection = session.connection()
    dialect = connection.dialect
    plan = _load_plan(dialect)
    sql = (
        f"{plan.select} WHERE id IN ({marks(dialect, len(shipment_ids))})"
        f" AND lease_owner = {marks(dialect)} ORDER BY id"
    )
    if dialect.name == "postgresql":
        sql += " FOR UPDATE"
    loaded = []
    for row in fetch_all(connection, sql, (*shipment_ids, owner)):
        values = list(row)
        for position, read in plan.readers:
            value = values[position]
            if value is not None:  # NULL is None for every type; most time columns are NULL
                values[position] = read(value)
        shipment = ShipmentRow(*values)
        shipment.loaded = tuple(values)
        loaded.append(shipment)
    return loaded
