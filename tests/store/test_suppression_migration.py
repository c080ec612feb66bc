"""Upgrading a store keeps earlier opt-outs by email: those addresses join the suppression list."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import select

from tracker.store.db import MIGRATIONS, create_store_engine, migrate
from tracker.store.models import Base, Suppression

SHIPMENTS = Base.metadata.tables["shipments"]
AUDIT = Base.metadata.tables["audit_log"]
AT = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


def _shipment(number: str, email: str, opted_out: bool) -> dict[str, object]:
    return {
        "tracking_number": number,
        "carrier": "sandbox",
        "buyer_email": email,
        "buyer_name": "Ana",
        "destination_country": "BR",
        "order_reference": "O-1",
        "shipped_at": AT,
        "created_at": AT,
        "status": "pending",
        "unchanged_polls": 0,
        "poll_failures": 0,
        "opted_out": opted_out,
    }


def test_earlier_opt_outs_by_email_are_kept_and_by_number_are_not(store_url: str) -> None:
    engine = create_store_engine(store_url)
    try:
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0004_shops")
            ids = [
                connection.execute(
                    SHIPMENTS.insert().values(**_shipment(n, e, o)).returning(SHIPMENTS.c.id)
                ).scalar_one()
                for n, e, o in [
                    ("SBNM00000001", "Ana@Buyers.Example", True),
                    ("SBNM00000002", "bruno@buyers.example", True),
                    ("SBNM00000003", "carla@buyers.example", False),
                ]
            ]
            for shipment_id, by in ((ids[0], "email"), (ids[1], "tracking_number")):
                connection.execute(
                    AUDIT.insert().values(
                        shipment_id=shipment_id,
                        at=AT,
                        kind="shipment.opted_out",
                        carrier="sandbox",
                        data={"by": by, "source": "cli"},
                    )
                )
        migrate(engine)
        with engine.connect() as connection:
            listed = connection.execute(select(Suppression.email, Suppression.source)).all()
        assert listed == [("ana@buyers.example", "email")]
    finally:
        engine.dispose()
